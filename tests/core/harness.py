# Test helpers shared by CPython (pytest) and the MicroPython unix port (upy_run.py):
# plain integers only, no pytest, no fractions module.
from pump import controller as ctl
from pump import mechanics
from pump.ticks import ticks_add

US_PER_HOUR = 3600000000
NEAR_WRAP = (1 << 30) - 3000000  # 3 s before the tick counter wraps


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, fn))


def drive_vol(syringe_id="bd-plastipak-10ml", lead_um=800, steps=200, micro=16):
    return mechanics.nl_per_step(
        mechanics.Syringe(syringe_id), mechanics.Drive(lead_um, steps, micro)
    )


class Oracle:
    """Exact programmed volume: sum(rate * running time) kept as num/den nL."""

    def __init__(self, vol):
        self.vol = vol
        self._n, self._d = 0, 1
        self._rate = None
        self._since = 0

    def _integrate(self, t):
        if self._rate:
            rn, rd = self._rate
            dt = t - self._since
            self._n = self._n * rd * US_PER_HOUR + rn * dt * self._d
            self._d = self._d * rd * US_PER_HOUR
        self._since = t

    def set(self, rate, t):
        """From elapsed time t on, `rate` (nL/h fraction) is in force; None = halted."""
        self._integrate(t)
        self._rate = rate

    def steps(self, t):
        self._integrate(t)
        return self._n * self.vol[1] // (self._d * self.vol[0])


class Rig:
    """A minimal executor on a wrapping tick clock, checked against the Oracle."""

    def __init__(self, vol, capacity=1 << 40, start_tick=NEAR_WRAP):
        self.pump = ctl.Controller(vol, capacity)
        self.vol = vol
        self.tick = start_tick
        self.t = 0  # unbounded elapsed µs
        self.steps = 0
        self._last = 0  # elapsed µs of the last step or segment start
        self._left = 0
        self._iv = 0
        self.oracle = Oracle(vol)

    def expected_steps(self):
        return self.oracle.steps(self.t)

    def run(self, dt):
        """Advance dt µs, executing every step due (in chunks shorter than half the tick
        period, as a real main loop polls)."""
        end = self.t + dt
        while self.t < end:
            self._run_to(min(end, self.t + 400000000))

    def _run_to(self, t_end):
        pump = self.pump
        while True:
            if self._left == 0:
                b = pump.next_batch()
                if b is None:
                    break
                self._left, self._iv = b[0], b[1]
            n = min(self._left, (t_end - self._last) // self._iv)
            if n > 0:
                self._last += n * self._iv
                self._left -= n
                self.steps += n
                pump.executed(n, ticks_add(self.tick, self._last - self.t))
            if self._left:
                break
        self.tick = ticks_add(self.tick, t_end - self.t)
        self.t = t_end

    def _new_segment(self, rate):
        self.oracle.set(rate, self.t)
        self._last = self.t
        self._left = 0

    def start(self, rate):
        self.pump.set_rate(rate, self.tick)
        self.pump.start(self.tick)
        self._new_segment(rate)

    def set_rate(self, rate):
        self.pump.set_rate(rate, self.tick)
        if self.pump.state == ctl.RUNNING:
            self._new_segment(rate)

    def pause(self):
        self.pump.pause(self.tick)
        self._new_segment(None)

    def resume(self):
        self.pump.resume(self.tick)
        self._new_segment(self.pump.rate)
