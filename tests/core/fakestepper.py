# A small, honest stand-in for the PIO stepper: it executes queued batches on a simulated
# clock with the same accounting as the real driver (a batch counts when its last step is
# out; a halt adds the steps of the interrupted batch).
from pump.ticks import ticks_add

_RING = 64


class FakeStepper:
    START_LATENCY_US = 1500  # the rp2 fills the step ring before the state machine runs

    def __init__(self, clock):
        self.clock = clock  # a SimClock
        self.batches = []  # [count, interval] waiting or executing
        self.steps_done = 0
        self.last_tick = 0
        self.pulses = 0  # what a logic analyser on STEP would count
        self.position = 0  # net steps forward: the plunger (a back-off draws it back)
        self._dir = 1
        self.enabled = False
        self.running = False
        self.starved = False
        self.late = False  # the PIO's TX-stall flag: a step could not go out on time
        self._t = 0  # elapsed µs of the current batch's progress anchor
        self._in_batch = 0  # steps of the head batch already issued

    def enable(self, on):
        self.enabled = on

    def room(self):
        return _RING - len(self.batches)

    def queue(self, count, interval):
        if self.room() <= 0:
            raise AssertionError("ring overflow")
        self.batches.append([count, interval])

    def feed(self):
        pass

    def start(self, reverse=False):
        self._dir = -1 if reverse else 1
        # Like the PIO, it starts a little after the command: the plan's zero is its start.
        self.clock.elapsed += self.START_LATENCY_US
        self.enabled = True
        self.running = True
        self.starved = False
        self.last_tick = self.clock.ticks()
        self._t = self.clock.elapsed
        self._in_batch = 0
        return self.last_tick

    def _run(self, until):
        # Issue every step due by `until` (elapsed µs).
        while self.running and self.batches:
            count, iv = self.batches[0]
            due = (until - self._t) // iv
            n = min(count - self._in_batch, due)
            self._t += n * iv
            self._in_batch += n
            self.pulses += n
            self.position += n * self._dir
            if self._in_batch < count:
                return
            self.batches.pop(0)
            self._in_batch = 0
            self.steps_done += count
            self.last_tick = ticks_add(self.last_tick, count * iv)
            if not self.batches:
                self.starved = True

    def in_flight(self, now):
        """Steps of the head batch already out (the PIO driver estimates them from the plan's
        timing for its oldest uncounted entry)."""
        return self._in_batch if self.running else 0

    def advance(self, dt):
        self._run(self.clock.elapsed + dt)
        self.clock.elapsed += dt

    def halt(self, keep_enabled=False):
        self._run(self.clock.elapsed)
        if self._in_batch:
            iv = self.batches[0][1]
            self.steps_done += self._in_batch
            self.last_tick = ticks_add(self.last_tick, self._in_batch * iv)
        self.batches = []
        self._in_batch = 0
        self.running = False
        self.enabled = keep_enabled
        return self.clock.ticks()


class SimClock:
    def __init__(self, start_tick):
        self.start = start_tick
        self.elapsed = 0

    def ticks(self):
        return ticks_add(self.start, self.elapsed % (1 << 30))


class FakeRetained:
    """The watchdog scratch registers: kept across a soft or watchdog reset, not a power cut."""

    def __init__(self):
        self.words = None
        self._vol = (0, 0)  # the registers hold whatever the last load wrote

    def read(self):
        return self.words

    def load(self, vol_num, vol_den):
        self._vol = (vol_num, vol_den)

    def save(self, code, steps):
        self.words = (code, steps) + self._vol
