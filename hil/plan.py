"""What the board should do, computed on the host by the same control core."""

from __future__ import annotations

from pump import mechanics
from pump.planner import StepPlanner
from pumphost import boards

# The same definition the image freezes as `board` (vpico shares the pico's).
_BOARD = boards.load("pico")


def nl_per_step(syringe: str) -> tuple[int, int]:
    drive = mechanics.Drive(_BOARD.lead_um, _BOARD.full_steps_per_rev, _BOARD.microsteps)
    return mechanics.nl_per_step(mechanics.Syringe(syringe), drive)


def intervals_us(syringe: str, rate: tuple[int, int], n: int) -> list[int]:
    """The first n step intervals of a segment started from rest (first from the start)."""
    p = StepPlanner(nl_per_step(syringe))
    p.start_segment(*rate)
    out = [0, 0]
    ivs: list[int] = []
    while len(ivs) < n:
        p.next_batch(out, 1)
        ivs.append(out[1])
    return ivs


def steps_after(syringe: str, rate: tuple[int, int], elapsed_ns: int) -> int:
    """floor(programmed volume / volume per step) after elapsed_ns of running."""
    vn, vd = nl_per_step(syringe)
    return rate[0] * elapsed_ns * vd // (rate[1] * 3_600_000_000_000 * vn)
