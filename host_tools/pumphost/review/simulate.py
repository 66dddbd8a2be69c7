"""`pumpctl cohort simulate`: a cohort of pumps on the emulator (the firmware's own core and
log writer), starting doses and escalations drawn to match the seed study, with pauses,
syringe changes and, for a few patients, an occlusion from the plant model.

Doses come from a beta distribution on the clinical range, 1,000-3,000 µg/24 h, with the
study's mean and SD, and are then moment-matched within that range (the sample mean and SD
are set to the study's before rounding, no draw leaves the range), so the cohort lands on the
study's table up to rounding and the pairing constraint (an escalated dose is above that
patient's start). The ground truth is what the driver applied
and the alarm manager raised, never read back from the log."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from pump import controller as ctl
from pump import rate as core_rate
from pumphost import boards
from pumphost.sim.emulator import Emulator
from pumphost.sim.scenario import Scenario

START_MEAN, START_SD = 1632.0, 522.0
ESC_MEAN, ESC_SD = 2166.7, 464.0
ESC_SHARE = 2 / 3
CONC = 500  # µg/mL
SYRINGE = "bd-plastipak-10ml"
USABLE_NL = 10_000_000
# The clinical range (README: octreotide CSCI, 1,000-3,000 µg/24 h): every dose drawn is in it.
MIN_DOSE, MAX_DOSE = 1000, 3000
ESC_STEP = 100  # an escalation raises the dose by at least this much (µg/24 h)
US = 60_000_000  # a minute


@dataclass
class Plan:
    code: str
    serial: str
    start_dose: int
    escalated_dose: int | None
    escalate_min: int | None
    pauses: list[tuple[int, int]]  # at minute, for minutes
    changes: list[int]  # syringe changes at minute
    occlusion_min: int | None  # the plant model blocks the line here (cleared 30 min on)
    seed: int


@dataclass
class Truth:
    code: str
    serial: str
    file: str
    start_dose: int
    escalated: bool
    escalated_dose: int | None
    hours_to_escalation: float | None
    alarms: int
    alarm_kinds: list[str]
    days: float
    delivered_ug: float
    pauses: int
    syringe_changes: int
    not_applied: list[str] = field(default_factory=list)


def _beta(mean: float, sd: float) -> tuple[float, float]:
    """The beta distribution's (a, b) on [MIN_DOSE, MAX_DOSE] with this mean and SD."""
    span = MAX_DOSE - MIN_DOSE
    m, v = (mean - MIN_DOSE) / span, (sd / span) ** 2
    k = m * (1 - m) / v - 1
    if not (0 < m < 1 and k > 0):
        raise ValueError(f"no distribution on {MIN_DOSE}-{MAX_DOSE} has mean {mean}, SD {sd}")
    return m * k, (1 - m) * k


def _matched(
    rng: np.random.Generator, n: int, mean: float, sd: float, floor: np.ndarray | None = None
) -> np.ndarray:
    """n doses, ascending, from the beta with this mean and SD on the clinical range, then
    moment-matched in it: rescale to the sample mean and SD, clip to the range (and to
    `floor`, ascending lower bounds, one per rank), again until it holds. A fixed point of
    the two is exact, and both keep the order; the range leaves room (1,632 +- 522 is 1.2 SD
    above 1,000)."""
    a, b = _beta(mean, sd)
    x = np.sort(MIN_DOSE + (MAX_DOSE - MIN_DOSE) * rng.beta(a, b, n))
    lo = np.full(n, float(MIN_DOSE)) if floor is None else np.maximum(floor, MIN_DOSE)
    x = np.clip(x, lo, MAX_DOSE)
    if n > 1:
        for _ in range(200):
            s = x.std(ddof=1)
            if s == 0:
                break
            y = np.clip(mean + sd * (x - x.mean()) / s, lo, MAX_DOSE)
            if np.array_equal(y, x):
                break
            x = y
    return x


def _free(busy: list[tuple[int, int]], a: int, b: int) -> bool:
    return all(b <= lo or a >= hi for lo, hi in busy)


