"""Occlusion and empty alarms on the emulator, IEC 60601-2-24 style (make bench-alarms).

Every figure comes from the firmware application (pump.api.Pump with the occlusion detector)
running on the plant model (pumphost.sim.plant), through the same emulator as `pumpctl sim`:
- time to the occlusion alarm and the volume displaced meanwhile, at 0.1, 0.136, 1 and
  5 mL/h, low and high pressure ceiling, 10 and 30 mL syringes (the line blocks 30 min in);
- the volume the plunger's back-off drew back after the alarm, and the bolus released when
  the line opens 10 minutes after it (the patient's pressure drifts meanwhile);
- that bolus swept over the time the line blocks (every 30 min over one 4 h cycle of the
  plant's patient pressure) and a few plant seeds, at every rate and syringe: its worst
  against the 10 uL target, and what it is made of (`bolus_sweep`);
- the near-empty warning's error against the exact time 30 min before empty;
- false alarms over 1,000 patient-days of normal delivery (each its own seed) on both cores,
  through pumphost.sim.falsealarms: the firmware's own detector, load-cell conversion, exact step
  plan and alarm classification on the plant model, without the rest of the service step
  (none of which reads the force; its docstring says exactly what runs and what is left
  out); any false alarm is printed with its seed, day and time, and the first few are run
  again on the full emulator. `--emulator-days N` also runs N days on the full emulator
  (about 15 s of wall time each) as before.
- `--sweep 7,9,12,15`: the trade-off, measured: the detector's rise threshold (tenths of
  the force 10 uL trapped adds; the firmware's is 7) against the worst volume displaced
  before the alarm and the false alarms on the faster days (1-5 mL/h, where they come).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time
from dataclasses import dataclass

from pump import occlusion
from pumphost.sim import falsealarms, plant, scenario
from pumphost.sim.emulator import Emulator

RATES = (0.1, 0.136, 1.0, 5.0)
SYRINGES = {10: ("bd-plastipak-10ml", 10.0), 30: ("bd-plastipak-30ml", 30.0)}
OCCLUDE_AT_H = 0.5
TARGET_UL = 10.0  # issue 7: alarm with at most 10 uL displaced; bolus at most 10 uL
RELEASE_AFTER_MIN = 10  # the line opens this long after the alarm
# The bolus sweep: the block every 30 min over one cycle of the plant's patient pressure
# (plant.BACK_PRESSURE_PERIOD_S, 4 h), each on a few plant seeds (friction, noise, phase).
SWEEP_AT_H = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
SWEEP_SEEDS = (11, 12, 13)
COMMERCIAL = "Crono Five ~5 h at 0.1 mL/h; JMS 117 min at 0.5 mL/h; insulin pumps 3-5 U"


def _run(
    syringe: str,
    fill: float,
    rate: float,
    hours: float,
    seed: int,
    ceiling: str,
    faults: list[tuple[float, str]],
):  # noqa: ANN202
    text = scenario.plant_scenario(syringe, fill, rate, hours, seed, ceiling, faults)
    return Emulator(scenario.parse(text, "bench")).run()


@dataclass
class Case:
    """One block of the line, its alarm, back-off and release (RELEASE_AFTER_MIN later)."""

    size: int
    rate: float
    ceiling: str
    at_h: float
    seed: int
    minutes: float = float("inf")  # to the alarm (inf: none in the run)
    displaced: float = float("inf")  # uL pushed between the block and the alarm
    backoff: float | None = None  # uL drawn back
    released: float | None = None  # uL out into the line when it opened; < 0: flowed back
    expected: float | None = None  # what the plant says the release is made of (uL, below)

    def where(self) -> str:
        return f"{self.size} mL, {self.rate:g} mL/h, block at {self.at_h:g} h, seed {self.seed}"


def occlusion_case(
    size: int,
    rate: float,
    ceiling: str,
    at_h: float = OCCLUDE_AT_H,
    seed: int = 11,
    tail_h: float = 0.5,
) -> Case:
    """The line blocks at `at_h`; the run leaves time for 30 uL after it (and `tail_h` more,
    for a slow ceiling alarm), and the line opens RELEASE_AFTER_MIN after the alarm.

    `expected` is the release the plant predicts if the back-off took back exactly what the
    block added: C x (the patient's pressure at the block + the line's flow pressure then,
    R x q, - the patient's pressure when the line opens). `released - expected` is the
    back-off's own error."""
    syringe, fill = SYRINGES[size]
    hours = at_h + 30 / (rate * 1000) + tail_h + RELEASE_AFTER_MIN / 60 + 0.05
    text = scenario.plant_scenario(
        syringe, fill, rate, hours, seed, ceiling, [(at_h, "occlusion")]
    )
    emu = Emulator(scenario.parse(text, "bench"))
    emu.release_after_alarm(RELEASE_AFTER_MIN * 60)
    res = emu.run()
    case = Case(size, rate, ceiling, at_h, seed)
    occl = [a for a in res.alarms if a["kind"] == "occlusion"]
    if not occl:
        return case
    raised = float(occl[0]["raised_s"])  # type: ignore[arg-type]
    case.minutes = (raised - at_h * 3600) / 60
    case.displaced = rate * 1000 * case.minutes / 60
    case.backoff, case.released = res.backoff_ul, res.released_bolus_ul
    p: plant.Plant = emu.plant
    flow = p.resistance * rate * 1000 / 3600  # mmHg: the line's, at the rate, before the block
    opened = raised + RELEASE_AFTER_MIN * 60
    case.expected = p.compliance * (p.back_pressure(at_h * 3600) + flow - p.back_pressure(opened))
    return case


def occlusion_row(
    size: int, rate: float, ceiling: str
) -> tuple[float, float, float | None, float | None]:
    """(minutes to alarm, uL displaced, uL drawn back, uL bolus released) for one case."""
    c = occlusion_case(size, rate, ceiling)
    return c.minutes, c.displaced, c.backoff, c.released


def _sweep_case(args: tuple[int, float, float, int]) -> Case:
    size, rate, at_h, seed = args
    return occlusion_case(size, rate, "medium", at_h, seed, tail_h=0.0)


def sweep_cases(seeds: tuple[int, ...] = SWEEP_SEEDS) -> list[tuple[int, float, float, int]]:
    """(syringe, rate, block at, seed) for every rate and syringe of the table, each block
    time early enough that the alarm comes with 10 % of the fill still left (nearer the end
    the pump rightly calls a rise empty, not occlusion)."""
    return [
        (size, rate, at, seed)
        for size in SYRINGES
        for rate in RATES
        for at in SWEEP_AT_H
        if (at + 30 / (rate * 1000)) * rate < 0.9 * SYRINGES[size][1]
        for seed in seeds
    ]


def bolus_sweep(cases: list[tuple[int, float, float, int]], workers: int = 2) -> list[Case]:
    if workers == 1:
        return [_sweep_case(c) for c in cases]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_sweep_case, cases, chunksize=1)


