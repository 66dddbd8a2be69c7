"""Simulated hardware for the emulator: the wrapping tick clock and the step executor of
firmware/simhw/stepper.py (the core tests' too), and the load cell's HX711 on the plant, so
the emulator runs the same `pump.api.Pump` as the board, on the board's LoadCell."""

from pump import loadcell
from pump.ticks import ticks_add
from simhw.stepper import SimClock, StepExecutor

SimStepper = StepExecutor  # the driver's interface (drivers/pio_stepper.py), in simulated time


class VirtualClock(SimClock):
    """Simulated time. `elapsed_us` is unbounded host time; `ticks()` wraps like ticks_us."""

    @property
    def elapsed_us(self) -> int:
        return self.elapsed

    @property
    def start_tick(self) -> int:
        return self.start

    def ticks_at(self, elapsed_us: int) -> int:
        return ticks_add(self.start, elapsed_us & 0x3FFFFFFF)


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


def hx711_counts(force_n: float, offset: int, scale: int) -> int:
    """The HX711's reading of force_n through a calibration (counts = offset + force x scale,
    as pump.loadcell converts back), clamped as the chip clamps an input beyond its range."""
    counts = offset + round(force_n * scale)
    return max(loadcell.RAW_MIN, min(loadcell.RAW_MAX, counts))


class SimHX711:
    """The load cell's HX711 and the syringe switch, reading the plant, with the board
    driver's interface (drivers/hx711.py: read() -> the next 24-bit word, or -1 if none
    waits), so the real pump.loadcell.LoadCell reads them and every fault rule is the board's.
    The emulator calls sample() at each conversion (10 a second): the plant's force becomes
    counts through the calibration (the nominal one: a board without /calib.json); an open
    cell converts nothing (no word: LoadCell says no data once none came for its stale time);
    a saturated one gives the clamp, loadcell.RAW_MAX. As the PIO's joined RX FIFO, 8 words
    wait at most and a conversion finding it full is dropped."""

    PERIOD_US = loadcell.PERIOD_US
    FIFO = 8

    def __init__(
        self,
        plant: object,
        seated: int = 0,
        offset: int = loadcell.DEFAULT_OFFSET,
        scale: int = loadcell.DEFAULT_SCALE,
    ) -> None:
        self.plant = plant
        self.seated = seated  # the switch's level with a syringe in place (board.SYRINGE_SEATED)
        self.offset = offset
        self.scale = scale
        self._fifo: list[int] = []
        self._level = seated

    def sample(self, t_s: float, steps: int) -> None:
        """The conversion at t_s (s), the plunger `steps` microsteps in."""
        p = self.plant
        p.advance(t_s, steps)  # type: ignore[attr-defined]
        s = p.sample()  # type: ignore[attr-defined]
        self._level = self.seated if s.syringe_present else 1 - self.seated
        force = s.force_n
        if force is None:
            return  # open: DOUT never goes low, nothing converts
        if p.saturated:  # type: ignore[attr-defined]
            counts = loadcell.RAW_MAX  # a broken bridge wire: every conversion at the clamp
        else:
            counts = hx711_counts(force, self.offset, self.scale)
        fifo = self._fifo
        if len(fifo) < self.FIFO:
            fifo.append(counts & 0xFFFFFF)  # the 24-bit word the driver hands over

    def clear(self) -> None:
        """A reset: the state machine starts again with an empty FIFO."""
        self._fifo.clear()

    # --- what LoadCell is given, as boardapp gives it the driver's ---

    def read(self) -> int:
        fifo = self._fifo
        return fifo.pop(0) if fifo else -1

    def switch(self) -> int:
        return self._level

    def load_cell(self, clock: object) -> loadcell.LoadCell:
        """The board's LoadCell on this HX711 (clock: ticks_us), as boardapp makes it."""
        return loadcell.LoadCell(
            self.read, clock, self.switch, self.seated, self.offset, self.scale
        )
