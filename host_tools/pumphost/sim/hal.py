"""Simulated hardware for the emulator: a wrapping tick clock and a step executor with the
PIO driver's interface (firmware/drivers/pio_stepper.py), so the emulator runs the same
`pump.api.Pump` as the board."""

from collections import deque

from pump.ticks import ticks_add

_RING = 64  # batches queued ahead, as many as the service step keeps the PIO supplied with


class VirtualClock:
    """Simulated time. `elapsed_us` is unbounded host time; `ticks()` wraps like ticks_us."""

    def __init__(self, start_tick: int) -> None:
        self.start_tick = start_tick
        self.elapsed_us = 0

    def ticks(self) -> int:
        # ticks_add(start_tick, elapsed_us) inline: the pump reads its clock often.
        return (self.start_tick + self.elapsed_us) & 0x3FFFFFFF

    def ticks_at(self, elapsed_us: int) -> int:
        return ticks_add(self.start_tick, elapsed_us & 0x3FFFFFFF)

    def advance_to(self, elapsed_us: int) -> None:
        if elapsed_us < self.elapsed_us:
            raise ValueError("simulated time cannot run backwards")
        self.elapsed_us = elapsed_us


class SimStepper:
    """Executes queued (count, interval) batches in simulated time. As on the PIO, a batch
    counts in `steps_done`/`last_tick` once its last step is out, a halt adds the steps of
    the interrupted batch, and `late` is the TX-stall flag. `start(reverse=True)` draws the
    plunger back (the back-off after an occlusion): `position` follows the plunger."""

    def __init__(self, clock: VirtualClock, um_per_step: tuple[int, int]) -> None:
        self.clock = clock
        self._um = um_per_step  # plunger travel per microstep as (num, den) µm
        self.batches: deque[list[int]] = deque()
        self.steps_done = 0
        self.last_tick = 0
        self.pulses = 0  # what a logic analyser on STEP would count
        self.position = 0  # net steps forward: where the plunger is
        self._dir = 1
        self.last_pulse_us = 0
        self.enabled = False
        self.running = False
        self.starved = False
        self.late = False
        self._t = 0  # elapsed µs of the head batch's last issued step (or segment start)
        self._in_batch = 0

    # --- the driver interface pump.api uses ---

    def enable(self, on: bool) -> None:
        self.enabled = on

    def room(self) -> int:
        return _RING - len(self.batches)

    def queue(self, count: int, interval: int) -> None:
        if len(self.batches) >= _RING:
            raise RuntimeError("step ring overflow")
        self.batches.append([count, interval])

    def feed(self) -> None:
        pass

    def start(self, reverse: bool = False) -> int:
        self._dir = -1 if reverse else 1
        self.enabled = self.running = True
        self.starved = self.late = False
        self._t = self.clock.elapsed_us
        self._in_batch = 0
        self.last_tick = self.clock.ticks()
        return self.last_tick

    def halt(self, keep_enabled: bool = False) -> int:
        self.run_to(self.clock.elapsed_us)
        if self._in_batch:
            self.steps_done += self._in_batch
            self.last_tick = ticks_add(self.last_tick, self._in_batch * self.batches[0][1])
        self.batches.clear()
        self._in_batch = 0
        self.running = False
        self.enabled = keep_enabled
        return self.clock.ticks()

    def in_flight(self, now: int) -> int:
        """Steps of the head batch already out (the executor ran to now), as the PIO
        driver estimates them for its oldest uncounted entry."""
        return self._in_batch if self.running else 0

    # --- simulated time ---

    def next_done_us(self) -> int | None:
        """Elapsed µs at which the head batch's last step goes out, if running."""
        if not (self.running and self.batches):
            return None
        count, iv = self.batches[0]
        return self._t + (count - self._in_batch) * iv

    def run_to(self, until_us: int) -> None:
        """Issue every step due by `until_us`."""
        batches = self.batches
        while self.running and batches:
            count, iv = batches[0]
            n = (until_us - self._t) // iv
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
            batches.popleft()
            self._in_batch = 0
            self.steps_done += count
            self.last_tick = ticks_add(self.last_tick, count * iv)
            if not batches:
                self.starved = True

    def stall(self, stall_us: int) -> None:
        """Nothing steps for stall_us from now (a stall longer than the PIO FIFO's reserve);
        a step that fell due meanwhile goes out late and sets the TX-stall flag."""
        now = self.clock.elapsed_us
        self.run_to(now)
        if self.running and self.batches:
            due = self._t + self.batches[0][1]
            if due < now + stall_us:
                self.late = True
                self._t += now + stall_us - due  # every later step shifts with it
        self.clock.advance_to(now + stall_us)

    def plunger_um(self) -> float:
        return self.position * self._um[0] / self._um[1]


class SimRetained:
    """The RP2040 watchdog's scratch registers (drivers/retained.py's interface): a soft or
    watchdog reset keeps them, a power cut or the RUN pin clears them (clear())."""

    def __init__(self) -> None:
        self.clear()

    def read(self) -> tuple[int, int, int, int] | None:
        if self._code < 0:
            return None
        return self._code, self._steps, self._num, self._den

    def load(self, vol_num: int, vol_den: int) -> None:
        self._num, self._den = vol_num, vol_den

    def save(self, code: int, steps: int) -> None:  # the service step's: no allocation
        self._code = code
        self._steps = steps

    def clear(self) -> None:
        self._code = -1  # no magic word: nothing saved
        self._steps = self._num = self._den = 0


class SimSensors:
    """The load cell (an HX711 at 10 samples/s) and the syringe switch, reading the plant.
    The emulator calls sample() at each sample instant; the pump's service step take()s them,
    as the board's driver hands over what its PIO program read."""

    PERIOD_US = 100_000

    def __init__(self, plant: object) -> None:
        self.plant = plant
        self.fault = 0
        self._present = True
        self._queue: deque[int | None] = deque(maxlen=16)

    def sample(self, t_s: float, steps: int) -> None:
        self.plant.advance(t_s, steps)  # type: ignore[attr-defined]
        s = self.plant.sample()  # type: ignore[attr-defined]
        self._present = s.syringe_present
        self._queue.append(None if s.force_n is None else round(s.force_n * 1000))

    def take(self) -> int | None:
        if not self._queue:
            return None
        force = self._queue.popleft()
        if force is None:
            self.fault = 1  # no conversion finished: DOUT never went low
        elif force >= 50_000:
            self.fault = 2  # the cell's full scale
        return force

    def present(self) -> bool:
        return self._present