def sweep_report(done: list[Case], target: float = TARGET_UL) -> list[str]:
    """Per syringe and rate: the released bolus's range over the sweep, and the most this
    plant allows (`bound`); then the worst bolus out and the worst flowing back, with where,
    against the target, and what the release is made of.

    The bound: `expected` at its worst phase of the patient's pressure (the fastest fall over
    the case's time from block to opening, 2 A sin(pi dt / T) for the plant's sinusoid of
    amplitude A and period T), plus the back-off's worst own error (released - expected)
    measured over the sweep. A sweep samples block times every 30 min: it can miss the worst
    phase by up to 15 min, the bound does not."""
    rel = [c for c in done if c.released is not None]
    err = [(c.released or 0.0) - (c.expected or 0.0) for c in rel]
    err_hi = max(err, default=0.0)
    lo_p, hi_p = plant.BACK_PRESSURE_MMHG

    def bound(c: Case) -> float:
        dt_s = c.minutes * 60 + RELEASE_AFTER_MIN * 60
        fall = (hi_p - lo_p) * math.sin(math.pi * min(dt_s / plant.BACK_PRESSURE_PERIOD_S, 0.5))
        flow = plant.LINE_RESISTANCE_MMHG_PER_UL_S * c.rate * 1000 / 3600
        return plant.compliance(c.size) * (flow + fall) + err_hi

    out = [
        f"bolus sweep: the line blocks at {', '.join(f'{a:g}' for a in SWEEP_AT_H)} h, plant "
        f"seeds {', '.join(str(s) for s in sorted({c.seed for c in done}))}; it opens "
        f"{RELEASE_AFTER_MIN} min after the alarm; released µL (< 0: flowed back), and the "
        "most this plant allows (bound, below)",
        "syringe  rate mL/h  cases  no alarm      min      max    bound",
    ]
    bounds: list[tuple[float, Case]] = []
    for size in SYRINGES:
        for rate in RATES:
            cs = [c for c in done if c.size == size and c.rate == rate]
            got = [c for c in cs if c.released is not None]
            if not cs:
                continue
            if got:
                vals = [c.released or 0.0 for c in got]
                b = max(((bound(c), c) for c in got), key=lambda x: x[0])
                bounds.append(b)
                figs = f"{min(vals):+8.2f} {max(vals):+8.2f} {b[0]:+8.2f}"
            else:
                figs = f"{'n/a':>8s} {'n/a':>8s} {'n/a':>8s}"
            out.append(f"{size:4d} mL  {rate:9.3f}  {len(cs):5d}  {len(cs) - len(got):8d} {figs}")
    missing = [c for c in done if c.released is None]
    if missing:
        out.append(f"no alarm (so no release) in {len(missing)} cases: " + "; ".join(
            c.where() for c in missing[:5]))  # fmt: skip
    if not rel:
        return out
    worst = max(rel, key=lambda c: c.released or 0.0)
    back = min(rel, key=lambda c: c.released or 0.0)
    w = worst.released or 0.0
    verdict = "met" if w <= target else "MISSED"
    out.append(
        f"worst bolus released {max(w, 0.0):.2f} µL ({worst.where()}), target <= {target:g}: "
        f"{verdict} in the sweep"
    )
    top, at = max(bounds, key=lambda b: b[0])
    verdict = "met" if top <= target else "MISSED"
    out.append(
        f"worst this plant allows {top:.2f} µL ({at.size} mL at {at.rate:g} mL/h, the "
        f"patient's pressure falling its fastest), target <= {target:g}: {verdict}"
    )
    b = back.released or 0.0
    if b < 0:
        out.append(
            f"worst flowed back into the syringe {-b:.2f} µL ({back.where()}): infusate from "
            "the line (a 27 G set holds about 75 µL), a delay of that much delivery"
        )

    def flow_ul(size: int, rate: float) -> float:  # C R q: the line's flow pressure's volume
        r = plant.LINE_RESISTANCE_MMHG_PER_UL_S
        return plant.compliance(size) * r * rate * 1000 / 3600

    big = max(SYRINGES)
    out.append(
        "what it is made of: C x (patient pressure at the block + the line's flow pressure "
        "- patient pressure at the opening), to within the back-off's own error, "
        f"{min(err):+.2f} to {max(err):+.2f} µL: the back-off takes back what the block "
        f"added. The rest is the flow pressure (C R q on {big} mL: "
        f"{flow_ul(big, 0.136):.1f} µL at 0.136 mL/h, {flow_ul(big, max(RATES)):.1f} µL at "
        f"{max(RATES):g} mL/h) and the patient's pressure drift while the line was blocked, "
        "which the pump cannot see"
    )
    return out


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


