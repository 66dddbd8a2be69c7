# Core planner speed on MicroPython: µs per planned step (make bench). Runs on the unix port
# directly and on the (virtual) Pico through pumphost.bench.speed.
import sys
import time

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../firmware")
sys.path.insert(0, HERE + "/core")

from harness import drive_vol  # noqa: E402
from pump import rate  # noqa: E402
from pump.controller import Controller  # noqa: E402


def run(n):
    for label, r in (
        ("octreotide 0.136 mL/h", rate.from_dose(1632, 500)),
        ("10 mL/h", rate.from_ml_per_h(10)),
    ):
        p = Controller(drive_vol(), 1 << 29)
        p.set_rate(r, 0)
        p.start(0)
        steps = 0
        t0 = time.ticks_us()
        while steps < n:
            b = p.next_batch()
            p.executed(b[0], 0)
            steps += b[0]
        dt = time.ticks_diff(time.ticks_us(), t0)
        impl = "%s %s" % (sys.implementation.name, sys.platform)
        print("core      %-32s %8.3f us per planned step on %s" % (label, dt / steps, impl))


if __name__ == "__main__":
    run(200000)
