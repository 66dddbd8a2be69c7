"""Occlusion and empty alarms on the emulator, IEC 60601-2-24 style (make bench-alarms).

Every figure comes from the firmware application (pump.api.Pump with the occlusion detector)
running on the plant model (pumphost.plant), through the same emulator as `pumpctl sim`:
- time to the occlusion alarm and the volume displaced meanwhile, at 0.1, 0.136, 1 and
  5 mL/h, low and high pressure ceiling, 10 and 30 mL syringes (the line blocks 30 min in);
- the bolus released when the line opens 10 minutes after the alarm (no plunger back-off);
- the near-empty warning's error against the exact time 30 min before empty;
- false alarms over normal days of delivery with random plants (seeds), in a time budget.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

from pumphost import scenario
from pumphost.emulator import Emulator

RATES = (0.1, 0.136, 1.0, 5.0)
SYRINGES = {10: ("bd-plastipak-10ml", 10.0), 30: ("bd-plastipak-30ml", 30.0)}
OCCLUDE_AT_H = 0.5
TARGET_UL = 10.0  # issue 7: alarm with at most 10 uL displaced; bolus at most 10 uL
COMMERCIAL = "Crono Five ~5 h at 0.1 mL/h; JMS 117 min at 0.5 mL/h; insulin pumps 3-5 U"

_TEMPLATE = """
[pump]
board = "pico"
syringe = "{syringe}"
fill_ml = {fill}
[program]
rate_ml_per_h = {rate}
[run]
duration_h = {hours}
[plant]
seed = {seed}
ceiling = "{ceiling}"
{faults}
"""


def _run(
    syringe: str,
    fill: float,
    rate: float,
    hours: float,
    seed: int,
    ceiling: str,
    faults: list[tuple[float, str]],
):  # noqa: ANN202
    text = _TEMPLATE.format(
        syringe=syringe,
        fill=fill,
        rate=rate,
        hours=hours,
        seed=seed,
        ceiling=ceiling,
        faults="".join(f'[[fault]]\nat_h = {at}\nkind = "{kind}"\n' for at, kind in faults),
    )
    return Emulator(scenario.parse(text, "bench")).run()


def occlusion_row(size: int, rate: float, ceiling: str) -> tuple[float, float, float | None]:
    """(minutes to alarm, uL displaced, uL bolus released) for one case."""
    syringe, fill = SYRINGES[size]
    # Time enough for 30 uL after the block, and the release 10 min after that.
    hours = OCCLUDE_AT_H + 30 / (rate * 1000) + 0.5
    res = _run(syringe, fill, rate, hours, 11, ceiling, [(OCCLUDE_AT_H, "occlusion")])
    occl = [a for a in res.alarms if a["kind"] == "occlusion"]
    if not occl:
        return float("inf"), float("inf"), None
    raised = float(occl[0]["raised_s"])  # type: ignore[arg-type]
    minutes = (raised - OCCLUDE_AT_H * 3600) / 60
    displaced = rate * 1000 * minutes / 60
    release_h = raised / 3600 + 10 / 60
    res2 = _run(
        syringe,
        fill,
        rate,
        release_h + 0.05,
        11,
        ceiling,
        [(OCCLUDE_AT_H, "occlusion"), (round(release_h, 6), "occlusion_release")],
    )
    return minutes, displaced, res2.released_bolus_ul


def near_empty_error_s(rate: float) -> float:
    """Seconds between the near-empty warning and the exact moment 30 min before empty."""
    fill = max(1.0, rate)  # an hour of delivery: the warning comes after the start
    empty_s = fill / rate * 3600
    res = _run("bd-plastipak-10ml", fill, rate, empty_s / 3600 + 0.1, 5, "medium", [])
    near = [a for a in res.alarms if a["kind"] == "near_empty"]
    return float(near[0]["raised_s"]) - (empty_s - 1800)  # type: ignore[arg-type]


def _normal_day(seed: int) -> tuple[int, list[str]]:
    rate = (0.1, 0.136, 0.2, 1.0, 5.0)[seed % 5]
    size = 30 if seed % 2 else 10
    syringe, fill = SYRINGES[size]
    hours = min(24.0, fill * 0.9 / rate)  # a day, or until the syringe is nearly empty
    res = _run(syringe, fill, rate, hours, 1000 + seed, "medium", [])
    return seed, [str(a["kind"]) for a in res.alarms if a["kind"] not in ("near_empty",)]


def false_alarms(budget_s: float, target_days: int) -> tuple[int, list[tuple[int, list[str]]]]:
    """Normal patient-days (random seeds) on both cores until the budget runs out."""
    found: list[tuple[int, list[str]]] = []
    days = 0
    end = time.monotonic() + budget_s
    with multiprocessing.Pool(2) as pool:
        seed = 0
        while time.monotonic() < end and days < target_days:
            batch = list(range(seed, seed + 2))
            for s, alarms in pool.map(_normal_day, batch):
                days += 1
                if alarms:
                    found.append((s, alarms))
            seed += 2
    return days, found


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=120, help="time for the false-alarm run")
    ap.add_argument("--days", type=int, default=1000, help="patient-days to aim for")
    args = ap.parse_args(argv)
    print(f"alarms    occlusion at {OCCLUDE_AT_H} h; target <= {TARGET_UL:g} uL displaced and")
    print(f"alarms    released; commercial pumps: {COMMERCIAL}")
    print("alarms    syringe  rate mL/h  ceiling  to alarm min  displaced uL  bolus uL")
    worst = 0.0
    worst_bolus = 0.0
    for size in SYRINGES:
        for rate in RATES:
            for ceiling in ("low", "high"):
                minutes, displaced, bolus = occlusion_row(size, rate, ceiling)
                worst = max(worst, displaced)
                worst_bolus = max(worst_bolus, bolus or 0.0)
                b = f"{bolus:8.2f}" if bolus is not None else "     n/a"
                print(
                    f"alarms    {size:4d} mL  {rate:9.3f}  {ceiling:7s}  {minutes:12.1f}  "
                    f"{displaced:12.2f}  {b}"
                )
    verdict = "met" if worst <= TARGET_UL else "MISSED"
    print(f"alarms    worst displaced {worst:.2f} uL (target <= {TARGET_UL:g}): {verdict}")
    verdict = "met" if worst_bolus <= TARGET_UL else "MISSED (no plunger back-off yet)"
    print(f"alarms    worst bolus released {worst_bolus:.2f} uL (target <= 10): {verdict}")
    errs = [near_empty_error_s(r) for r in (0.136, 1.0, 5.0)]
    print(
        "alarms    near-empty warning error "
        + ", ".join(f"{e:+.1f} s" for e in errs)
        + " (target +-60 s)"
    )
    t0 = time.monotonic()
    days, found = false_alarms(args.budget_s, args.days)
    spent = time.monotonic() - t0
    per_day = spent / days if days else float("inf")
    print(
        f"alarms    false alarms: {sum(len(a) for _, a in found)} in {days} patient-days "
        f"({spent:.0f} s on 2 cores, {per_day:.1f} s a day); target 0 in {args.days} days"
        + (
            ""
            if days >= args.days
            else f": {days} of {args.days} days in the budget, {args.days * per_day / 60:.0f}"
            " min for all at this speed"
        )
    )
    for seed, alarms in found:
        print(f"alarms    false alarm on day seed {seed}: {', '.join(alarms)}")


if __name__ == "__main__":
    main()
