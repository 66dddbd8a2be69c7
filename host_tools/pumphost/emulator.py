"""Event-driven emulator: the firmware's control core, unchanged, on simulated hardware.

Time jumps from batch to batch (and to scenario events); nothing iterates per microsecond.
An independent exact oracle (Fractions, no planner code) computes the programmed volume.
"""

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from pumphost import paths
from pumphost.scenario import Event, Scenario
from pumphost.simhal import SimStepper, VirtualClock

paths.use_firmware_core()
from pump import controller as ctl  # noqa: E402
from pump import mechanics  # noqa: E402
from pump.api import ALARM_LATE  # noqa: E402

_US_PER_H = 3_600_000_000


@dataclass
class Result:
    scenario: str
    duration_s: float
    programmed_nl: Fraction
    delivered_nl: Fraction
    steps: int
    state: str
    alarms: list[str]
    log_records: int
    nl_per_step: Fraction
    remaining_nl: Fraction
    plunger_mm: float

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "duration_s": self.duration_s,
            "programmed_ul": round(float(self.programmed_nl) / 1000, 4),
            "delivered_ul": round(float(self.delivered_nl) / 1000, 4),
            "steps": self.steps,
            "state": self.state,
            "alarms": self.alarms,
            "log_records": self.log_records,
            "nl_per_step": round(float(self.nl_per_step), 6),
            "remaining_ul": round(float(self.remaining_nl) / 1000, 4),
            "plunger_mm": round(self.plunger_mm, 4),
        }


class Emulator:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        drive = mechanics.Drive(sc.board.lead_um, sc.board.full_steps_per_rev, sc.board.microsteps)
        self.syringe = mechanics.Syringe(sc.syringe_id)
        self.vol = mechanics.nl_per_step(self.syringe, drive)
        capacity = mechanics.steps_for_nl(sc.fill_nl, self.vol)
        self.clock = VirtualClock(sc.start_tick)
        self.stepper = SimStepper((drive.lead_um, drive.steps_per_rev))
        self.pump = ctl.Controller(self.vol, capacity)
        self._last_step_us = 0
        self._batch_left = 0  # steps of the current batch not yet due
        self._interval = 0
        # Oracle: exact programmed volume, integrated from the rate actually in force.
        self._programmed = Fraction(0)
        self._rate = Fraction(0)
        self._rate_since = 0

    def _oracle_to(self, t_us: int) -> None:
        self._programmed += self._rate * (t_us - self._rate_since) / _US_PER_H
        self._rate_since = t_us

    def _oracle_rate(self, t_us: int, rate: tuple[int, int] | None) -> None:
        self._oracle_to(t_us)
        self._rate = Fraction(*rate) if rate else Fraction(0)

    def _run_until(self, t_us: int) -> None:
        """Execute planned steps up to and including those due at t_us."""
        pump, clock = self.pump, self.clock
        while True:
            if self._batch_left == 0:
                batch = pump.next_batch()
                if batch is None:
                    break
                self._batch_left, self._interval = batch
            count, interval = self._batch_left, self._interval
            n = min(count, (t_us - self._last_step_us) // interval)
            if n > 0:
                self._last_step_us += n * interval
                self._batch_left -= n
                self.stepper.pulse(n)
                pump.executed(n, clock.ticks_at(self._last_step_us))
            if self._batch_left:
                break
        if pump.state == ctl.COMPLETE and self.stepper.enabled:
            self.stepper.enabled = False
            self._oracle_rate(self._last_step_us, None)
        clock.advance_to(t_us)

    def _apply(self, ev: Event) -> str | None:
        """Apply one event now; return why it was not applied, or None. The scenario refused
        every sequence it could know to be impossible; what is left is known only now."""
        now = self.clock.ticks()
        t = self.clock.elapsed_us
        pump = self.pump
        if pump.state in (ctl.COMPLETE, ctl.STOPPED):
            alarms = f" ({', '.join(pump.alarms)})" if pump.alarms else ""
            return f"the pump was already {pump.state}{alarms}"
        if ev.action == "pause":
            pump.pause(now)
            self._oracle_rate(t, None)
        elif ev.action == "resume":
            pump.resume(now)
            self._oracle_rate(t, pump.rate)
        elif ev.action == "stop":
            pump.stop(now)
            self._oracle_rate(t, None)
        elif ev.action == "stall":
            self._stall(ev.stall_us)
            return None
        else:
            assert ev.rate is not None
            pump.set_rate(ev.rate, now)
            if pump.state == ctl.RUNNING:
                self._oracle_rate(t, ev.rate)
        self._last_step_us = t
        self._batch_left = 0  # a new segment replaces whatever was planned
        self.stepper.enabled = pump.state == ctl.RUNNING
        return None

    def _stall(self, stall_us: int) -> None:
        """The executor issues nothing for stall_us (on the Pico: a stall longer than the
        PIO FIFO's reserve). If a step fell due meanwhile it went out late, and the board's
        next service step, at the end of the stall, sees the PIO's TX-stall flag and stops
        the pump with a step_late alarm, as pump.api does."""
        pump = self.pump
        t = self.clock.elapsed_us
        if pump.state != ctl.RUNNING:
            self.clock.advance_to(t + stall_us)
            return
        if self._batch_left == 0:
            batch = pump.next_batch()
            if batch is not None:
                self._batch_left, self._interval = batch
        due = self._last_step_us + self._interval if self._batch_left else None
        if due is None or due >= t + stall_us:
            # Nothing was due: the stall went unnoticed and costs nothing.
            self._run_until(t + stall_us)
            return
        self.clock.advance_to(t + stall_us)
        pump.fault(self.clock.ticks(), ALARM_LATE)
        self._oracle_rate(t + stall_us, None)
        self._batch_left = 0
        self.stepper.enabled = False

    def run(self, progress: Callable[[int], None] | None = None) -> Result:
        sc, pump = self.sc, self.pump
        pump.set_rate(sc.rate, self.clock.ticks())
        pump.start(self.clock.ticks())
        self.stepper.enabled = True
        self._oracle_rate(0, sc.rate)
        # Events not applied, with why: the summary shows them (never skipped silently).
        self.not_applied: list[tuple[Event, str]] = []
        # Progress marks are only reporting points: they never interrupt the plan.
        step_us = max(sc.duration_us // 200, 1)
        for ev in sc.events:  # all before the end: the scenario refuses any later
            self._run_reporting(ev.at_us, step_us, progress)
            try:
                why = self._apply(ev)
            except ctl.TransitionError as e:
                raise ctl.TransitionError(f"{ev.name}: {e}") from None
            if why is not None:
                self.not_applied.append((ev, why))
        self._run_reporting(sc.duration_us, step_us, progress)
        self._oracle_to(sc.duration_us)
        vol = Fraction(*self.vol)
        delivered = self.stepper.steps * vol
        return Result(
            scenario=sc.name,
            duration_s=sc.duration_us / 1e6,
            programmed_nl=self._programmed,
            delivered_nl=delivered,
            steps=self.stepper.steps,
            state=pump.state,
            alarms=list(pump.alarms),
            log_records=pump.log.count,
            nl_per_step=vol,
            remaining_nl=Fraction(sc.fill_nl) - delivered,
            plunger_mm=self.stepper.plunger_um() / 1000,
        )

    def _run_reporting(
        self, t_us: int, step_us: int, progress: Callable[[int], None] | None
    ) -> None:
        if progress is None:
            self._run_until(t_us)
            return
        while self.clock.elapsed_us < t_us:
            self._run_until(min(t_us, self.clock.elapsed_us + step_us))
            progress(self.clock.elapsed_us)