def emulator_false_alarms(
    budget_s: float, target_days: int
) -> tuple[int, list[tuple[int, list[str]]]]:
    """Normal days (random plants) on the full emulator, both cores, until the budget runs
    out: the slow reference (a day at 5 mL/h ends when its 10 mL syringe is nearly empty)."""
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


def rise_sweep(tenths: list[int], days: int, first_seed: int = 1) -> None:
    """For each rise threshold: the worst displaced volume over the occlusion table's cases
    (high ceiling: the rise test, not the ceiling, must catch it) and the false occlusion
    alarms on the faster days among `days` patient-days. The threshold is set on the
    firmware's detector module for the run (the forked workers inherit it)."""
    fast = [
        s
        for s in range(first_seed, first_seed + days)
        if float(falsealarms.plan_day(s).rate_ml_h) >= falsealarms.FAST_ML_H[0]
    ]
    kept = occlusion.RISE_NUM
    print(
        f"alarms    rise sweep: {len(fast)} faster days of {days}; the firmware's rise is {kept}"
    )
    print("alarms    rise /10  worst displaced µL  false occlusion alarms  days with one")
    try:
        for n in tenths:
            occlusion.RISE_NUM = n
            worst = max(
                occlusion_row(size, rate, "high")[1] for size in SYRINGES for rate in RATES
            )
            with multiprocessing.get_context("fork").Pool(2) as pool:
                results = pool.map(falsealarms.run_day, fast, chunksize=2)
            alarms = [a for r in results for a in r.false_alarms if a.kind == "occlusion"]
            shown = f"{worst:18.2f}" if worst != float("inf") else "none in the run"
            print(
                f"alarms    {n:8d}  {shown:>18s}  {len(alarms):22d}  "
                f"{len({a.seed for a in alarms}):12d}"
            )
    finally:
        occlusion.RISE_NUM = kept


