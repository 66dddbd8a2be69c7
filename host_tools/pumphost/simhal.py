"""Simulated hardware for the emulator: a wrapping tick clock and a counting stepper."""

from pumphost import paths

paths.use_firmware_core()
from pump.ticks import ticks_add  # noqa: E402


class VirtualClock:
    """Simulated time. `elapsed_us` is unbounded host time; `ticks()` wraps like ticks_us."""

    def __init__(self, start_tick: int) -> None:
        self.start_tick = start_tick
        self.elapsed_us = 0

    def ticks(self) -> int:
        return ticks_add(self.start_tick, self.elapsed_us & 0x3FFFFFFF)

    def ticks_at(self, elapsed_us: int) -> int:
        return ticks_add(self.start_tick, elapsed_us & 0x3FFFFFFF)

    def advance_to(self, elapsed_us: int) -> None:
        if elapsed_us < self.elapsed_us:
            raise ValueError("simulated time cannot run backwards")
        self.elapsed_us = elapsed_us


class SimStepper:
    """Counts microsteps and tracks the plunger. Forward only: reverse delivery is impossible."""

    def __init__(self, um_per_step: tuple[int, int]) -> None:
        self.steps = 0
        self.enabled = False
        self._um = um_per_step  # plunger travel per microstep as (num, den) µm

    def pulse(self, count: int) -> None:
        if not self.enabled:
            raise RuntimeError("step pulses with the driver disabled")
        self.steps += count

    def plunger_um(self) -> float:
        return self.steps * self._um[0] / self._um[1]