def plan(patients: int, days: int, seed: int, plant_alarms: int) -> list[Plan]:
    rng = np.random.default_rng(seed)
    starts = np.rint(rng.permutation(_matched(rng, patients, START_MEAN, START_SD))).astype(int)
    # Only a start with room for a step below the range's top can be escalated.
    room = [i for i in range(patients) if starts[i] <= MAX_DOSE - ESC_STEP]
    n_esc = min(round(patients * ESC_SHARE), len(room)) if days > 1 else 0
    who = sorted(rng.choice(room, n_esc, replace=False).tolist()) if n_esc else []
    # Paired by rank (the highest escalated dose to the highest start), each at least a step
    # above its start (an escalation raises the dose) and in the range.
    order = sorted(who, key=lambda i: starts[i])
    floor = np.array([starts[i] + ESC_STEP for i in order], dtype=float)
    esc = _matched(rng, n_esc, ESC_MEAN, ESC_SD, floor)
    esc_dose = {i: int(round(e)) for i, e in zip(order, esc, strict=True)}
    occl = set(rng.choice(patients, min(plant_alarms, patients), replace=False).tolist())
    end = days * 1440
    plans = []
    for i in range(patients):
        busy: list[tuple[int, int]] = [(end - 60, end)]  # the last hour runs undisturbed
        occ = None
        if i in occl:
            occ = int(rng.integers(180, end - 240))
            busy.append((occ - 20, occ + 60))
        esc_min = None
        if i in esc_dose:
            while esc_min is None:
                m = int(rng.integers(720, end - 120))
                if _free(busy, m - 5, m + 5):
                    esc_min = m
                    busy.append((m - 5, m + 5))
        changes = []
        m = 0
        while True:
            m += int(rng.integers(20 * 60, 36 * 60))
            if m >= end - 60:
                break
            while not _free(busy, m - 5, m + 5):
                m += 15
            changes.append(m)
            busy.append((m - 5, m + 5))
        pauses = []
        for _ in range(int(rng.integers(0, 3)) * days):
            at, dur = int(rng.integers(30, end - 120)), int(rng.integers(10, 60))
            if _free(busy, at - 5, at + dur + 5):
                pauses.append((at, dur))
                busy.append((at - 5, at + dur + 5))
        plans.append(
            Plan(
                code=f"C{seed}-P{i + 1:02d}",
                serial=f"SIM-{seed}-{i + 1:02d}",
                start_dose=int(starts[i]),
                escalated_dose=esc_dose.get(i),
                escalate_min=esc_min,
                pauses=sorted(pauses),
                changes=changes,
                occlusion_min=occ,
                seed=seed * 1000 + i,
            )
        )
    return plans


def _fill(dose: int, minutes: int) -> str:
    """A syringe filled for `minutes` at `dose`, with 15 % and 0.3 mL to spare (capped)."""
    nl = int(dose * 1_000_000 / CONC * minutes / 1440 * 1.15) + 300_000
    nl = min(nl, USABLE_NL)
    return f"{nl // 1_000_000}.{nl % 1_000_000:06d}"