def occlusion_table() -> None:
    print(f"alarms    occlusion at {OCCLUDE_AT_H} h; target <= {TARGET_UL:g} µL displaced and")
    print(f"alarms    released; commercial pumps: {COMMERCIAL}")
    print(
        "alarms    syringe  rate mL/h  ceiling  to alarm min  displaced µL  back-off µL  bolus µL"
    )
    worst = 0.0
    worst_bolus = 0.0  # either way
    for size in SYRINGES:
        for rate in RATES:
            for ceiling in ("low", "high"):
                minutes, displaced, back, bolus = occlusion_row(size, rate, ceiling)
                worst = max(worst, displaced)
                worst_bolus = max(worst_bolus, abs(bolus or 0.0))
                b = f"{bolus:8.2f}" if bolus is not None else "     n/a"
                k = f"{back:11.2f}" if back is not None else "        n/a"
                print(
                    f"alarms    {size:4d} mL  {rate:9.3f}  {ceiling:7s}  {minutes:12.1f}  "
                    f"{displaced:12.2f}  {k}  {b}"
                )
    verdict = "met" if worst <= TARGET_UL else "MISSED"
    print(f"alarms    worst displaced {worst:.2f} µL (target <= {TARGET_UL:g}): {verdict}")
    print(
        f"alarms    bolus at the one block time above: {worst_bolus:.2f} µL at most, either "
        "way; over block times and seeds, the sweep below"
    )
    errs = [near_empty_error_s(r) for r in (0.136, 1.0, 5.0)]
    print(
        "alarms    near-empty warning error "
        + ", ".join(f"{e:+.1f} s" for e in errs)
        + " (target +-60 s)"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=840, help="time for the false-alarm run")
    ap.add_argument("--days", type=int, default=1000, help="patient-days to aim for")
    ap.add_argument("--first-seed", type=int, default=1, help="the first day's seed")
    ap.add_argument(
        "--confirm", type=int, default=3, help="days whose first false alarm the emulator reruns"
    )
    ap.add_argument("--emulator-days", type=int, default=0, help="days on the full emulator too")
    ap.add_argument("--false-alarms-only", action="store_true", help="skip the occlusion table")
    ap.add_argument("--sweep", help="rise thresholds in tenths, e.g. 7,9,12,15: only the sweep")
    ap.add_argument(
        "--bolus-seeds",
        default=",".join(str(s) for s in SWEEP_SEEDS),
        help="plant seeds of the bolus sweep (empty: no sweep)",
    )
    ap.add_argument("--bolus-only", action="store_true", help="only the bolus sweep")
    args = ap.parse_args(argv)
    if args.sweep:
        rise_sweep([int(n) for n in args.sweep.split(",")], args.days, args.first_seed)
        return
    seeds = tuple(int(s) for s in args.bolus_seeds.split(",") if s)
    if not args.false_alarms_only and not args.bolus_only:
        occlusion_table()
    if seeds and not args.false_alarms_only:
        t0 = time.monotonic()
        done = bolus_sweep(sweep_cases(seeds))
        for line in sweep_report(done):
            print("alarms    " + line)
        print(
            f"alarms    bolus sweep: {len(done)} cases, "
            f"{time.monotonic() - t0:.0f} s on 2 processes"
        )
    if args.bolus_only:
        return
    print(
        f"alarms    false-alarm run: {args.days} patient-days, 2 processes, budget "
        f"{args.budget_s:.0f} s (uptime load {_load()})"
    )
    summary = falsealarms.run_days(args.days, args.first_seed, 2, args.budget_s)
    for line in falsealarms.report(summary, args.days, args.confirm):
        print("alarms    " + line)
    print(f"alarms    load average after the run: {_load()} (2 cores, shared)")
    if args.emulator_days:
        t0 = time.monotonic()
        days, found = emulator_false_alarms(float("inf"), args.emulator_days)
        spent = time.monotonic() - t0
        print(
            f"alarms    full emulator: {sum(len(a) for _, a in found)} false alarms in {days} "
            f"days ({spent:.0f} s on 2 cores, {spent / max(days, 1):.1f} s a day)"
        )
        for seed, alarms in found:
            print(f"alarms    false alarm on the emulator, day seed {seed}: {', '.join(alarms)}")


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
