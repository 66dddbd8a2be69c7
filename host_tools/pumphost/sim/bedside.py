"""The bedside interface in the emulator: the panel and the keys pump.app.build hands to the
firmware's UI (pump/ui.py), a scenario's [[press]] entries pressed as a hand would (levels
sampled every 10 ms, the UI stepped every 50 ms, as on the board: firmware/boardapp.py), and
PNGs of the screen (`pumpctl sim --screens DIR`): after each [[press]], at each new alarm, and
at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pump import keys as core_keys
from pumphost import screen
from pumphost.sim.scenario import Press

if TYPE_CHECKING:
    from pump.ui import UI

TICK_US = 10_000  # the board's key poll (boardapp.UI_POLL_MS)
STEP_TICKS = 5  # a UI step every 5 polls (boardapp.UI_STEP_POLLS)
GAP_MS = 150  # keys up between two presses
SETTLE_MS = 300  # after a [[press]]: the screen it led to is drawn before the PNG
_MASK = (1 << 30) - 1


class SimPanel:
    """The SSD1306 as the UI drives it (drivers/ssd1306.py's interface): buf is the picture
    the UI draws into; show() puts it on the panel; answers=False makes it fail as a panel
    that does not ACK (OSError), for the display_fault alarm."""

    def __init__(self) -> None:
        self.buf = bytearray(screen.SIZE)
        self.shown = bytes(screen.SIZE)  # what the glass shows
        self.frames = 0
        self.level = 0x7F
        self.answers = True

    def show(self, buf: bytearray | None = None) -> None:
        if not self.answers:
            raise OSError(110, "ETIMEDOUT")
        self.shown = bytes(self.buf if buf is None else buf)
        self.frames += 1

    def contrast(self, level: int) -> None:
        if not self.answers:
            raise OSError(110, "ETIMEDOUT")
        self.level = level


class SimKeypad:
    """The six keys: read() -> the mask of keys pressed (pump.keys' numbering)."""

    def __init__(self) -> None:
        self.mask = 0

    def read(self) -> int:
        return self.mask


class Bedside:
    """Drives the UI of an emulator's pump. run_to(t_us) runs the emulator to elapsed t_us;
    after(): what the emulator does after a UI step (its oracle follows the program)."""

    def __init__(self, screens: Path | None) -> None:
        self.panel = SimPanel()
        self.keypad = SimKeypad()
        self.screens = screens
        self.written: list[Path] = []
        self.ui: UI | None = None
        self._run_to: Callable[[int], None] | None = None
        self._elapsed: Callable[[], int] | None = None
        self._after: Callable[[], None] | None = None
        self._ticks = 0

    def attach(
        self,
        ui: UI | None,
        run_to: Callable[[int], None],
        elapsed: Callable[[], int],
        after: Callable[[], None],
    ) -> None:
        if ui is None:
            raise RuntimeError("pump.app.build made no bedside UI")
        self.ui, self._run_to, self._elapsed, self._after = ui, run_to, elapsed, after

    def _ms(self) -> int:
        assert self._elapsed is not None
        return (self._elapsed() // 1000) & _MASK

    def _tick(self) -> None:
        assert self.ui is not None and self._run_to is not None and self._elapsed is not None
        self._run_to(self._elapsed() + TICK_US)
        now = self._ms()
        self.ui.poll(now)
        self._ticks += 1
        if self._ticks % STEP_TICKS == 0:
            self.step(now)

    def step(self, now: int | None = None) -> None:
        """One UI step now (events, alarms, drawing), then the emulator's follow-up."""
        assert self.ui is not None and self._after is not None
        self.ui.step(self._ms() if now is None else now)
        self._after()

    def _hold(self, mask: int, ms: int) -> None:
        self.keypad.mask = mask
        for _ in range(max(ms * 1000 // TICK_US, 1)):
            self._tick()

    def press(self, pr: Press) -> None:
        """The keys of one [[press]], then a PNG of the screen they led to."""
        for key, hold_ms in pr.keys:
            self._hold(1 << core_keys.NAMES.index(key), hold_ms)
            self._hold(0, GAP_MS)
        self._hold(0, SETTLE_MS)
        self.shot(pr.label)

    def alarm(self, kind: str) -> None:
        """A new alarm: the UI shows it at once (its next step), and its PNG."""
        if self.ui is None:
            return
        self.step()
        self.shot("alarm-" + kind)

    def finish(self) -> None:
        if self.ui is None:
            return
        self.step()
        self.shot("end")

    def shot(self, label: str) -> Path | None:
        """The panel now as DIR/NNN-label.png (nothing without --screens)."""
        if self.screens is None:
            return None
        path = self.screens / f"{len(self.written):03d}-{label}.png"
        t = (self._elapsed() if self._elapsed else 0) / 1e6
        screen.write_png(self.panel.shown, path, title=f"{label} at {t:.1f} s")
        self.written.append(path)
        return path
