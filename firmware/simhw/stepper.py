# The step executor model: what drivers/pio_stepper.py's PIOStepper does, in simulated time.
# The emulator (pumphost.sim.hal) and the core tests (tests/core/fakestepper.py) both run the
# pump on it, so the two see the same executor.
from pump.ticks import ticks_add, ticks_diff

RING = 64  # batches queued ahead, as many as the service step keeps the PIO supplied with
# The state machine starts this long after the tick start() returns (the plan's time zero), so
# every step goes out this late; the driver counts in_flight() steps and dates a halt by the
# same figure (pio_stepper._LATENCY_US: 33 us measured on the virtual Pico, 200 allowed, and
# a host test holds the two equal). With 200 here, what the pump reads from this model is
# what it reads from the driver.
START_LATENCY_US = 200


class SimClock:
    """Simulated time: `elapsed` is unbounded us since the start; ticks() wraps as ticks_us."""

    def __init__(self, start_tick):
        self.start = start_tick
        self.elapsed = 0

    def ticks(self):
        return (self.start + self.elapsed) & 0x3FFFFFFF  # ticks_add(start, elapsed), inline

    def advance_to(self, elapsed):
        if elapsed < self.elapsed:
            raise ValueError("simulated time cannot run backwards")
        self.elapsed = elapsed


class StepExecutor:
    """Executes queued (count, interval) batches on a SimClock. As on the PIO: the steps start
    START_LATENCY_US after the plan's zero, a batch counts in `steps_done`/`last_tick` (plan
    ticks) once its last step is out, a halt adds the steps of the interrupted batch and dates
    the stop by the latency, and `late` is the TX-stall flag. start(reverse=True) draws the
    plunger back (the back-off after an occlusion): `position` follows the plunger.
    um_per_step: plunger travel per microstep as (num, den) um, for plunger_um()."""

    latency_us = START_LATENCY_US

    def __init__(self, clock, um_per_step=(0, 1)):
        self.clock = clock
        self.um_per_step = um_per_step
        self.batches = []  # [count, interval] waiting or executing
        self.steps_done = 0
        self.last_tick = 0
        self.pulses = 0  # what a logic analyser on STEP would count
        self.position = 0  # net steps forward: where the plunger is
        self.last_pulse_us = 0  # elapsed us of the last step out
        self.enabled = False
        self.running = False
        self.starved = False
        self.late = False
        self._dir = 1
        self._t = 0  # elapsed us of the head batch's last issued step (or the segment's start)
        self._in_batch = 0  # steps of the head batch already out

    # --- the driver's interface (pump.motion uses it) ---

    def enable(self, on):
        self.enabled = on

    def room(self):
        return RING - len(self.batches)

    def queue(self, count, interval):
        if len(self.batches) >= RING:
            raise RuntimeError("step ring overflow")
        self.batches.append([count, interval])

    def feed(self):
        pass

    def start(self, reverse=False):
        """Start a segment with what is queued; returns the plan's zero (now)."""
        self._dir = -1 if reverse else 1
        self.enabled = self.running = True
        self.starved = self.late = False
        self._t = self.clock.elapsed + self.latency_us
        self._in_batch = 0
        self.last_tick = self.clock.ticks()
        return self.last_tick

    def halt(self, keep_enabled=False):
        """Stop now; returns the tick the stop took effect at, dated back by the latency
        (never before the last step), as the driver does."""
        was = self.running
        now = self.clock.ticks()
        self.run_to(self.clock.elapsed)
        if self._in_batch:
            self.steps_done += self._in_batch
            self.last_tick = ticks_add(self.last_tick, self._in_batch * self.batches[0][1])
        self.batches.clear()
        self._in_batch = 0
        self.running = False
        self.enabled = keep_enabled
        if not was:
            return now
        early = ticks_add(now, -self.latency_us)
        return early if ticks_diff(early, self.last_tick) > 0 else self.last_tick

    def in_flight(self, now):
        """Steps of the head batch already out (the executor ran to now), as the driver
        estimates them for its oldest uncounted entry."""
        return self._in_batch if self.running else 0

    # --- simulated time ---

    def next_done_us(self):
        """Elapsed us at which the head batch's last step goes out, or None if not running."""
        if not (self.running and self.batches):
            return None
        count, iv = self.batches[0]
        return self._t + (count - self._in_batch) * iv

    def run_to(self, until):
        """Issue every step due by elapsed us `until`."""
        batches = self.batches
        while self.running and batches:
            count, iv = batches[0]
            n = (until - self._t) // iv
            if n > count - self._in_batch:
                n = count - self._in_batch
            if n > 0:
                if not self.enabled:
                    raise RuntimeError("step pulses with the driver disabled")
                self._t += n * iv
                self._in_batch += n
                self.pulses += n
                self.position += n * self._dir
                self.last_pulse_us = self._t
            if self._in_batch < count:
                return
            batches.pop(0)
            self._in_batch = 0
            self.steps_done += count  # the driver's IRQ at the entry's end counts it
            self.last_tick = ticks_add(self.last_tick, count * iv)
            if not batches:
                self.starved = True

    def advance(self, dt):
        """Time moves on dt us; every step due meanwhile goes out."""
        self.run_to(self.clock.elapsed + dt)
        self.clock.advance_to(self.clock.elapsed + dt)

    def stall(self, stall_us):
        """Nothing steps for stall_us from now (a stall longer than the PIO FIFO's reserve):
        a step that fell due meanwhile goes out late and sets the TX-stall flag."""
        now = self.clock.elapsed
        self.run_to(now)
        if self.running and self.batches:
            due = self._t + self.batches[0][1]
            if due < now + stall_us:
                self.late = True
                self._t += now + stall_us - due  # every later step shifts with it
        self.clock.advance_to(now + stall_us)

    def plunger_um(self):
        num, den = self.um_per_step
        return self.position * num / den
