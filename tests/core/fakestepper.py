# The core tests' step executor and clock: the same model the emulator runs on
# (firmware/simhw/stepper.py: the PIO driver's accounting and start latency).
from simhw.stepper import SimClock
from simhw.stepper import StepExecutor as FakeStepper

__all__ = ["FakeRetained", "FakeStepper", "SimClock"]


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
