"""The HIL plant loop's step attribution (hil/rig.py PlantLoop), on a small honest board.

On a bench, time runs between two requests to the fixture: the edges a chunk is followed with
end at one clock reading, and anything read "now" comes from a later one. The plant must sign
each chunk's steps by the DIR level they went out at, never by a level read afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hil"))
from rig import CHUNK_NS, PlantLoop  # noqa: E402

from pumphost import boards  # noqa: E402

PINS = {"step": 2, "dir": 3, "en": 4, "syringe": 10}
FORWARD = boards.load("vpico").dir_forward
MS = 1_000_000


class Timeline:
    """Edges on a board's pins laid out in advance; `now` moves on only when told to, and a
    level asked of the board is its level at `live` (which may run ahead of `now`, as the
    pump does while the host's request travels)."""

    def __init__(self) -> None:
        self.now = 0
        self.live = 0
        self.rising: dict[int, list[int]] = {p: [] for p in PINS.values()}
        self.falling: dict[int, list[int]] = {p: [] for p in PINS.values()}
        self.initial = {PINS["dir"]: FORWARD}
        self.inputs: dict[int, int] = {}

    def steps(self, *times_ms: float) -> None:
        self.rising[PINS["step"]] += [int(t * MS) for t in times_ms]

    def dir_flip(self, at_ms: float, level: int) -> None:
        (self.rising if level else self.falling)[PINS["dir"]].append(int(at_ms * MS))

    def level(self, pin: int, t: int) -> int:
        flips = [(x, 1) for x in self.rising.get(pin, []) if x <= t]
        flips += [(x, 0) for x in self.falling.get(pin, []) if x <= t]
        return max(flips)[1] if flips else self.initial.get(pin, 0)


class Board:
    def __init__(self, tl: Timeline) -> None:
        self.tl = tl

    def now_ns(self) -> int:
        return self.tl.now

    def run_ns(self, ns: int) -> int:
        self.tl.now += ns
        self.tl.live = max(self.tl.live, self.tl.now)
        return self.tl.now

    def count(self, pin: int) -> int:
        return sum(1 for x in self.tl.rising[pin] if x <= self.tl.now)

    def edges(
        self, pin: int, since_ns: int = 0, until_ns: int | None = None
    ) -> tuple[list[int], list[int]]:
        end = self.tl.now if until_ns is None else until_ns
        pick = [x for x in self.tl.rising[pin] if since_ns <= x < end]
        return pick, [x for x in self.tl.falling[pin] if since_ns <= x < end]

    def pins(self) -> list[dict[str, Any]]:
        return [{"pin": i, "level": self.tl.level(i, self.tl.live)} for i in range(30)]

    def set_input(self, pin: int, value: int) -> None:
        self.tl.inputs[pin] = value

    def hx711(self, counts: int | None = None, mode: str | None = None) -> dict[str, Any]:
        return {}


class Rig:
    def __init__(self, tl: Timeline) -> None:
        self.board = Board(tl)
        self.pins = PINS

    def now_ns(self) -> int:
        return self.board.now_ns()

    def step_times(self, since_ns: int, until_ns: int | None = None) -> list[int]:
        return self.board.edges(PINS["step"], since_ns, until_ns)[0]


def _loop(tl: Timeline) -> PlantLoop:
    return PlantLoop(Rig(tl), "bd-plastipak-10ml", fill_ml=5.0)  # type: ignore[arg-type]


def test_a_dir_flip_just_after_a_chunk_does_not_reverse_its_steps() -> None:
    tl = Timeline()
    loop = _loop(tl)
    tl.steps(10, 30, 50, 70, 90)
    tl.dir_flip(100.5, 1 - FORWARD)  # the halt's back-off, while the host asks for levels
    tl.live = 101 * MS
    loop.step()
    assert loop.steps == 5


def test_steps_are_signed_by_the_dir_level_each_went_out_at() -> None:
    tl = Timeline()
    loop = _loop(tl)
    tl.steps(10, 30, 50)
    tl.dir_flip(60, 1 - FORWARD)
    tl.steps(70, 90, 130, 150)
    tl.dir_flip(160, FORWARD)
    tl.steps(170)
    loop.step()
    assert loop.steps == 3 - 2
    loop.step()
    assert loop.steps == 1 - 2 + 1


def test_a_flip_in_a_chunk_without_steps_still_counts_for_the_next() -> None:
    tl = Timeline()
    loop = _loop(tl)
    tl.dir_flip(50, 1 - FORWARD)
    loop.step()
    tl.steps(120, 140)
    tl.live = 250 * MS
    tl.dir_flip(210, FORWARD)  # after the second chunk: its steps went out backwards
    loop.step()
    assert loop.steps == -2
    assert CHUNK_NS == 100 * MS


def test_steps_made_while_the_host_talked_count_with_their_direction() -> None:
    tl = Timeline()
    tl.initial[PINS["dir"]] = 1 - FORWARD  # the pump is idle, DIR at rest
    loop = _loop(tl)
    tl.dir_flip(30, FORWARD)  # the start, sent over the REPL while the board runs on
    tl.steps(40, 60, 80, 150, 170)
    tl.now = tl.live = 100 * MS  # the REPL command took 100 ms of the board's time
    loop.step()
    assert loop.steps == 5


def test_a_stop_before_now_is_read_is_found_from_the_faults_time() -> None:
    tl = Timeline()
    loop = _loop(tl)
    t = loop.inject("syringe_removed")
    tl.rising[PINS["en"]].append(t + 2 * MS)  # the pump stops 2 ms after the switch opens
    tl.now = tl.live = t + 5 * MS  # ... before the host's next reading of the clock
    assert loop.run_until_motor_off(1) is None  # from "now": the stop is missed
    assert loop.run_until_motor_off(1, since_ns=t) == t + 2 * MS
    assert tl.inputs[PINS["syringe"]] == 1 - boards.load("vpico").syringe_seated
