# The pump's service step on MicroPython: us per Pump.service() (the soft timer's work every
# 20-500 ms), idle and running, with and without a load cell. Runs on the unix port:
#   .cache/micropython/unix/micropython -X heapsize=288k tests/bench_service.py
# Only the service() call is timed; the fake executor's stepping between calls is not.
# Compare trees with the same script (it needs only pump.api and tests/core/fakestepper.py).
import sys
import time

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../firmware")
sys.path.insert(0, HERE + "/core")

from fakestepper import FakeRetained, FakeStepper, SimClock  # noqa: E402
from pump import api  # noqa: E402

if hasattr(time, "ticks_us"):
    _us, _diff = time.ticks_us, time.ticks_diff
else:  # CPython, for a quick look

    def _us():
        return time.perf_counter_ns() // 1000

    def _diff(a, b):
        return a - b


_ROUNDS = 5
MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


class _Cell:
    """A load cell with a flat force: one sample per service step, never a fault."""

    fault = 0

    def __init__(self):
        self._n = 0

    def present(self):
        return True

    def take(self):
        self._n += 1
        return 1500 if self._n & 1 else None


def _one(label, rate, sensors, n, period_us):
    clock = SimClock((1 << 30) - 5000000)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks, retained=FakeRetained(), sensors=sensors)
    if rate is not None:
        p.load("bd-plastipak-10ml", "10")
        p.rate(rate)
        p.start()
    # Each call timed alone, the slowest tenth left out: a call the OS preempted (other load
    # on the machine) would otherwise count.
    times = [0] * n
    best = None
    for _ in range(_ROUNDS):
        for i in range(n):
            st.advance(period_us)
            t0 = _us()
            p.service()
            times[i] = _diff(_us(), t0)
        times.sort()
        k = n - n // 10
        mean = sum(times[:k]) / k
        if best is None or mean < best:
            best = mean
    impl = "%s %s" % (sys.implementation.name, sys.platform)
    print("service   %-32s %8.2f us per step on %s" % (label, best, impl))
    return p


def run(n):
    _one("idle", None, None, n, 500000)
    _one("0.136 mL/h", "0.136", None, n, 500000)
    _one("10 mL/h", "10", None, n, 20000)
    p = _one("10 mL/h, load cell", "10", _Cell(), n, 20000)
    assert p.state == "running", p.status()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
