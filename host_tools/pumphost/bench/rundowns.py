"""Randomised battery run-downs of the firmware's gauge (pump/power.py, issue 21) against the
emulator's cell (pumphost.sim.battery): both chemistries, 5-40 % charge at the start, 1-10
times the rated resistance, the motor on all the time or in bursts; rated cells, then cells
with 60-100 % of their rated capacity. For each run: did the low-battery warning come at
least 30 min before the depleted stop (or within the first minute, when the cell had less
than that from the start), and does the cell hold the alarm state 3 min or more after the
stop (the flash write and the IEC 60601-2-24 high alarm)?

Usage: python -m pumphost.bench.rundowns [N] [SEED]
"""

from __future__ import annotations

import random
import sys

from pump import energy, power
from pumphost.sim.battery import SimBattery

RUN = energy.State(motor=True)
IDLE = energy.State(motor=False)
ALARM = energy.State(display=True, buzzer_pm=150)
STEP_S = 5


class _Sink:
    def __init__(self) -> None:
        self.low: int | None = None
        self.stopped = False
        self.t = 0

    def record(self, what: int, b: int) -> None:
        pass

    def warn(self, kind: str, text: str) -> None:
        if self.low is None:
            self.low = self.t

    def clear(self, kind: str) -> None:
        pass

    def deplete(self, kind: str, text: str) -> None:
        self.stopped = True


def one(rng: random.Random, weak: bool) -> tuple[str, str]:
    """One run-down; returns (verdict, what it was): ok, skip (the cell cannot carry the
    motor from the start), late (the warning), short (the stop came too near the end)."""
    name = rng.choice(sorted(power_batteries()))
    cell = SimBattery(
        name,
        rng.randint(5, 40) * 10,
        rng.randint(60, 100) * 10 if weak else 1000,
        rng.choice((1, 1, 2, 3, 5, 10)),
    )
    burst = rng.choice((None, 10, 30))  # s of each minute the motor runs (None: always)
    what = f"{name} {cell.charge_pm / 10:g}% cap {cell.capacity_pm / 10:g}% R x{cell.r_times}"
    cell.ua = energy.current_ua(cell.battery, max(cell.mv(), 1000), RUN)
    if cell.mv() < cell.battery["hold_mv"]:
        return "skip", what
    sink = _Sink()
    sup = power.Supply(cell.battery, cell, sink, 0)
    now = t = 0
    while t < 40 * 3600 and not sink.stopped:
        st = RUN if burst is None or t % 60 < burst else IDLE
        cell.ua = energy.current_ua(cell.battery, max(cell.mv(), 1000), st)
        if not cell.powered():
            return "short", what + " (the supply failed before the stop)"
        sink.t = t
        sup.service(now, st)
        cell.drain(STEP_S * 1000)
        now = (now + STEP_S * 1_000_000) & 0x3FFFFFFF
        t += STEP_S
    dep = t
    cell.ua = energy.current_ua(cell.battery, cell.mv(), ALARM)
    held = 0
    while cell.powered() and held < 3600:
        cell.drain(1000)
        held += 1
    if held < 180:
        return "short", what + f" (held {held} s after the stop)"
    if dep > 120 and (sink.low is None or (dep - sink.low < 1800 and sink.low > 60)):
        return "late", what + f" (warned {(dep - (sink.low or dep)) / 60:.0f} min ahead)"
    return "ok", what


def power_batteries() -> list[str]:
    from pumphost.sim.battery import batteries

    return list(batteries.BATTERIES)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for weak in (False, True):
        rng = random.Random(seed)
        counts: dict[str, int] = {}
        worst: list[str] = []
        for _ in range(n):
            verdict, what = one(rng, weak)
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict in ("late", "short") and len(worst) < 5:
                worst.append(f"    {verdict}: {what}")
        kind = "cells of 60-100 % of rated capacity" if weak else "rated cells"
        tally = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{n} run-downs, {kind}: {tally}")
        print("\n".join(worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
