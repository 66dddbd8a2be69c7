# The pump's command API, used from the REPL (`mpremote resume exec "pump.start()"`) and,
# later, by the serial protocol. Pure logic: it is handed a stepper (PIO on the Pico, a
# simulated one in tests), a clock and a place for state that survives a soft or watchdog
# reset, and never touches hardware itself.
#
# Safety rules kept here: stop is never refused; anything that goes wrong after the motor
# was touched ends with the motor halted, EN off and the controller stopped with an alarm.

from binascii import hexlify

from micropython import const

from pump import alarms as alarm_mod
from pump import controller as ctl
from pump import events, logrec, mechanics
from pump import occlusion as occ
from pump import rate as rates
from pump.planner import StepPlanner
from pump.ticks import ticks_add, ticks_diff

# The alarm kinds this module raises (pump.alarms names them).
ALARM_UNDERRUN = alarm_mod.STEP_UNDERRUN
ALARM_LATE = alarm_mod.STEP_LATE
ALARM_EARLY = alarm_mod.STEP_EARLY
ALARM_SOFTWARE = alarm_mod.SOFTWARE_FAULT
ALARM_INTERRUPTED = alarm_mod.DELIVERY_INTERRUPTED
ALARM_OCCLUSION = alarm_mod.OCCLUSION
ALARM_NEAR_EMPTY = alarm_mod.NEAR_EMPTY
ALARM_REMOVED = alarm_mod.SYRINGE_REMOVED
ALARM_SENSOR = alarm_mod.SENSOR_FAULT

