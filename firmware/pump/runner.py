# Carries out a pump.program.Program on a pump.api.Pump: the bolus with its limits, the VTBI
# end, the titration plan and the time-of-day profile (the reasoning is in pump/program.py).
from micropython import const

from pump import controller as ctl
from pump import events
from pump import rate as rates
from pump.program import (
    DAY_S,
    DENY_ALARM,
    DENY_BUSY,
    DENY_DAY,
    DENY_ENDED,
    DENY_HOUR,
    DENY_LOCKOUT,
    DENY_NAMES,
    DENY_NONE,
    DENY_STATE,
    MIN_UTC,
    BolusDenied,
    ProgramError,
    add,
    gt,
    is_int,
    ml,
)
from pump.ticks import ticks_diff

_US = const(1000000)
_ENDED = "the infusion has ended (the VTBI was delivered)"
LEDGER = const(64)  # boluses remembered for the 24 h limit


class Runner:
    """Carries out a Program on a pump.api.Pump: the pump's service step calls service(tick);
    the protocol calls the commands. pump.program is set to the runner."""

    def __init__(self, pump, tick):
        self.pump = pump
        self.prog = None
        self._last = tick
        self.s = 0  # elapsed whole seconds since the runner was made
        self.us = 0  # and us (0 <= us < 1e6)
        self.utc_base = None  # device UTC at elapsed 0 (None: the clock was never set)
        self._ledger = [0] * (LEDGER * 2)  # (start s, nL) of each granted bolus, a ring
        self.boluses = 0  # granted, ever
        self._bolus_end_s = -1  # elapsed (s, us) the running bolus ends at; -1: none
        self._bolus_end_us = 0
        self.ended = False  # the VTBI was delivered: the program's schedule is over
        self.t0 = -1  # elapsed s delivery of the program began at; -1: not yet
        self._step = 0  # next titration step
        self._seg = 0  # profile segment in force
        self._tod = -1  # local time of day (s) at the last profile check
        self._tbase = 0
        self.denied = 0
        pump.program = self

    # --- time ---

    def _advance(self, tick):
        d = ticks_diff(tick, self._last)
        self._last = tick
        if d <= 0:
            return
        us = self.us + d
        while us >= _US:
            us -= _US
            self.s += 1
        self.us = us

    def _reached(self, s, us):
        return self.s > s or (self.s == s and self.us >= us)

    def utc(self):
        return -1 if self.utc_base is None else self.utc_base + self.s

    def _local_tod(self):
        # _tbase: local time of day at elapsed 0, so no big integer in the service step.
        return (self._tbase + self.s % DAY_S) % DAY_S

    def _rebase(self):
        if self.prog is not None and self.utc_base is not None:
            self._tbase = (self.utc_base + self.prog.utc_offset_min * 60) % DAY_S

    def set_clock(self, tick, utc_s):
        """Set the device clock (UTC s): an explicit, logged event. Lockout, limits and the
        titration plan run on elapsed time and do not move; a profile does not jump."""
        if not is_int(utc_s) or not MIN_UTC <= utc_s < (1 << 32):
            raise ProgramError("out_of_range", "give UTC as whole Unix seconds, 2020 or later")
        self._advance(tick)
        old = self.utc()
        set_utc = getattr(self.pump.log, "set_utc", None)
        if set_utc is not None:
            set_utc(utc_s)  # the flash log records CLOCK (from, to) itself
        else:
            self.pump.log.add(tick, events.CLOCK, old, utc_s)
        self.utc_base = utc_s - self.s
        self._rebase()
        if self.prog is not None and self.prog.segments:
            self._tod = self._local_tod()  # the jump crosses no segment start
        return old

    # --- program ---

    def check_set(self):
        if self.pump.syringe is None:  # a load clears the program: it comes first
            raise ProgramError("refused", "cannot set a program: " + ctl.NO_SYRINGE)
        st = self.pump.state
        if st not in (ctl.IDLE, ctl.PAUSED):
            raise ProgramError(
                "refused", "a program is set while idle or paused, not while %s" % st
            )

    def set(self, prog, tick):
        """Put a validated Program in force (idle or paused)."""
        self._advance(tick)
        self.check_set()
        if prog.segments and self.utc_base is None:
            raise ProgramError("refused", "set the clock before a time-of-day profile")
        if prog.vtbi_nl:
            vn, vd = self.pump.controller.vol
            steps = prog.vtbi_nl * vd // vn
            if steps < 1:
                raise ProgramError("out_of_range", "the VTBI is less than one step")
        r = prog.basal
        seg = 0
        if prog.segments:
            tod = (self.utc_base + self.s + prog.utc_offset_min * 60) % DAY_S
            seg = _segment_at(prog.segments, tod // 60)
            r = prog.segments[seg][1]
        self._rate(r, prog.dose if not prog.segments else prog.segments[seg][2], prog)
        self.prog = prog
        self._rebase()
        self._seg = seg
        self._tod = self._local_tod() if prog.segments else -1
        self._step = 0
        self.t0 = -1
        self.ended = False
        self.pump.end_at(self.pump.controller.delivered + steps if prog.vtbi_nl else -1)

    def _rate(self, r, dose, prog):
        if dose and prog.conc:
            self.pump.dose(dose, prog.conc)
        else:
            self.pump.set_rate_nl_h(r[0], r[1])

    def started(self, tick):
        """Delivery goes on (pump.api.Pump's start and resume call this): the program's
        schedule (the titration steps) counts from the first of these after its set, the
        start after a set while idle or the resume after a set while paused."""
        self._advance(tick)
        if self.t0 < 0:
            self.t0 = self.s

    def clear(self):
        """A new syringe: the program is gone (the bolus ledger stays: the limits span it)."""
        self.prog = None
        self._bolus_end_s = -1
        self.ended = False

    def titrate(self, tick, r, dose):
        """Change the basal rate within the titration plan's maximum."""
        self._advance(tick)
        self.service(tick)
        p = self.prog
        if p is None or p.tmax is None:
            raise ProgramError("refused", "the program has no titration plan")
        if self.ended:
            raise ProgramError("refused", _ENDED + ": set a new program to go on")
        if gt(r, p.tmax):
            raise ProgramError(
                "out_of_range",
                "%s mL/h is above the titration maximum %s mL/h"
                % (rates.ml_per_h_str(*r), rates.ml_per_h_str(*p.tmax)),
            )
        if self._bolus_end_s >= 0:
            raise ProgramError("refused", "a bolus is running: titrate when it has ended")
        if self.pump.state not in (ctl.IDLE, ctl.RUNNING, ctl.PAUSED):
            raise ProgramError("refused", "cannot titrate while %s" % self.pump.state)
        self._rate(r, dose, p)

    def next_step(self):
        """The titration plan's next step (rate, dose), or None."""
        p = self.prog
        if p is None or self._step >= len(p.steps):
            return None
        return p.steps[self._step][1], p.steps[self._step][2]

    def titrate_next(self, tick):
        """Take the titration plan's next step (next_step()) now, as titrate() would; the
        plan goes on from the step after it."""
        step = self.next_step()
        if step is None:
            raise ProgramError("refused", "the titration plan has no further step")
        self.titrate(tick, step[0], step[1])
        self._step += 1

    # --- bolus ---

    def _in_window(self, seconds):
        n, nl = 0, 0
        led = self._ledger
        k = self.boluses if self.boluses < LEDGER else LEDGER
        for i in range(k):
            j = ((self.boluses - 1 - i) % LEDGER) * 2
            if self.s - led[j] < seconds:
                n += 1
                nl += led[j + 1]
        return n, nl

    def bolus_check(self):
        """None if a bolus may start now, else (reason code, message)."""
        p = self.prog
        if p is None or not p.bolus_nl:
            return DENY_NONE, "the program has no bolus"
        if self.pump.active_alarms():
            return DENY_ALARM, "no bolus while an alarm is active"
        if self.ended:
            return DENY_ENDED, "no bolus: " + _ENDED
        if self.pump.state != ctl.RUNNING:
            return DENY_STATE, "no bolus while %s" % self.pump.state
        if self._bolus_end_s >= 0 or self.pump.controller.held():
            return DENY_BUSY, "a bolus is running"
        if self.boluses:
            last = self._ledger[((self.boluses - 1) % LEDGER) * 2]
            wait = last + p.lockout_s - self.s
            if wait > 0:
                return DENY_LOCKOUT, "lockout: next bolus in %d min %02d s" % (
                    wait // 60,
                    wait % 60,
                )
        n, nl = self._in_window(3600)
        if n >= p.max_per_h:
            return DENY_HOUR, "%d bolus(es) in the last hour, the most allowed" % n
        _, nl = self._in_window(DAY_S)
        if nl + p.bolus_nl + p.basal24_max() > p.max24_nl:
            return DENY_DAY, "a bolus now could exceed the 24 h maximum of %s mL" % ml(p.max24_nl)
        return None

    def bolus(self, tick):
        """Start the program's bolus, or raise BolusDenied with the reason."""
        self._advance(tick)
        self.service(tick)
        why = self.bolus_check()
        if why is not None:
            self.denied += 1
            self.pump.log.add(tick, events.BOLUS_DENIED, why[0], 0)
            raise BolusDenied(DENY_NAMES[why[0]], why[1])
        p = self.prog
        c = self.pump.controller
        zero = self.pump.boost(add(c.rate, p.bolus_rate), p.bolus_us)
        # Its end on the elapsed clock: the boost started at `zero`, a little after `tick`.
        d = ticks_diff(zero, tick)
        end_us = self.us + (d if d > 0 else 0) + p.bolus_us
        self._bolus_end_s = self.s + end_us // _US
        self._bolus_end_us = end_us % _US
        j = (self.boluses % LEDGER) * 2
        self._ledger[j] = self.s
        self._ledger[j + 1] = p.bolus_nl
        self.boluses += 1
        self.pump.log.add(tick, events.BOLUS, p.bolus_nl, p.bolus_us // 1000)
        return {"bolus_ml": ml(p.bolus_nl), "duration_s": p.bolus_us // _US}

    def bolus_due_in_us(self):
        """us until the running bolus ends (0: due now), or -1 if none (the emulator runs
        a service step exactly then)."""
        if self._bolus_end_s < 0:
            return -1
        d = (self._bolus_end_s - self.s) * _US + self._bolus_end_us - self.us
        return d if d > 0 else 0

    # --- the service step (allocation-free when nothing is due) ---

    def service(self, tick):
        """The pump's service step, every 20-500 ms: elapsed time always (utc(), lockouts,
        the titration plan), the program's work only while one is set. _advance inline and
        the rest in _run: the step with no program is most of them."""
        d = ticks_diff(tick, self._last)
        self._last = tick
        if d > 0:
            us = self.us + d
            while us >= _US:
                us -= _US
                self.s += 1
            self.us = us
        if self.prog is not None:
            self._run(self.prog)

    def _run(self, p):
        c = self.pump.controller
        if self._bolus_end_s >= 0:
            if not c.boosting():  # paused, stopped, or the VTBI cut it short
                self._bolus_end_s = -1  # the controller went on at the program's rate
            elif self._reached(self._bolus_end_s, self._bolus_end_us):
                self._bolus_end_s = -1
                self.pump.unboost()  # at the program's rate (boost_then's, if a change)
        if c.target >= 0 and c.state == ctl.RUNNING and c.delivered >= c.target:
            self._end(p)
        if self.ended:
            return  # KVO or stopped until a new program: no step, no segment changes it
        if self.t0 >= 0 and self._step < len(p.steps):
            at, r, dose = p.steps[self._step]
            if self.s - self.t0 >= at:
                self._step += 1
                self._basal(r, dose, p)
        if p.segments and c.state in (ctl.RUNNING, ctl.PAUSED, ctl.IDLE):
            tod = self._local_tod()
            nxt = (self._seg + 1) % len(p.segments)
            start = p.segments[nxt][0] * 60
            if _crossed(self._tod, tod, start) and nxt != self._seg:
                self._seg = nxt
                self._basal(p.segments[nxt][1], p.segments[nxt][2], p)
            self._tod = tod

    def _basal(self, r, dose, p):
        """A scheduled basal change: now, or, during a bolus, when the bolus ends, at its
        end or cut short by a pause (the controller keeps it: Controller.boost_then). A
        dose is logged (PROGRAM) now, its RATE when in force."""
        st = self.pump.state
        if self.pump.controller.boosting():
            self.pump.boost_then(r)
            if dose and p.conc:
                self.pump.log.add(self._last, events.PROGRAM, dose, p.conc)
        elif st in (ctl.RUNNING, ctl.PAUSED, ctl.IDLE):
            self._rate(r, dose, p)

    def _end(self, p):
        self.ended = True
        c = self.pump.controller
        r = p.kvo
        if r is not None:
            now = c.rate_after_boost()  # the program's, under a bolus
            if gt(r, now):
                r = now  # KVO never above the rate in force (a profile, a step down)
        self.pump.finish(r)
        self.pump.log.add(self._last, events.INFUSION_END, c.delivered, 1 if p.kvo else 0)

    def status(self):
        p = self.prog
        out = {"utc": self.utc(), "end_of_infusion": self.ended, "boluses": self.boluses}
        if p is None:
            out["program"] = None
            return out
        out["program"] = p.summary()
        if p.bolus_nl:
            why = self.bolus_check()
            out["bolus_allowed"] = why is None
            if why is not None:
                out["bolus_denied"] = DENY_NAMES[why[0]]
            out["bolus_running"] = self._bolus_end_s >= 0
            n, nl = self._in_window(3600)
            out["boluses_last_h"] = n
            out["bolus_ml_24h"] = ml(self._in_window(DAY_S)[1])
        if p.steps:
            out["titration_step"] = self._step
        if p.segments:
            out["profile_segment"] = self._seg
        return out


def _segment_at(segs, minute):
    """Index of the segment in force at `minute` of the (local) day."""
    i = len(segs) - 1  # before the first start: the last segment, from yesterday
    for k in range(len(segs)):
        if segs[k][0] <= minute:
            i = k
    return i


def _crossed(before, now, start):
    """Did local time pass `start` (s of day) going from `before` to `now`, forward, less
    than a day?"""
    if before < 0 or before == now:
        return False
    if before < now:
        return before < start <= now
    return start > before or start <= now  # across midnight
