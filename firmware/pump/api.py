# The pump's command API, used from the REPL (`mpremote resume exec "pump.start()"`) and by
# the serial protocol. Pure logic: it is handed a stepper (PIO on the Pico, a simulated one
# in tests), a clock and a place for state that survives a soft or watchdog reset, and never
# touches hardware itself.
#
# Pump is a facade over parts with one job each: pump.motion (alone owns the stepper, and
# keeps the stop invariant: anything that goes wrong after the motor was touched ends with
# the motor halted, EN off and the controller stopped with an alarm; stop is never refused),
# pump.supervision (checks that return an alarm or nothing), pump.recovery (what a reset or
# a power cut left, at boot), pump.upkeep (the log's share of the service step) and
# pump.alarms (the latched alarms).

from binascii import hexlify

from micropython import const

from pump import alarms as alarm_mod
from pump import controller as ctl
from pump import events, mechanics, recovery, signals
from pump import occlusion as occ
from pump import rate as rates
from pump import supervision as sv
from pump.motion import Motion
from pump.planner import StepPlanner
from pump.supervision import sensors as sensor_alarm
from pump.upkeep import LogUpkeep

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
        # A pump.runner.Runner once programs are in use (it sets itself here): its service
        # step. An instance attribute: the service step reads it, and MicroPython finds a
        # class attribute only after missing the instance's (a tenth of an idle step).
        self.program = None
        self.signal = None  # a pump.signals.Annunciator once a buzzer and LED are attached
        # A pump.power.PumpPower once the supply is known (pump/app.py sets it): the gauge
        # and the battery alarms, serviced at the end of each service step.
        self.power = None
        self._busy = 0  # commands running (see _command); the service step waits meanwhile
        self.stepped = False  # a command (status) ran the step cleanly since the last service
        self._drive = mechanics.Drive(
            mech["lead_um"], mech["full_steps_per_rev"], mech["microsteps"]
        )
        self._clock = clock
        self._retained = retained
        # The load cell and syringe switch, or None (a pump without them: no occlusion or
        # removal detection). take() -> the next force sample in mN or None; fault: 0 ok,
        # 1 no data (open), 2 saturated; present() -> the syringe switch.
        self._sensors = sensors
        self._ceiling = ceiling
        self._near_min = near_empty_min
        self._near_steps = -1  # steps left at which near-empty warns; -1: not running
        self._saved_state, self._saved_n = None, -1  # last written: write on changes only
        self.log = log if log is not None else events.EventLog()  # kept across syringes
        self._upkeep = LogUpkeep(self.log, delivered_s, clock())
        self._alarms = alarm_mod.AlarmManager(self.log)
        self._on_period = None  # see follow_period
        self._period = SERVICE_MS
        self._motion = Motion(stepper, clock, self.log, self._save)
        text = recovery.boot(retained, self.log, cause, clock())
        # No syringe after any reset until someone loads one (load()): nothing is known of
        # what sits in the pump, so it refuses a rate and a start, and logs no LOAD.
        self._set_syringe(None, 0, None)
        if text is not None:
            # IEC 60601-2-24: no automatic restart after an interruption; the program is
            # gone, so the user must load and program again (which clears the alarm).
            self._motion.ctl.fault(self._clock(), ALARM_INTERRUPTED)
            self._alarm_text(ALARM_INTERRUPTED, text)
        self._save()  # what the scratch registers said is reported: they say idle now

    # --- read-only views ---

    @property
    def state(self):
        return self._motion.ctl.state

    @property
    def program_rate(self):
        """The programmed rate as an exact (num, den) nL/h, or None."""
        return self._motion.ctl.rate

    @property
    def controller(self):
        """The infusion state machine of the loaded syringe (pump.controller.Controller; a
        new one on every load), to read: state, rate, vol (nL per step), capacity,
        delivered, target, boosting(), held(). Commands go through the pump, which keeps
        the motor in step with it."""
        return self._motion.ctl

    @property
    def backed_nl(self):
        """nL drawn back from this syringe after occlusions (status' backoff_ul)."""
        return self._motion.backed_nl

    @property
    def detector(self):
        """The occlusion detector of the loaded syringe (pump.occlusion), to read; None
        without a load cell or a syringe."""
        return self._detector

    def now(self):
        """The pump's clock now (ticks, us)."""
        return self._clock()

    def active_alarms(self):
        """The active alarms (pump.alarms.Alarm: kind, text, priority, acknowledged), oldest
        first."""
        return self._alarms.active()

    def alarm_history(self):
        """Active and recently cleared alarms as pump.alarms.Alarm objects (the same object
        for as long as the alarm is kept), oldest first; alarms() gives them as dicts."""
        return self._alarms.history

    # --- commands ---

    @_command
    def load(self, syringe_id, fill_ml):
        """A new syringe: allowed before the first start or after stop/complete. Clears the
        alarms of the previous syringe. After any reset there is none until this."""
        if self._motion.ctl.state in (ctl.RUNNING, ctl.PAUSED):
            raise ctl.TransitionError("cannot load a syringe while %s" % self._motion.ctl.state)
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
        self._motion.load(vol, cap)
        self._mirrored = 0  # how many of this controller's alarms the manager has
        self.syringe = syr
        self.fill_nl = fill_nl
        self._detector = None
        if self._sensors is not None and syr is not None:
            self._detector = occ.OcclusionDetector(
                vol,
                syr.nl_per_mm,
                COMPLIANCE_NL_PER_MMHG.get(syr.nominal_ul, 35 * syr.nominal_ul // 1000),
                self._ceiling,
            )

    @_command
    def rate(self, ml_per_h):
        """Set the rate in mL/h, given as a decimal string: pump.rate('0.136')."""
        self._set(rates.from_ml_per_h(*rates.parse_decimal(ml_per_h)))

    @_command
    def dose(self, ug_per_24h, ug_per_ml):
        """Set a dose: pump.dose(1632, 500) is 1,632 ug/24 h at 500 ug/mL."""
        r = rates.from_dose(ug_per_24h, ug_per_ml)  # refused here: nothing logged
        self._motion.ctl.check_rate(r)  # or here (no syringe, a stopped pump): nothing logged
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

    def _set(self, r):
        m = self._motion
        c = m.ctl
        if c.state != ctl.RUNNING:
            c.set_rate(r, self._clock())
            self._save()
            return
        StepPlanner(c.vol).start_segment(r[0], r[1])  # refuse before touching the motor
        now = m.halt(keep_enabled=True)
        try:
            c.set_rate(r, now)
            self._go(now)
        finally:
            self._settle()

    @_command
    def start(self):
        """Start delivering at the set rate. Refused (TransitionError, nothing changed) unless
        idle with a syringe loaded and a rate set."""
        now = self._clock()
        self._motion.ctl.start(now)  # a refusal raises here, before the motor is touched
        try:
            self._go(now)
        finally:
            self._settle()
        self._begun()

    @_command
    def pause(self):
        """Halt the motor and keep the program; the PAUSE record holds the steps delivered,
        exact. A bolus under way ends here. Refused unless running."""
        m = self._motion
        c = m.ctl
        if c.state != ctl.RUNNING:
            c.pause(self._clock())  # refused: says why
        try:
            c.pause(m.halt())
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
        self._motion.ctl.resume(now)
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
        self._motion.off_then(self._motion.ctl.stop)
        self._cadence()

    @_command
    def status(self):
        """The pump now, after a service step: state, rate, syringe, steps and volume
        delivered (to the step), what is left, active alarms; keys in pump/PROTOCOL.md."""
        c = self._motion.ctl
        self._step()
        steps = self._motion.issued()
        nl = (steps * c.vol[0], c.vol[1])
        syr = self.syringe
        ul_str = recovery.ul_str
        return {
            "state": c.state,
            "rate_ml_h": rates.ml_per_h_str(*c.rate) if c.rate else None,
            "syringe": syr.id if syr is not None else None,  # None: load one before a start
            "steps": steps,  # to the step: the executor's entry under way included
            "delivered_ul": ul_str(*nl),
            "remaining_ul": ul_str(self.fill_nl * nl[1] - nl[0], nl[1]) if syr else None,
            "alarms": [a.kind for a in self._alarms.active()],
            "alarm_text": {a.kind: a.text for a in self._alarms.active() if a.text},
            "log_records": self.log.count,
            "time_remaining_s": self.time_remaining_s() if c.state == ctl.RUNNING else None,
            "backoff_ul": ul_str(self._motion.backed_nl, 1),
            # battery, battery_mv, battery_pct, battery_left_min, mains (pump/power.py)
            "supply": self.power.status() if self.power is not None else None,
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

    @_command
    def raise_alarm(self, kind, text=""):
        """Latch an alarm of `kind` (pump.alarms.KINDS: a part's own fault, e.g. the
        display's) with what it says; once: raising an active one again only updates its
        text. The motor is not touched: a part whose fault must stop delivery calls stop()
        too. Returns the alarm (pump.alarms.Alarm)."""
        return self._alarms.raise_(self._clock(), kind, text)

    @_command
    def clear_alarm(self, kind):
        """Clear the active alarm of `kind` whose condition went away without a new program
        (battery_low once mains or a new cell came: pump/power.py). A high alarm clears only
        with a new load and program: refused."""
        if alarm_mod.KINDS[kind][1] == alarm_mod.HIGH:
            raise ValueError("a high alarm clears with a new load and program")
        self._alarms.clear(self._clock(), kind)

    def halt_for(self, kind, text):
        """Stop with a high alarm from a part's own check in the service step (the supply's
        depleted stop, pump/power.py): motor and EN off, the controller stopped (a STOP
        record with the steps delivered, then the ALARM); the service period is left to
        the next command, as for the step's other stops."""
        self._fail(kind, text)

    def sounding(self):
        """Priority the buzzer and LED show now: 3 high, 2 medium, 1 low, 0 quiet."""
        return self._alarms.sounding(self._clock())

    def attach_signal(self, driver):
        """The alarm buzzer and LED: driver.show(sound, light) (pump.signals) follows the
        alarms from now on, those already raised (a delivery cut by a reset) included."""
        self.signal = signals.Annunciator(self._alarms, driver, self._clock())

    # --- programs (pump.program.Runner drives these) ---

    def boost(self, r, span_us):
        """Run at rate r (nL/h fraction: the program rate plus a bolus rate) for exactly
        span_us (below 2**29) from the executor's restart, then hold the motor until
        unboost(). Returns the tick the boost started at."""
        m = self._motion
        c = m.ctl
        if c.state != ctl.RUNNING:
            raise ctl.TransitionError("cannot give a bolus while %s" % c.state)
        StepPlanner(c.vol).start_segment(r[0], r[1])  # refuse before touching the motor
        now = m.halt(keep_enabled=True)
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
        m = self._motion
        now = m.halt(keep_enabled=True)
        try:
            m.ctl.unboost(r, now)
            self._go(now)
        finally:
            self._settle()

    def boost_then(self, r):
        """During a boost: the program rate becomes r once the boost ends, at its end or
        cut short by a pause (the motor is not touched; see Controller.boost_then)."""
        self._motion.ctl.boost_then(r)

    def finish(self, r=None):
        """The VTBI is delivered: go on at r (KVO), or stop (r None) with no alarm."""
        m = self._motion
        now = m.halt(keep_enabled=r is not None)
        try:
            m.ctl.finish(now, r)
            if r is not None:
                self._go(now)
        finally:
            self._settle()

    def end_at(self, steps):
        """The program's VTBI: hold the motor once `steps` are delivered from this syringe
        (-1: no end); the runner then calls finish()."""
        self._motion.ctl.target = steps

    # --- the service cadence ---

    def service_ms(self):
        """The period (ms) the service step needs now: SERVICE_MS while running faster than
        50 steps/s, SERVICE_SLOW_MS from 5 steps/s, during a bolus and while an alarm
        sounds, SERVICE_CALM_MS otherwise (below 5 steps/s; idle, paused, stopped). Asked
        when a command starts, changes or stops the motor (see follow_period): an alarm the
        service step raises, or the end of a bolus, keeps the period until the next one."""
        c = self._motion.ctl
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

    # --- safety: the stop invariant (pump.motion) and the alarms ---

    def _settle(self):
        """After a command that touched the motor: if it did not leave the pump running
        (a fault, an exception), the motor is halted and EN is off."""
        if not self._motion.settle():
            self._fail(ALARM_SOFTWARE)  # running on paper, not on the motor
            return
        self._cadence()

    def _fail(self, alarm, text=None):
        """Motor off and EN off first, then the controller stopped with `alarm`."""
        self._motion.fail(alarm)
        if text:
            self._alarm_text(alarm, text)

    def _alarm_text(self, kind, text):
        self._alarms.raise_(self._clock(), kind, text)

    def _save(self):
        m = self._motion
        c = m.ctl
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
        n = m.issued()
        # Compared field by field: a tuple would allocate, and the service step must not.
        if c.state != self._saved_state or n != self._saved_n:
            self._saved_state, self._saved_n = c.state, n
            r.save(recovery.CODES[c.state], n)

    def _go(self, now):
        m = self._motion
        m.prime()
        # Before the motor runs: the service step (a timer) may run at any line from here.
        self._upkeep.started(now)
        c = m.ctl
        if self._detector is not None:
            self._detector.reset(c.delivered)
        self._near_steps = sv.near_steps(c, self._near_min)
        m.run()

    # --- the service step ---

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
        sig = self.signal
        if sig is not None:  # a silence ends after 2 minutes: the sound comes back here
            sig.update(self._clock())
        try:
            m = self._motion
            if m.service() and not self._watch(m.ctl):
                m.fill()
                self._save()
            self._upkeep.service(self._clock(), m)
            p = self.program
            if p is not None:
                p.service(self._clock())
            pw = self.power
            if pw is not None:
                pw.service()
        except Exception as e:  # noqa: BLE001 - any bug here must end in a safe stop
            self._fail(ALARM_SOFTWARE, "service step raised %s: %s" % (type(e).__name__, e))
            return False
        self.stepped = True
        return True

    def _watch(self, c):
        """Near-empty, syringe removal, the load cell and occlusion, while running
        (pump.supervision). True if it stopped the motor."""
        if c.capacity - c.delivered <= self._near_steps:  # inline: every step runs it
            self._near_steps = -1  # once per program
            self._alarms.raise_(self._clock(), ALARM_NEAR_EMPTY, self._remaining_text())
        s = self._sensors
        if s is None:
            return False
        alarm = sensor_alarm(s, self._detector, self._motion)
        if alarm is None:
            return False
        self.on_sensor_alarm(alarm)
        return True

    def on_sensor_alarm(self, alarm):
        """What the service step does with an alarm pump.supervision.sensors() returned
        while running: syringe_removed and sensor_fault stop the motor with it; occlusion
        pauses and draws the plunger back (resume once the line is clear and the alarm
        acknowledged), or stops with reservoir_empty if under a tenth of the fill is left
        (the stopper at the end of the barrel). Replays that feed the detector themselves
        (pumphost.sim.falsealarms) call it at a detection."""
        m, s, d = self._motion, self._sensors, self._detector
        c = m.ctl
        if alarm != ALARM_OCCLUSION:
            self._fail(alarm, sv.text(alarm, s, d))
        elif sv.bottomed(c, self.fill_nl):
            # The stopper bottoming out at the end of the barrel: empty, not an occlusion.
            self._fail(ctl.ALARM_EMPTY, "the stopper reached the end of the syringe")
        else:
            m.off_then(c.pause)  # paused: delivery restarts once the line is clear
            self._alarms.raise_(self._clock(), ALARM_OCCLUSION, sv.text(alarm, s, d))
            m.back_off(d.relief_nl())

    def _remaining_text(self):
        return "%d min of delivery left" % (self.time_remaining_s() // 60)

    def time_remaining_s(self):
        """Seconds until the syringe is empty at the programmed rate (exact, rounded down);
        None without a rate."""
        c = self._motion.ctl
        if not c.rate:
            return None
        left_nl_num = (c.capacity - self._motion.issued()) * c.vol[0]
        # seconds = left nL * 3600 / (rate num / rate den)
        return left_nl_num * 3600 * c.rate[1] // (c.vol[1] * c.rate[0])