def run(p: Plan, days: int, out: Path) -> Truth:
    end = days * 1440
    rate = core_rate.from_dose(p.start_dose, CONC)
    first_change = p.changes[0] if p.changes else end
    fill = _fill(max(p.start_dose, p.escalated_dose or 0), first_change)
    sc = Scenario(
        name=p.code,
        board=boards.load("pico"),
        syringe_id=SYRINGE,
        fill_nl=int(Fraction(fill) * 1_000_000),
        rate=rate,
        program_text=f"{p.start_dose} µg/24 h at {CONC} µg/mL",
        duration_us=end * US,
        start_tick=(1 << 30) - 5_000_000,
        dose=(p.start_dose, CONC),
        plant_seed=p.seed if p.occlusion_min is not None else None,
        faults=(
            [
                (p.occlusion_min * 60.0, "occlusion"),
                (p.occlusion_min * 60.0 + 1800, "occlusion_release"),
            ]
            if p.occlusion_min is not None
            else []
        ),
        serial=p.serial,  # the pump names its log: the service takes it only under its token
    )
    emu = Emulator(sc, log=True)
    pump = emu.pump
    seen: list[object] = []  # alarm objects the manager raised (identity, kept alive here)

    def run_to(minute: int) -> None:
        while emu.clock.elapsed_us < minute * US:  # hour by hour: no alarm leaves unseen
            emu.run_until(min(minute * US, emu.clock.elapsed_us + 60 * US))
            for a in pump.alarm_history():
                if not any(a is s for s in seen):
                    seen.append(a)

    dose = p.start_dose
    pump.dose(dose, CONC)
    pump.start()
    actions: list[tuple[int, str, int]] = [(m, "change", k) for k, m in enumerate(p.changes)]
    actions += [(a, "pause", 0) for a, _ in p.pauses] + [(a + d, "resume", 0) for a, d in p.pauses]
    if p.escalate_min is not None:
        actions.append((p.escalate_min, "escalate", 0))
    if p.occlusion_min is not None:
        actions.append((p.occlusion_min + 35, "clear", 0))
    not_applied = []
    escalated_at = None
    for minute, what, k in sorted(actions):
        run_to(minute)
        try:
            if what == "pause":
                pump.pause()
            elif what == "resume":
                pump.resume()
            elif what == "escalate":
                assert p.escalated_dose is not None
                dose = p.escalated_dose
                pump.dose(dose, CONC)
                escalated_at = minute
            elif what == "clear":
                if pump.state == ctl.PAUSED:
                    pump.ack()
                    pump.resume()
            else:
                nxt = p.changes[k + 1] if k + 1 < len(p.changes) else end
                pump.stop()
                fill = _fill(max(dose, p.escalated_dose or 0), nxt - minute)
                pump.load(SYRINGE, fill)
                if emu.sensors is not None:  # the plant's new syringe: a full stroke ahead
                    pl = emu.plant
                    at_mm = pl.steps * pl.um_per_step / 1000
                    pl.stroke_mm = at_mm + float(Fraction(fill)) * 1e6 / emu.syringe.nl_per_mm
                pump.dose(dose, CONC)
                pump.start()
        except (ctl.TransitionError, core_rate.RateError) as e:
            not_applied.append(f"{what} at minute {minute}: {e}")
    run_to(end)
    pump.stop()  # the end of the observation: the record closes here
    path = out / f"{p.serial}.plog"
    emu.save_log(path)
    vol = Fraction(*emu.vol)
    delivered_ug = float(emu.stepper.position * vol * CONC / 1_000_000)
    return Truth(
        code=p.code,
        serial=p.serial,
        file=path.name,
        start_dose=p.start_dose,
        escalated=escalated_at is not None,
        escalated_dose=p.escalated_dose if escalated_at is not None else None,
        hours_to_escalation=escalated_at / 60 if escalated_at is not None else None,
        alarms=len(seen),
        alarm_kinds=[str(a.kind) for a in seen],  # type: ignore[attr-defined]
        days=float(days),
        delivered_ug=delivered_ug,
        pauses=len(p.pauses),
        syringe_changes=len(p.changes),
        not_applied=not_applied,
    )


def _run_one(args: tuple[Plan, int, str]) -> Truth:
    return run(args[0], args[1], Path(args[2]))


def simulate(
    patients: int, days: int, seed: int, out: Path, plant_alarms: int = 2, jobs: int = 0
) -> list[Truth]:
    out.mkdir(parents=True, exist_ok=True)
    plans = plan(patients, days, seed, plant_alarms)
    jobs = jobs or min(2, os.cpu_count() or 1)
    # The plant model's patients are the slow ones: started first, they overlap the rest.
    work = sorted(((p, days, str(out)) for p in plans), key=lambda w: w[0].occlusion_min is None)
    if jobs == 1:
        done = [_run_one(w) for w in work]
    else:
        with ProcessPoolExecutor(jobs) as ex:
            done = list(ex.map(_run_one, work))
    by_code = {t.code: t for t in done}
    truths = [by_code[p.code] for p in plans]
    doc = {
        "seed": seed,
        "days": days,
        "concentration_ug_per_ml": CONC,
        "patients": [asdict(t) for t in truths],
    }
    (out / "truth.json").write_text(json.dumps(doc, indent=1))
    return truths


def load_truth(d: Path) -> list[Truth]:
    """The cohort's ground truth; a file that is not one is a ValueError naming it."""
    path = d / "truth.json"
    text = path.read_text()
    try:
        return [Truth(**p) for p in json.loads(text)["patients"]]
    except (ValueError, TypeError, LookupError) as e:
        raise ValueError(f"{path}: not a cohort's truth.json (`cohort simulate` writes it)") from e
