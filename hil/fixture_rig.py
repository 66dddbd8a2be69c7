"""The bench rig: a second Pico running hil/fixture/ (the bench fixture), wired to the pump
board as in hil/fixture/BENCH.md, driven over its line protocol (hil/fixture/PROTOCOL.md).
Same interface as rig.VirtualRig, so the HIL suite runs unchanged with `--rig PORT`.

Clocks. Every time here is the fixture's: its PIO counts 40 ns ticks from its own crystal
and timestamps STEP/DIR/EN edges in that count; `now_ns` asks the fixture for its count
(after it has sent every edge before it). `run_s` waits, in wall time, until the fixture's
clock has advanced that far; the host's clock only paces the polling. The pump plans its
steps on its own crystal, so a count of steps over a fixture-measured window differs from
the pump's plan by the two crystals' disagreement (the Pico's 12 MHz crystal: +-30 ppm, so
at most 60 ppm between two boards: 0.1 step over the suite's longest window, 45 s at 5 mL/h;
one step after 8 minutes at 5 mL/h or 25 s at 100 mL/h), plus the 40 ns tick, plus the
round trip of a `T` request (the window's end is sampled when the request reaches the
fixture, about 1 ms over USB, while the pump steps on). The count checks allow one step:
enough for the suite's windows, not for minutes at high rates. The step-interval check
(test_delivery: intervals equal to the plan's to the microsecond) is exact only when both
boards share a clock, as the two virtual Picos do; on two real boards
each interval differs by up to 60 ppm (1.8 us of 30 ms).

On the two virtual Picos (pumphost.vboard.pair) both boards run on one simulated clock, so the
fixture's ticks are simulated time; what differs from the virtual rig is that time runs
(paced to wall time) while the host talks to the boards, as on a bench.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, NoReturn

import pytest
from rig import CHUNK_NS, MARK_PIN, NS_PER_S, PlantLoop

from pump import loadcell
from pumphost.fixture.client import CHANNELS, FixtureClient, FixtureUnreachable

__all__ = ["FixtureRig", "FixtureUnreachable"]

_RESET_MS = 10  # RUN held low: the RP2040 needs microseconds; 10 ms is a button press
# Readings of the fixture's clock less than this far apart (wall time) are one instant: a
# test that takes the edges and then the time (step_times, then now_ns) sees them agree, as
# on the virtual rig, where time stands still between calls. Each reading costs a round
# trip (about 1 ms over USB, a few ms on the virtual pair) during which the pump steps on.
_SAME_INSTANT_S = 0.02


class FixtureBoard:
    """What the plant loop (rig.PlantLoop) drives as `rig.board`, over the fixture: pins by
    the pump's GPIO numbers, times in ns of the fixture's clock. Anything else a test asks of
    the virtual board (flash images, control requests) skips loudly: a bench has no such
    thing."""

    def __init__(self, rig: FixtureRig) -> None:
        self.rig = rig
        self.url = rig.url

    def _channel(self, pin: int) -> str:
        for name in CHANNELS:
            if self.rig.pins[name] == pin:
                return name
        pytest.skip(
            f"SKIPPED LOUDLY: the bench fixture does not watch pump GPIO {pin} (it captures "
            f"STEP, DIR, EN, MARK on GPIO {MARK_PIN}, the alarm buzzer and LED): wire the pin "
            "to a fixture input or "
            "run this test with --target virtual or --rig virtual"
        )

    def now_ns(self) -> int:
        return self.rig.now_ns()

    def run_ns(self, ns: int) -> int:
        return self.rig.run_ns(ns)

    def count(self, pin: int) -> int:
        """Rising edges on a pump output since the rig opened (never reset)."""
        end = self.rig._sync()  # everything up to now has arrived
        return len(self.rig.client.edges(self._channel(pin), 0, end)[0])

    def edges(
        self, pin: int, since_ns: int = 0, until_ns: int | None = None
    ) -> tuple[list[int], list[int]]:
        return self.rig.edges_ns(self._channel(pin), since_ns, until_ns)

    def pins(self) -> list[dict[str, Any]]:
        """Per pump GPIO, as the virtual board reports them: the levels of the pump outputs
        the fixture reads (asked now) and of the inputs it drives; other pins read 0."""
        out: list[dict[str, Any]] = [
            {"pin": i, "dir": "in", "level": 0, "func": None, "pull": None} for i in range(30)
        ]
        for name, level in self.rig.client.levels().items():
            out[self.rig.pins[name]].update(dir="out", level=level)
        for name, level in self.rig.outputs.items():
            if name in self.rig.pins:
                out[self.rig.pins[name]]["level"] = level
        return out

    def set_input(self, pin: int, value: int) -> None:
        """Drives a pump input the fixture is wired to (the syringe switch)."""
        if pin != self.rig.pins["syringe"]:
            raise ValueError(f"the fixture drives no pump GPIO {pin} (only the syringe switch)")
        self.rig.set_output("syringe", value)

    def hx711(
        self, counts: int | None = None, mode: str | None = None, at_ns: int | None = None
    ) -> dict[str, Any]:
        if at_ns is not None:
            raise ValueError("the fixture applies HX711 values now, not at a set time")
        t = self.rig.client.hx711(counts, mode)
        return {"time_ns": t * self.rig.client.tick_ns}

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        pytest.skip(
            f"SKIPPED LOUDLY: the bench fixture has no `rig.board.{name}` (a facility of the "
            "virtual board only: flash images, control requests); run this test with "
            "--target virtual or --rig virtual"
        )


class LivePlantLoop(PlantLoop):
    """On a bench time runs while the host talks to the pump (a command over the REPL takes
    most of a second on the virtual pair), so the plant follows the pump from a background
    thread, in steps of exactly 100 ms of the fixture's clock (each with the STEP edges up
    to its end), as the virtual rig's chunks are: the load cell never plays a force from
    before a start the test just sent, and no step is shorter than the plant's sample."""

    def __init__(self, rig: FixtureRig, syringe_id: str, fill_ml: float, seed: int) -> None:
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        super().__init__(rig, syringe_id, fill_ml, seed)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._background, daemon=True)
        self._thread.start()

    def _background(self) -> None:
        try:
            due = self._since + CHUNK_NS
            while not self._stop.is_set():
                now = self.rig.now_ns()
                if now < due:
                    self._stop.wait(min(0.1, max(0.002, (due - now) / NS_PER_S / 2)))
                    continue
                with self._lock:
                    if self._stop.is_set():
                        break
                    super()._follow(due)
                due += CHUNK_NS
        except BaseException as e:  # reported to the test at its next step
            self._error = e

    def _step_count(self, t: int) -> int:
        return len(self.rig.step_times(0, t + 1))

    def _follow(self, t: int) -> Any:
        """The test's own follow (at a fault): the background thread does it within 100 ms."""
        with self._lock:
            return self.trace[-1] if self.trace else super()._follow(t)

    def inject(self, kind: str) -> int:
        """A fault from now: the switch or the cell shows it at once, the plant's line from its
        next 100 ms step (the follow at the base's inject is this class's: no extra step)."""
        with self._lock:
            return super().inject(kind)

    def step(self) -> Any:
        """Waits 100 ms of the fixture's clock and until the plant has followed to there."""
        t = self.board.run_ns(CHUNK_NS)
        while self._since < t and self._thread.is_alive():
            time.sleep(0.005)
        if self._error is not None:
            raise self._error
        return self.trace[-1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


class FixtureRig:
    capabilities = frozenset({"pins", "time", "power", "plant"})

    def __init__(self, url: str, pins: dict[str, int], syringe_seated: int = 0) -> None:
        self.url = url
        self.pins = {**pins, "mark": MARK_PIN}
        self.seated = syringe_seated
        self.client = FixtureClient(url)  # raises FixtureUnreachable
        self.board = FixtureBoard(self)
        self.outputs: dict[str, int] = {}  # what the fixture drives: `syringe`, `end`
        self._speed = 1.0  # fixture seconds per wall second, as last seen (paces the polling)
        self._last = (0, -1.0)  # the last reading of the fixture's clock (ticks, wall time)
        self._plant: LivePlantLoop | None = None
        self.idle_plant()

    def close(self) -> None:
        self._stop_plant()
        self.client.close()

    # ---- time ----

    def _sync(self) -> int:
        """The fixture's clock (ticks), every edge before it received; a reading under
        _SAME_INSTANT_S old is reused."""
        ticks, wall = self._last
        if time.monotonic() - wall >= _SAME_INSTANT_S:
            ticks = self.client.now()
            self._last = (ticks, time.monotonic())
        return ticks

    def now_ns(self) -> int:
        return self._sync() * self.client.tick_ns

    def run_ns(self, ns: int) -> int:
        """Waits until the fixture's clock has advanced by ns; returns the time reached."""
        tick = self.client.tick_ns
        start_wall = time.monotonic()
        start = now = self.client.now()
        target = start + math.ceil(ns / tick)
        while now < target:
            left_s = (target - now) * tick / NS_PER_S
            time.sleep(min(max(left_s / self._speed * 0.9, 0.002), 0.5))
            now = self.client.now()
            wall = time.monotonic() - start_wall
            if wall > 0.05 and now > start:
                self._speed = (now - start) * tick / NS_PER_S / wall
        self._last = (now, time.monotonic())
        return now * tick

    def run_s(self, seconds: float) -> int:
        return self.run_ns(int(seconds * NS_PER_S))

    # ---- pins ----

    def edges_ns(
        self, channel: str, since_ns: int = 0, until_ns: int | None = None
    ) -> tuple[list[int], list[int]]:
        tick = self.client.tick_ns
        until = self._sync() if until_ns is None else -(-until_ns // tick)
        rising, falling = self.client.edges(channel, -(-since_ns // tick), until)
        return [t * tick for t in rising], [t * tick for t in falling]

    def step_times(self, since_ns: int, until_ns: int | None = None) -> list[int]:
        """Rising STEP edges (fixture ns) in [since_ns, until_ns); until now by default."""
        return self.edges_ns("step", since_ns, until_ns)[0]

    def edges(self, name: str, since_ns: int = 0) -> tuple[list[int], list[int]]:
        return self.edges_ns(name, since_ns)

    def level(self, name: str) -> int:
        if name in CHANNELS:
            return self.client.level(name)
        if name in self.outputs:
            return self.outputs[name]
        raise ValueError(f"the fixture neither reads nor drives {name!r}")

    def set_output(self, name: str, value: int) -> None:
        """Drives `syringe` (the switch) or `end` (an end-stop input, if the pump has one)."""
        out = {"syringe": "SYR", "end": "END"}[name]
        self.client.output(out, value)
        self.outputs[name] = int(bool(value))

    # ---- power ----

    def power_cycle(self, off_s: float = 0.0) -> None:
        """The pump's RUN pin held low for off_s (at least 10 ms), then it boots for 1 s.
        RUN resets the RP2040 (the watchdog's scratch registers are cleared, as by a power
        cut) but the flash chip stays powered: a write in progress completes."""
        self.client.reset_pulse(max(_RESET_MS, round(off_s * 1000)))
        self.run_s(1.0)

    def reset(self) -> None:
        self.client.reset_pulse(_RESET_MS)
        self.run_s(1.0)

    def cut_on_mark(self, delay_ns: int, timeout_s: float = 1.0) -> tuple[int, int]:
        """RUN low delay_ns after the next rising edge of MARK (timed by the fixture's PIO, to
        a few of its cycles), held 10 ms, then the pump boots for 1 s; returns the times (ns)
        of that edge and of the cut."""
        tick = self.client.tick_ns
        delay = -(-delay_ns // tick)
        rise, _ = self.client.cut_on_mark(delay, _RESET_MS, round(timeout_s * 1000))
        self.run_s(1.0)
        return rise * tick, (rise + delay) * tick

    # ---- the plant ----

    def plant(self, syringe_id: str, fill_ml: float, seed: int = 1) -> PlantLoop:
        """The plant in the loop from now: the fixture's HX711 plays the force the plant
        model computes from the STEP edges the fixture captured, continuously."""
        self._stop_plant()
        self._plant = LivePlantLoop(self, syringe_id, fill_ml, seed)
        return self._plant

    def _stop_plant(self) -> None:
        if self._plant is not None:
            self._plant.close()
            self._plant = None

    def idle_plant(self) -> None:
        """Back to rest: zero force at the nominal calibration, a working cell, seated."""
        self._stop_plant()
        self.client.hx711(counts=loadcell.DEFAULT_OFFSET)
        self.set_output("syringe", self.seated)
