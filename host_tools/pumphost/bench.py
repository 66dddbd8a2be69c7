"""Emulator speed: simulated seconds per CPU second (make bench)."""

import dataclasses
import time

from pumphost import scenario
from pumphost.emulator import Emulator
from pumphost.paths import REPO

_TARGET = 100_000  # x real time for the octreotide day (issue 2)


def _measure(sc: scenario.Scenario) -> tuple[float, int]:
    t0 = time.process_time()
    res = Emulator(sc).run()
    cpu = time.process_time() - t0
    return res.duration_s / cpu, res.steps


def main() -> None:
    octreotide = scenario.load(REPO / "host_tools/scenarios/octreotide-24h.toml")
    # 10 mL/h for 24 h is 240 mL: more than any syringe holds, so this bench-only run gives
    # the 30 mL syringe a bottomless reservoir to keep the motor going for the whole day.
    fast = dataclasses.replace(
        scenario.load(REPO / "host_tools/scenarios/rate-10ml-h-24h.toml"), fill_nl=10**12
    )
    for label, sc, target in (
        ("octreotide 1632 ug/24h, 24 h", octreotide, _TARGET),
        ("10 mL/h, 24 h", fast, None),
    ):
        ratio, steps = _measure(sc)
        line = f"emulator  {label:32s} {ratio:12,.0f} x real time  ({steps:,} steps)"
        if target:
            line += f"  target >= {target:,}x: {'met' if ratio >= target else 'MISSED'}"
        print(line)


if __name__ == "__main__":
    main()
