# The pump's service step (Pump.service, from a soft timer every 20-500 ms) allocates nothing
# while the pump runs: on MicroPython the heap is locked around it, so any allocation raises.
# The step executor here keeps a preallocated ring, as the PIO driver does.
import sys

from fakestepper import SimClock
from pump import api
from pump import controller as ctl
from pump.ticks import ticks_add

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
_RING = 8


class RingStepper:
    """Runs queued (count, interval) entries from a preallocated ring; counts whole entries,
    as the PIO driver does."""

    def __init__(self, clock):
        self.clock = clock
        self._count = [0] * _RING
        self._iv = [0] * _RING
        self._head = 0
        self._len = 0
        self.steps_done = 0
        self.last_tick = 0
        self.running = False
        self.enabled = False
        self.starved = False
        self.late = False
        self._t = 0  # elapsed us the head entry started at

    def enable(self, on):
        self.enabled = on

    def room(self):
        return _RING - self._len

    def queue(self, count, interval):
        i = (self._head + self._len) % _RING
        self._count[i] = count
        self._iv[i] = interval
        self._len += 1

    def feed(self):
        pass

    def start(self, reverse=False):
        self.running = self.enabled = True
        self.starved = False
        self.last_tick = self.clock.ticks()
        self._t = self.clock.elapsed
        return self.last_tick

    def halt(self, keep_enabled=False):
        self._len = 0  # the entry under way is dropped (whole entries only: enough here)
        self.running = False
        self.enabled = keep_enabled
        return self.clock.ticks()

    def advance(self, dt):
        clock = self.clock
        clock.elapsed += dt
        while self.running and self._len:
            h = self._head
            span = self._count[h] * self._iv[h]
            if self._t + span > clock.elapsed:
                return
            self._t += span
            self.steps_done += self._count[h]
            self.last_tick = ticks_add(self.last_tick, span)
            self._head = (h + 1) % _RING
            self._len -= 1
        if self.running:
            self.starved = True


class Retained:
    """The watchdog scratch registers, written in place."""

    def __init__(self):
        self.words = [0, 0, 0, 0]

    def read(self):
        return None

    def load(self, vol_num, vol_den):
        self.words[2], self.words[3] = vol_num, vol_den

    def save(self, code, steps):
        self.words[0], self.words[1] = code, steps


def _running(rate):
    clock = SimClock((1 << 30) - 2000000)  # the tick counter wraps during the run
    st = RingStepper(clock)
    p = api.Pump(MECH, st, clock.ticks, retained=Retained())
    p.load("bd-plastipak-10ml", "10")
    p.rate(rate)
    p.start()
    for _ in range(10):  # past the start: the ring full, the first steps counted
        st.advance(20000)
        assert p.service()
    return p, st


def _steps_under_heap_lock(p, st, n, period_us):
    locked = sys.implementation.name == "micropython"
    if locked:
        import micropython
    ok = 0
    before = st.steps_done
    if locked:
        micropython.heap_lock()
    try:
        for _ in range(n):
            st.advance(period_us)
            if p.service():
                ok += 1
    finally:
        if locked:
            micropython.heap_unlock()
    return ok, st.steps_done - before


def test_the_service_step_does_not_allocate_while_running():
    for rate, period in (("10", 20000), ("0.136", 500000), ("2", 100000)):
        p, st = _running(rate)
        ok, steps = _steps_under_heap_lock(p, st, 200, period)
        assert ok == 200, (rate, p.status())
        assert p.state == ctl.RUNNING and steps > 0, (rate, p.status())
        assert p.status()["alarms"] == [], (rate, p.status())
