# On the board the service step is a scheduled callback (a soft timer): it can run at any jump
# inside a command typed at the REPL or sent by the protocol. Here the "timer" fires in the
# middle of commands, at the worst places (between taking a batch from the plan and queuing
# it, while the motor is halted for a change), and delivery must stay exact and unalarmed.
from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, Oracle
from pump import api
from pump import rate as rates

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


class PreemptingStepper(FakeStepper):
    """Runs the pump's service step inside its own driver calls, as the timer would."""

    pump = None

    def _timer(self):
        if self.pump is not None:
            self.pump.service()

    def queue(self, count, interval):
        self._timer()
        FakeStepper.queue(self, count, interval)
        self._timer()

    def halt(self, keep_enabled=False):
        self._timer()
        return FakeStepper.halt(self, keep_enabled)

    def start(self):
        self._timer()
        t = FakeStepper.start(self)
        self._timer()
        return t


def _pump():
    clock = SimClock(NEAR_WRAP)
    st = PreemptingStepper(clock)
    p = api.Pump(MECH, st, clock.ticks)
    p.load("bd-plastipak-10ml", "10")
    st.pump = p
    return p, st, clock


def _run(p, st, seconds):
    for _ in range(seconds * 10):
        st.advance(SECOND // 10)
        p.service()


def test_the_timer_inside_commands_changes_nothing():
    p, st, clock = _pump()
    oracle = Oracle(p.controller.vol)
    p.rate("5")
    p.start()
    oracle.set(rates.from_ml_per_h(5), clock.elapsed)
    _run(p, st, 30)
    p.status()
    p.pause()
    oracle.set(None, clock.elapsed)
    _run(p, st, 5)
    p.resume()
    oracle.set(rates.from_ml_per_h(5), clock.elapsed)
    _run(p, st, 20)
    st.advance(777)
    oracle.set(None, clock.elapsed)  # the change halts the motor until it restarts
    p.dose(2167, 500)
    oracle.set(rates.from_dose(2167, 500), clock.elapsed)
    _run(p, st, 60)
    s = p.status()
    assert s["state"] == "running" and s["alarms"] == [], s
    p.pause()
    oracle.set(None, clock.elapsed)
    assert st.pulses == oracle.steps(clock.elapsed)
    assert p.status()["steps"] == st.pulses


def test_a_command_holds_the_service_step_off():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    seen = []
    st.pump = None

    def spy():
        seen.append(p.service())  # what the board's timer gets while a command runs

    st._timer = spy
    p.pause()  # halts the stepper: the spy runs inside the command
    assert seen and not any(seen)  # the step waited (and did not feed the watchdog)
    assert p.service() is True  # outside a command it runs
