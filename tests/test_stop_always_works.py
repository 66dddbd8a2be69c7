"""Stop always works: the API driven by an executor that runs late, early, stalls and drops
its IRQs. Every sequence ends with stop() succeeding, the motor off and EN off, and never
more delivered than programmed plus one step."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, Oracle
from pump import api
from pump import controller as ctl
from pump.ticks import ticks_add, ticks_diff

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
MS = 1000


class FlakyStepper(FakeStepper):
    """FakeStepper with the PIO's failure modes: a stall (the FIFO ran dry: every later step
    shifts, and the TX-stall flag is set), IRQs that do not come (executed steps reach
    steps_done only at the next feed or halt) and a clock that runs early (steps up to
    `early_us` before their plan; the reported ticks stay the plan's, as on the PIO)."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(clock)
        self.drop_irqs = False
        self.early_us = 0
        self.stalled = False  # a stall made a step late (what the test expects to be seen)
        self._held = 0
        self._held_us = 0

    def run_to(self, until: int) -> None:
        done, last = self.steps_done, self.last_tick
        super().run_to(until + self.early_us)
        if self.drop_irqs and self.steps_done != done:  # the IRQ did not count them
            self._held += self.steps_done - done
            self._held_us += ticks_diff(self.last_tick, last)
            self.steps_done, self.last_tick = done, last

    def _release(self) -> None:
        if self._held:
            self.steps_done += self._held
            self.last_tick = ticks_add(self.last_tick, self._held_us)
            self._held = self._held_us = 0

    def feed(self) -> None:
        self._release()  # the driver counts RX/pulled words here too, not only in the IRQ

    def halt(self, keep_enabled: bool = False) -> int:
        self.run_to(self.clock.elapsed)
        self._release()
        return super().halt(keep_enabled)

    def stall(self, dt: int) -> None:
        """Nothing steps for dt µs; whatever was due in that time goes out late."""
        self.run_to(self.clock.elapsed)
        if (
            self.running
            and self.batches
            and self._t + self.batches[0][1] <= self.clock.elapsed + dt
        ):
            self.late = True
            self.stalled = True
        self._t += dt
        self.clock.elapsed += dt


RATES = ["0.136", "1", "5", "20", "100"]
op = st.one_of(
    st.tuples(st.just("run"), st.integers(1, 40)),  # tenths of a second, serviced each 20 ms
    st.tuples(st.just("stall"), st.integers(1, 3000)),  # ms
    st.tuples(st.just("drop"), st.booleans()),
    st.tuples(st.just("early"), st.integers(0, 15)),  # µs, below every interval
    st.tuples(st.just("rate"), st.sampled_from(RATES)),
    st.tuples(st.sampled_from(["start", "pause", "resume", "stop", "status"]), st.just(0)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.sampled_from(RATES), ops=st.lists(op, max_size=25))
def test_every_sequence_ends_with_a_working_stop(first: str, ops: list[tuple[str, object]]):
    clock = SimClock(NEAR_WRAP)
    stepper = FlakyStepper(clock)
    p = api.Pump(MECH, stepper, clock.ticks)
    p.load("bd-plastipak-10ml", "10")
    oracle = Oracle(p.controller.vol)
    p.rate(first)

    def follow() -> None:
        c = p.controller
        oracle.set(c.rate if c.state == ctl.RUNNING else None, clock.elapsed)

    p.start()
    follow()
    for name, arg in ops:
        try:
            if name == "run":
                for _ in range(int(arg) * 5):
                    stepper.advance(20 * MS)
                    p.service()
            elif name == "stall":
                stepper.stall(int(arg) * MS)
            elif name == "drop":
                stepper.drop_irqs = bool(arg)
            elif name == "early":
                stepper.early_us = int(arg)
            elif name == "rate":
                p.rate(str(arg))
            else:
                getattr(p, name)()
        except (ctl.TransitionError, ctl.PumpFault):
            pass  # a refusal or a fault: the checks below say whether it was safe
        follow()
        if not (p.controller.state == ctl.RUNNING):
            assert not stepper.running and not stepper.enabled, (name, p.controller.state)
    p.stop()
    s = p.status()
    assert s["state"] in ("stopped", "complete")
    assert not stepper.running and not stepper.enabled
    assert stepper.pulses <= oracle.steps(clock.elapsed) + 1
    assert s["steps"] == stepper.pulses  # the record matches what the motor did
    if stepper.stalled:  # a step went out late while the pump was running: it said so
        assert api.ALARM_LATE in s["alarms"], s