# Compliance of syringe plus line by nominal size, nL per mmHg: what the occlusion detector
# expects a trapped volume to do to the pressure (characterise each model on the bench).
COMPLIANCE_NL_PER_MMHG = {10000: 350, 20000: 550, 30000: 750}
NEAR_EMPTY_MIN = 30  # default near-empty warning: 30 min of delivery left
DELIVERED_S = 60  # a DELIVERED record every minute while running (the log's default)
# The service step's periods (Pump.service_ms), written here only: the board's timer, the
# emulator and the watchdog follow them, and a test holds README to them. SERVICE_MS while
# steps come faster than one per SERVICE_MS (the step ring then holds well under a second),
# else SERVICE_SLOW_MS, the load cell's sample period; SERVICE_CALM_MS below 5 steps/s (0.74
# mL/h on a 10 mL syringe: the CSCI rates) and while the motor is off, unless an alarm sounds
# or a bolus runs: at most 2.5 steps (0.1 uL) go by before a check sees a fault. Each step
# then drains about 5 load-cell samples (the HX711's FIFO holds 8), the ring holds a minute
# or more of steps, and the watchdog (boardapp.WATCHDOG_MS) sees 4 steps (the board runs a
# step that a command held off again 10 ms later: boardapp).
SERVICE_MS = const(20)
SERVICE_SLOW_MS = const(100)
SERVICE_CALM_MS = const(500)
_FAST_STEPS_H = const(3600000 // SERVICE_MS)  # one step per SERVICE_MS: 50 steps/s
_CALM_STEPS_H = const(18000)  # 5 steps/s: 2.5 per SERVICE_CALM_MS
_LOG_SERVICE_US = 1000000
# After an occlusion alarm the plunger draws back the volume the detector says is trapped, so
# the line holds no pressure when it opens (the T34's back-off): at 1,000 steps/s, capped.
_BACKOFF_US = 1000
_BACKOFF_MAX_NL = 50000
_CAUSES = {"a soft reset": events.CAUSE_SOFT, "a watchdog reset": events.CAUSE_WATCHDOG}

# State codes kept across resets (see Pump.__init__ and drivers/retained.py).
_CODES = {ctl.IDLE: 1, ctl.RUNNING: 2, ctl.PAUSED: 3, ctl.STOPPED: 4, ctl.COMPLETE: 5}
_INTERRUPTIBLE = (2, 3)


SERIAL_MAX = 12  # characters: a pulled log's header has room for 12 (pump/LOG-FORMAT.md)


def check_serial(s):
    """A pump serial: 1-12 characters, ASCII letters, digits, '.', '_' or '-'; else
    ValueError. Returns it."""
    if not isinstance(s, str) or not 1 <= len(s) <= SERIAL_MAX:
        raise ValueError("a pump serial is 1 to %d characters" % SERIAL_MAX)
    for c in s:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-"):
            raise ValueError("a pump serial has only letters, digits, '.', '_' and '-'")
    return s


def _ul_str(nl_num, nl_den):
    ul1000 = nl_num // nl_den  # whole nL
    return "%d.%03d" % (ul1000 // 1000, ul1000 % 1000)


_RUNNING_CODES = (events.START, events.RESUME, events.DELIVERED)
_ENDED_CODES = (events.STOP, events.COMPLETE, events.BOOT, events.LOAD)
_LOOK_BACK = 48  # records: a running pump writes DELIVERED every minute


def _cut_program(log):
    """From the flash log's newest records: ("running" | "paused", steps, nL) if a program
    was in force when the board lost power, else None (the in-RAM log has no past)."""
    read = getattr(log, "read", None)
    if read is None:
        return None
    n = log.count
    page = read(n - _LOOK_BACK if n > _LOOK_BACK else 0, _LOOK_BACK)
    state, steps, nl, counted = None, 0, 0, False
    off = len(page) - logrec.ENTRY
    while off >= 0:  # newest first
        seq = int.from_bytes(page[off : off + 4], "little")
        rec = page[off + 4 : off + logrec.ENTRY]
        off -= logrec.ENTRY
        if not logrec.check(rec, seq):
            continue
        code, _, a, b = logrec.unpack(rec)
        if code == events.DELIVERED and not counted:  # cumulative: the newest says most
            nl, steps, counted = a, b, True
        if code in _ENDED_CODES:
            return None if state is None else (state, steps, nl)
        if state is None and code in _RUNNING_CODES:
            state = "running"
        elif state is None and code == events.PAUSE:
            state = "paused"
    return None if state is None else (state, steps, nl)


def _command(fn):
    # On the board the service step is a scheduled callback (a soft timer): it may run at any
    # jump inside a command typed at the REPL or sent by the protocol, e.g. between taking a
    # batch from the plan and queuing it. So while a command runs, the service step waits for
    # its next period (and does not feed the watchdog): the two never interleave.
    def command(self, *args, **kw):
        self._busy += 1
        try:
            return fn(self, *args, **kw)
        finally:
            self._busy -= 1

    return command


class Pump:
    program = None  # a pump.program.Runner once programs are in use: its service step

    def __init__(
        self,
        mech,
        stepper,
        clock,
        retained=None,
        cause="power_on",
        log=None,
        sensors=None,
        ceiling="medium",
        near_empty_min=NEAR_EMPTY_MIN,
        delivered_s=DELIVERED_S,
        serial="",
        uid=b"",
    ):
        # Who this pump is, for its pulled logs (ident()): the serial it was given (the
        # protocol's config.set keeps it on flash; the emulator's scenario names one) and the
        # board's unique id (machine.unique_id(); all zeros, as on the virtual Pico: none).
        self.serial = check_serial(serial) if serial else ""
        self.uid = bytes(uid) if any(uid) else b""
        self._busy = 0  # commands running (see _command); the service step waits meanwhile
        self.stepped = False  # a command (status) ran the step cleanly since the last service
        self._drive = mechanics.Drive(
            mech["lead_um"], mech["full_steps_per_rev"], mech["microsteps"]
        )
        self._stepper = stepper
        self._clock = clock
        self._retained = retained
        # The load cell and syringe switch, or None (a pump without them: no occlusion or
        # removal detection). take() -> the next force sample in mN or None; fault: 0 ok,
        # 1 no data (open), 2 saturated; present() -> the syringe switch.
        self._sensors = sensors
        self._in_flight = getattr(stepper, "in_flight", None)  # steps out, not yet counted
        self._ceiling = ceiling
        self._near_min = near_empty_min
        self._near_steps = -1  # steps left at which near-empty warns; -1: not running
        self._backing = False  # the motor is drawing the plunger back (see _back_off)
        self._back_left = 0  # steps of the back-off not yet counted
        self._back_steps = 0  # steps of the back-off counted so far
        self.backed_nl = 0  # drawn back from this syringe after occlusions (status)
        self._saved_state, self._saved_n = None, -1  # last written: write on changes only
        self.log = log if log is not None else events.EventLog()  # kept across syringes
        # The flash log (pump.logring) keeps its own housekeeping in the service step, and
        # a DELIVERED record goes in every delivered_s while running; the in-RAM one has
        # neither.
        self._log_service = getattr(self.log, "service", None)
        self._delivered_us = delivered_s * 1000000
        self._delivered_due = 0  # tick of the next DELIVERED record while running
        self._log_due = clock()  # tick of the log's next upkeep
        self._alarms = alarm_mod.AlarmManager(self.log)
        self._on_period = None  # see follow_period
        self._period = SERVICE_MS
        before = retained.read() if retained is not None else None
        stepper.enable(False)  # whatever a reset left on the pins: no holding torque, no steps
        interrupted = before is not None and before[0] in _INTERRUPTIBLE
        cut = None if before is not None else _cut_program(self.log)
        steps = before[1] if interrupted else (cut[1] if cut else -1)
        self.log.add(clock(), events.BOOT, _CAUSES.get(cause, events.CAUSE_POWER_ON), steps)
        # No syringe after any reset until someone loads one (load()): nothing is known of
        # what sits in the pump, so it refuses a rate and a start, and logs no LOAD.
        self._set_syringe(None, 0, None)
        if interrupted:
            self._interrupted(before, cause)
        elif cut is not None:
            # A power cut (nothing retained in RAM or the scratch registers): the flash
            # log says a program was running or paused. Not a silent stop either.
            self._ctl.fault(self._clock(), ALARM_INTERRUPTED)
            self._alarm_text(
                ALARM_INTERRUPTED,
                "delivery interrupted by a power cut while %s, after at least %s uL "
                "(%d steps, the log's last count); load and program again to continue"
                % (cut[0], _ul_str(cut[2], 1), cut[1]),
            )
        self._save()  # what the scratch registers said is reported: they say idle now

    def _interrupted(self, before, cause):
        # IEC 60601-2-24: no automatic restart after an interruption; the program is gone,
        # so the user must load and program again (which clears the alarm).
        _, steps, vol_num, vol_den = before
        self._ctl.fault(self._clock(), ALARM_INTERRUPTED)
        self._alarm_text(
            ALARM_INTERRUPTED,
            "delivery interrupted by %s after at least %s uL (%d steps); load and program "
            "again to continue" % (cause, _ul_str(steps * vol_num, vol_den), steps),
        )
        self._save()

    # --- commands ---

    @_command
    def load(self, syringe_id, fill_ml):
        """A new syringe: allowed before the first start or after stop/complete. Clears the
        alarms of the previous syringe. After any reset there is none until this."""
        if self._ctl.state in (ctl.RUNNING, ctl.PAUSED):
            raise ctl.TransitionError("cannot load a syringe while %s" % self._ctl.state)
        syr = mechanics.Syringe(syringe_id)
        num, den = rates.parse_decimal(fill_ml, "fill in mL", "5")
        fill_nl = num * 1000000 // den
        if not 0 < fill_nl <= syr.usable_ul * 1000:
            raise ValueError("fill must be above 0 and at most %d uL" % syr.usable_ul)
        vol = mechanics.nl_per_step(syr, self._drive)
        self._set_syringe(syr, fill_nl, vol)
        self._alarms.clear(self._clock())  # a new syringe and program: what had to happen
        if self._retained is not None:
            self._retained.load(vol[0], vol[1])
        self.log.add(self._clock(), events.LOAD, events.SYRINGES.get(syringe_id, 0), fill_nl)
        self._save()

    def _set_syringe(self, syr, fill_nl, vol):
        """A fresh controller for syringe `syr` holding fill_nl (None: no syringe)."""
        cap = 0 if syr is None else mechanics.steps_for_nl(fill_nl, vol)
        self._ctl = ctl.Controller(vol, cap, self.log)
        self._mirrored = 0  # how many of this controller's alarms the manager has
        self.syringe = syr
        self.fill_nl = fill_nl
        self.backed_nl = 0
        self._detector = None
        if self._sensors is not None and syr is not None:
            self._detector = occ.OcclusionDetector(
                vol,
                syr.nl_per_mm,
                COMPLIANCE_NL_PER_MMHG.get(syr.nominal_ul, 35 * syr.nominal_ul // 1000),
                self._ceiling,
            )
        self._reported = self._stepper.steps_done  # the driver's count runs on across loads

    @_command
    def rate(self, ml_per_h):
        """Set the rate in mL/h, given as a decimal string: pump.rate('0.136')."""
        self._set(rates.from_ml_per_h(*rates.parse_decimal(ml_per_h)))

    @_command
    def dose(self, ug_per_24h, ug_per_ml):
        """Set a dose: pump.dose(1632, 500) is 1,632 ug/24 h at 500 ug/mL."""
        r = rates.from_dose(ug_per_24h, ug_per_ml)  # refused here: nothing logged
        self._ctl.check_rate(r)  # or here (no syringe, a stopped pump): nothing logged
        self.log.add(self._clock(), events.PROGRAM, ug_per_24h, ug_per_ml)
        self._set(r)

    @_command
    def set_clock(self, utc_s):
        """Set the device's UTC clock (Unix seconds): logged as from/to; records keep UTC."""
        if not isinstance(utc_s, int) or utc_s < 1577836800:
            raise ValueError("give UTC as whole Unix seconds, 2020 or later")
        set_utc = getattr(self.log, "set_utc", None)
        if set_utc is None:
            raise ValueError("this pump keeps no flash log to date")
        set_utc(utc_s)

    @_command
    def log_read(self, seq, n=32):
        """Up to n log records from sequence number seq on, as the log stores them (20-byte
        entries); ask again from the last seq + 1: resumable and idempotent."""
        return self.log.read(seq, n)

    @_command
    def set_rate_nl_h(self, num, den=1):
        """Set the rate as an exact fraction of nL/h (the host tools' exact rates)."""
        self._set(rates.from_ml_per_h(num, den * 1000000))

    @property
    def state(self):
        return self._ctl.state

    @property
    def program_rate(self):
        """The programmed rate as an exact (num, den) nL/h, or None."""
        return self._ctl.rate

    def _set(self, r):
        c = self._ctl
        if c.state != ctl.RUNNING:
            c.set_rate(r, self._clock())
            self._save()
            return
        StepPlanner(c.vol).start_segment(r[0], r[1])  # refuse before touching the motor
        now = self._halt(keep_enabled=True)
        try:
            c.set_rate(r, now)
            self._go(now)
        finally:
            self._settle()

    @_command
    def start(self):
        """Start delivering at the set rate. Refused (TransitionError, nothing changed) unless
        idle with a syringe loaded and a rate set."""
        c = self._ctl
        now = self._clock()
        c.start(now)  # a refusal raises here, before the motor is touched
        try:
            self._go(now)
        finally:
            self._settle()
        self._begun()

    @_command
    def pause(self):
        """Halt the motor and keep the program; the PAUSE record holds the steps delivered,
        exact. A bolus under way ends here. Refused unless running."""
        c = self._ctl
        if c.state != ctl.RUNNING:
            c.pause(self._clock())  # refused: says why
        try:
            c.pause(self._halt())
        finally:
            self._settle()

    @_command
    def resume(self):
        """Go on after a pause at the program's rate; clears an occlusion alarm. Refused
        unless paused, and after an occlusion until its alarm is acknowledged (ack())."""
        now = self._clock()
        for a in self._alarms.active():
            if a.kind == ALARM_OCCLUSION and not a.acknowledged:
                raise ctl.TransitionError("acknowledge the occlusion alarm first")
        self._ctl.resume(now)
        self._alarms.clear(now, ALARM_OCCLUSION)  # the user cleared the line
        try:
            self._go(now)
        finally:
            self._settle()
        self._begun()

    def _begun(self):
        # Delivery of the program in force begins or goes on (a start, a resume): its
        # schedule's clock starts here if it has not yet (pump.runner.Runner.started).
        p = self.program
        if p is not None:
            p.started(self._clock())

    @_command
    def stop(self):
        """Never refused: the motor stops and EN goes off whatever state the pump is in."""
        self._off_then(self._ctl.stop)
        self._cadence()

    @_command
    def status(self):
        """The pump now, after a service step: state, rate, syringe, steps and volume
        delivered (to the step), what is left, active alarms; keys in pump/PROTOCOL.md."""
        c = self._ctl
        self._step()
        steps = self._issued()
        nl = (steps * c.vol[0], c.vol[1])
        syr = self.syringe
        return {
            "state": c.state,
            "rate_ml_h": rates.ml_per_h_str(*c.rate) if c.rate else None,
            "syringe": syr.id if syr is not None else None,  # None: load one before a start
            "steps": steps,  # to the step: the executor's entry under way included
            "delivered_ul": _ul_str(*nl),
            "remaining_ul": _ul_str(self.fill_nl * nl[1] - nl[0], nl[1]) if syr else None,
            "alarms": [a.kind for a in self._alarms.active()],
            "alarm_text": {a.kind: a.text for a in self._alarms.active() if a.text},
            "log_records": self.log.count,
            "time_remaining_s": self.time_remaining_s() if c.state == ctl.RUNNING else None,
            "backoff_ul": _ul_str(self.backed_nl, 1),
        }

    def ident(self):
        """Who this pump is: its serial ("" until one is set) and the board's unique id in hex
        ("" where the board has none). A pulled log carries both (pump/LOG-FORMAT.md)."""
        return {"serial": self.serial, "uid": hexlify(self.uid).decode()}

    def alarms(self):
        """Active and recently cleared alarms, oldest first, with priority and what must
        happen before delivery can restart."""
        return [a.as_dict() for a in self._alarms.history]

    @_command
    def ack(self):
        """Acknowledge the active alarms: they stay until cleared, but stop sounding."""
        return self._alarms.acknowledge(self._clock())

    @_command
    def silence(self):
        """Silence the sounding alarms for 2 minutes (IEC 60601-2-24: at most 2 min)."""
        self._alarms.silence(self._clock())

    def sounding(self):
        """Priority the buzzer and LED show now: 3 high, 2 medium, 1 low, 0 quiet."""
        return self._alarms.sounding(self._clock())

    # --- programs (pump.program.Runner drives these) ---

    def boost(self, r, span_us):
        """Run at rate r (nL/h fraction: the program rate plus a bolus rate) for exactly
        span_us (below 2**29) from the executor's restart, then hold the motor until
        unboost(). Returns the tick the boost started at."""
        c = self._ctl
        if c.state != ctl.RUNNING:
            raise ctl.TransitionError("cannot give a bolus while %s" % c.state)
        StepPlanner(c.vol).start_segment(r[0], r[1])  # refuse before touching the motor
        now = self._halt(keep_enabled=True)
        try:
            c.boost(r, now, span_us)
            self._go(now)
        finally:
            self._settle()
        self._cadence()
        return c.zero

    def unboost(self, r=None):
        """End a boost at its exact end and go on at r (default: the program rate, with a
        change boost_then gave)."""
        c = self._ctl
        now = self._halt(keep_enabled=True)
        try:
            c.unboost(r, now)
            self._go(now)
        finally:
            self._settle()

    def boost_then(self, r):
        """During a boost: the program rate becomes r once the boost ends, at its end or
        cut short by a pause (the motor is not touched; see Controller.boost_then)."""
        self._ctl.boost_then(r)

    def finish(self, r=None):
        """The VTBI is delivered: go on at r (KVO), or stop (r None) with no alarm."""
        c = self._ctl
        now = self._halt(keep_enabled=r is not None)
        try:
            c.finish(now, r)
            if r is not None:
                self._go(now)
        finally:
            self._settle()

    # --- safety ---

    def service_ms(self):
        """The period (ms) the service step needs now: SERVICE_MS while running faster than
        50 steps/s, SERVICE_SLOW_MS from 5 steps/s, during a bolus and while an alarm
        sounds, SERVICE_CALM_MS otherwise (below 5 steps/s; idle, paused, stopped). Asked
        when a command starts, changes or stops the motor (see follow_period): an alarm the
        service step raises, or the end of a bolus, keeps the period until the next one."""
        c = self._ctl
        calm = not self._alarms.sounding(self._clock()) and not c.boosting()
        if c.state != ctl.RUNNING or c.rate is None:
            return SERVICE_CALM_MS if calm else SERVICE_SLOW_MS
        (rn, rd), (vn, vd) = c.rate, c.vol  # nL/h and nL/step, as fractions
        steps_h = rn * vd  # steps/h x rd x vn; foreground only: big ints are fine here
        if steps_h > _FAST_STEPS_H * rd * vn:
            return SERVICE_MS
        if calm and steps_h < _CALM_STEPS_H * rd * vn:
            return SERVICE_CALM_MS
        return SERVICE_SLOW_MS

    def follow_period(self, hook):
        """hook(ms) is called now and whenever a command changes the period the service step
        needs (service_ms); the board (re)arms its timer with it. Never from the service
        step itself: a stop it makes keeps the period until the next command."""
        self._on_period = hook
        self._period = -1
        self._cadence()

    def _cadence(self):
        ms = self.service_ms()
        if ms == self._period or self._on_period is None:
            return
        try:
            self._on_period(ms)
        except Exception as e:  # noqa: BLE001 - a pump on the wrong cadence must not run
            self._fail(ALARM_SOFTWARE, "service period not set: %s" % e)
            raise
        self._period = ms

    def _settle(self):
        """After a command that touched the motor: if it did not leave the pump running
        (a fault, an exception), the motor is halted and EN is off."""
        c, st = self._ctl, self._stepper
        if c.state == ctl.RUNNING and st.running:
            self._save()
            self._cadence()
            return
        if c.state == ctl.RUNNING:
            self._fail(ALARM_SOFTWARE)  # running on paper, not on the motor
            return
        if not self._backing:  # a back-off goes on: the service step ends it
            if st.running:
                st.halt()
            st.enable(False)
        self._save()
        self._cadence()

    def _fail(self, alarm, text=None):
        """Motor off and EN off first, then the controller stopped with `alarm`."""
        self._off_then(self._ctl.fault, alarm)
        if text:
            self._alarm_text(alarm, text)

    def _off_then(self, action, *args):
        """Halt the motor and turn EN off, then `action(now, *args)` on the controller: even
        if the driver raised, the controller ends stopped."""
        now = self._clock()
        try:
            if self._stepper.running:
                now = self._halt()
        finally:
            self._stepper.enable(False)
            action(now, *args)
            self._save()

    def _alarm_text(self, kind, text):
        self._alarms.raise_(self._clock(), kind, text)

    def _save(self):
        c = self._ctl
        if len(c.alarms) != self._mirrored:  # new alarms from the controller: latch them
            now = self._clock()
            for kind in c.alarms[self._mirrored :]:
                self._alarms.raise_(now, kind)
                if kind == ctl.ALARM_EMPTY:  # the warning has come true
                    self._alarms.clear(now, ALARM_NEAR_EMPTY)
            self._mirrored = len(c.alarms)
        r = self._retained
        if r is None:
            return
        n = self._issued()
        # Compared field by field: a tuple would allocate, and the service step must not.
        if c.state != self._saved_state or n != self._saved_n:
            self._saved_state, self._saved_n = c.state, n
            r.save(_CODES[c.state], n)

    def _issued(self):
        """Steps delivered from this syringe, to the step: the controller's count (the
        executor counts whole entries or batches: 64 steps, over a minute at CSCI rates)
        plus the steps of the one under way. Never allocates."""
        c, st = self._ctl, self._stepper
        if self._in_flight is None or self._backing or not st.running or c.state != ctl.RUNNING:
            return c.delivered
        now = self._clock()
        while True:  # the IRQ may count an entry between the reads: then read again
            n = st.steps_done
            k = self._in_flight(now)
            if n == st.steps_done:
                return c.delivered + n - self._reported + k

    # --- the step pipeline ---

    def _go(self, now):
        c = self._ctl
        if self._backing:  # a resume cuts the back-off short: it is counted, then forward
            self._halt()
        self._fill()
        # Before the motor runs: the service step (a timer) may run at any line from here.
        self._delivered_due = ticks_add(now, self._delivered_us)
        if self._detector is not None:
            self._detector.reset(c.delivered)
        # Near-empty: the steps in near_empty_min minutes at this rate (exact, rounded up).
        num, den = c.rate
        m = self._near_min * 60 * num * c.vol[1]
        d = 3600 * den * c.vol[0]
        self._near_steps = (m + d - 1) // d
        c.anchor(self._stepper.start())

    def _halt(self, keep_enabled=False):
        now = self._stepper.halt(keep_enabled)
        self._sync()
        if self._backing:
            self._backed_off(now)
        return now

    def _sync(self):
        st = self._stepper
        while True:  # the IRQ may update the pair between the two reads
            n = st.steps_done
            t = st.last_tick
            if n == st.steps_done:
                break
        if n != self._reported:
            if self._backing:  # steps back: the plunger's position goes down, not up
                self._ctl.backed(n - self._reported)
                self._back_left -= n - self._reported
                self._back_steps += n - self._reported
            else:
                self._ctl.executed(n - self._reported, t)
            self._reported = n

    def _fill(self):
        c, st = self._ctl, self._stepper
        while st.room() >= 2:
            b = c.next_batch()
            if b is None:
                break
            st.queue(b[0], b[1])
        st.feed()

    def service(self):
        """Run often (a soft timer, every service_ms()): report executed steps, check the
        executor kept to the plan, keep the ring full. Returns True when the step ran cleanly (the
        board feeds its watchdog then); an exception stops the motor, raises the
        software_fault alarm and returns False. While a command runs (the timer came in
        the middle of it) it does nothing and runs at the next period; it returns True then
        only if a command ran the step cleanly since the last service (status() does: a
        host polling status in a loop holds off every service step, not the step itself)."""
        if self._busy:
            ok = self.stepped
            self.stepped = False
            return ok
        self._busy = 1
        try:
            ok = self._step()
            self.stepped = False
            return ok
        finally:
            self._busy = 0

    def _step(self):
        try:
            self._service()
            self._housekeeping(self._ctl)
            p = self.program
            if p is not None:
                p.service(self._clock())
        except Exception as e:  # noqa: BLE001 - any bug here must end in a safe stop
            self._fail(ALARM_SOFTWARE, "service step raised %s: %s" % (type(e).__name__, e))
            return False
        self.stepped = True
        return True

    def _service(self):
        c, st = self._ctl, self._stepper
        if not st.running:
            return
        self._sync()
        if self._backing:
            if self._back_left <= 0 or st.starved:
                self._halt()
                self._save()
            return
        if c.state != ctl.RUNNING:
            st.halt()  # complete: the syringe is empty
            st.enable(False)
            self._save()
            return
        if c.held():
            self._halt(keep_enabled=True)  # a bolus or the VTBI is out: pump.program acts
            return
        if st.starved:
            # The ring ran dry: later steps would come late. Safety first: stop and alarm.
            self._fail(ALARM_UNDERRUN)
            return
        if st.late:
            # The executor could not issue a step on time (on the Pico: the PIO stalled on
            # an empty FIFO, e.g. while flash was being written with interrupts off).
            self._fail(ALARM_LATE)
            return
        if ticks_diff(st.last_tick, self._clock()) > 0:
            # The executor claims steps whose planned time has not come: its clock is fast.
            self._fail(ALARM_EARLY)
            return
        if self._watch(c):
            return
        self._fill()
        self._save()

    def _housekeeping(self, c):
        """The log's share of the service step: a DELIVERED record when due, the flash
        log's own upkeep. A record that cannot be written now (no memory: the heap is
        locked) is written at a later step."""
        now = self._clock()
        try:
            # The due time first: it is not yet due at all but one step a minute. (While the
            # motor is off the due time is stale, and the state says no.)
            if (
                ticks_diff(now, self._delivered_due) >= 0
                and c.state == ctl.RUNNING
                and self._stepper.running
            ):
                vn, vd = c.vol
                n = self._issued()  # to the step, not to the executor's last whole entry
                q, r = divmod(n, vd)  # nL without ints beyond 31 bits
                self.log.add(now, events.DELIVERED, q * vn + r * vn // vd, n)
                self._delivered_due = ticks_add(self._delivered_due, self._delivered_us)
            # The log's upkeep (uptime, leftovers, erase-ahead) once a second is plenty, and
            # it costs more than the rest of an idle service step.
            if self._log_service is not None and ticks_diff(now, self._log_due) >= 0:
                self._log_due = ticks_add(now, _LOG_SERVICE_US)
                self._log_service(now)
        except MemoryError:
            pass

    def _watch(self, c):
        """Near-empty, syringe removal, the load cell and occlusion, while running. True if
        it stopped the motor."""
        if c.capacity - c.delivered <= self._near_steps:
            self._near_steps = -1  # once per program
            self._alarms.raise_(self._clock(), ALARM_NEAR_EMPTY, self._remaining_text())
        s = self._sensors
        if s is None:
            return False
        if not s.present():
            self._fail(ALARM_REMOVED, "syringe removed while running")
            return True
        while True:
            force = s.take()
            if s.fault:
                why = "no data from the load cell" if s.fault == 1 else "load cell saturated"
                self._fail(ALARM_SENSOR, why)
                return True
            if force is None:
                return False
            # where the plunger is now, to a step: the executor counts whole batches
            found = self._detector.feed(force, self._issued())
            if found:
                self._occluded(c, found)
                return True

    def _occluded(self, c, found):
        d = self._detector
        left_nl = (c.capacity - c.delivered) * c.vol[0] // c.vol[1]
        if left_nl * 10 < self.fill_nl:
            # The stopper bottoming out at the end of the barrel: empty, not an occlusion.
            self._fail(ctl.ALARM_EMPTY, "the stopper reached the end of the syringe")
            return
        what = "rate of rise" if found == occ.OCCLUSION else "pressure ceiling"
        self._off_then(c.pause)  # paused: delivery restarts once the line is clear
        self._alarms.raise_(
            self._clock(),
            ALARM_OCCLUSION,
            "occlusion (%s): force up %d mN; clear the line, acknowledge, resume"
            % (what, d.excess_mn),
        )
        self._back_off(c, d.relief_nl())

    def _back_off(self, c, nl):
        """Draw the plunger back by `nl` (rounded down to steps, capped) on the halted
        motor: the service step ends it when its steps are out; any command that moves or
        stops the motor ends it early. Counted and logged either way (_backed_off)."""
        vn, vd = c.vol
        if nl > _BACKOFF_MAX_NL:
            nl = _BACKOFF_MAX_NL
        n = nl * vd // vn
        if n <= 0 or c.delivered <= 0:
            return
        if n > c.delivered:
            n = c.delivered
        st = self._stepper
        st.queue(n, _BACKOFF_US)
        self._back_left, self._back_steps = n, 0
        self._backing = True
        st.start(reverse=True)

    def _backed_off(self, now):
        self._backing = False
        self._stepper.enable(False)
        c = self._ctl
        nl = self._back_steps * c.vol[0] // c.vol[1]
        self.backed_nl += nl
        self.log.add(now, events.BACKOFF, nl, c.delivered)

    def _remaining_text(self):
        return "%d min of delivery left" % (self.time_remaining_s() // 60)

    def time_remaining_s(self):
        """Seconds until the syringe is empty at the programmed rate (exact, rounded down);
        None without a rate."""
        c = self._ctl
        if not c.rate:
            return None
        left_nl_num = (c.capacity - self._issued()) * c.vol[0]
        # seconds = left nL * 3600 / (rate num / rate den)
        return left_nl_num * 3600 * c.rate[1] // (c.vol[1] * c.rate[0])
