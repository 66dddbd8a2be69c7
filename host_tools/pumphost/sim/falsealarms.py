"""False alarms over simulated patient-days of normal delivery, fast (make bench-alarms).

What runs, per patient-day (each its own seed, `plan_day`):
- the firmware's own detector: `pump.occlusion.OcclusionDetector`, built by `pump.api.Pump.load`
  for the day's syringe, fill and pressure ceiling, fed one sample at a time through its own
  `feed(force_mn, steps)`, reset at every start and resume as `Pump.start` and `resume` reset it;
- the load cell's own conversion: the rig's HX711 counts (`offset + round(force x scale)`, the
  nominal calibration, as hil/rig.py sets the virtual board's HX711) through
  `pump.loadcell.LoadCell.mn`, and its saturation test (a clamped 24-bit word) on every sample;
- every sample the board's HX711 gives while the motor runs: 10 per second (loadcell.PERIOD_US)
  on one grid all day, each fed with the plunger position at its instant;
- the plunger position from the firmware's exact plan: the day's `pump.controller.Controller`
  (the one `Pump.load` built) is started, paused, resumed and told the executed steps as the
  service step would tell it, and the position at each sample is its planner's `due(tau)` (or
  the count of `time_of(k)` at or before it, the same number), tau less the executor's start
  latency (simhw.stepper, the emulator's and the PIO's);
- the plant model, `pumphost.sim.plant`: the same `Plant` the emulator builds (`for_syringe`: its
  seeded friction profile, back-pressure phase, cell offset and drift), run over a whole run
  of samples at once with numpy (`Plant.run`, the same equations as `advance` and `sample`):
  the line's ODE solved exactly over each sample interval, the stopper's static friction
  until it moved BREAKAWAY_MM and dynamic friction with its profile and stick-slip after, the
  stopper bottoming, the cell's noise, offset, drift and clamp. The noise comes from numpy
  (seeded per syringe) or, with noise="plant", from the Plant's own random stream in the
  order Plant.sample() draws it;
- what the board's alarm logic does with a detector or load-cell result: a trip goes to the
  firmware's own `Pump.on_sensor_alarm` (occlusion, or empty when under 10 % of the fill is left:
  the stopper bottoming out), a clamped word to its sensor_fault, on the Pump that
  owns the detector; what it raises is what is counted.
- a normal day around it: CSCI rates spread over 0.05-0.3 mL/h and 15 % of days at 1-5 mL/h,
  every catalogue syringe, fills of a quarter to a full syringe, low, medium or high ceiling,
  0-3 pauses of 1-30 min (the plant keeps running while paused: the line relaxes and the
  stopper comes to rest), and a new syringe 5-20 min after each one empties (a new plant and
  a new `Pump.load`). After a false alarm the pump has stopped: the nurse checks the line and
  sets up a new syringe after the same 5-20 min, so the rest of the day is still watched
  (what the pump does after the alarm with that syringe is not replayed).

What is left out, and why no false alarm the board could raise from the force signal is:
- the rest of the service step (`Pump._service`: step ring upkeep, the executor checks,
  near-empty, the log): none of it reads the force; the alarms it raises (step_late,
  step_underrun, near_empty, reservoir_empty at the end of the plan) come from the step
  pipeline and the plan, not from the load cell. The emulator runs them all (`--emulator-days`
  in bench_alarms runs some days on it, and tests cross-check both paths sample by sample);
- the load cell's no-data fault (`LoadCell.take`: no conversion for `_STALE_US`) and the
  syringe switch: they come from the HX711's timing and a switch, not the force; the plant
  never opens the cell or unseats the syringe on a normal day;
- the exact phase of the first sample after a start or resume: the board's driver drops what
  waited (`take()` after a long idle gap, `_RESUME_US`), so it feeds the first conversion
  after its first service step, here the first sample after the command: at most one sample
  (100 ms) earlier, a sample of static friction (or none, before the first step) in the
  first uL, the take-up the detector leaves out;
- when the board's service step runs less often than the cell samples, the samples waiting at
  one step are fed with the position at that step; here (as on the emulator) each gets the
  position at its own instant, a step or so earlier at most.
Counted separately, not as false: `reservoir_empty` when the plan reaches the fill (the syringe
really is empty) and the near-empty warning (from the plan's time remaining, not the force).
"""

from __future__ import annotations

import argparse
import multiprocessing
import operator
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from pump import api, loadcell, mechanics, syringes
from pump import controller as ctl
from pump import rate as core_rate
from pumphost import boards
from pumphost.sim import plant
from pumphost.sim.hal import SimStepper, VirtualClock
from simhw.stepper import START_LATENCY_US

SAMPLE_US = loadcell.PERIOD_US  # the HX711 at 10 samples/s
DAY_US = 86_400_000_000
CSCI_ML_H = (0.05, 0.3)  # subcutaneous rates (octreotide: 0.1-0.14 mL/h)
FAST_ML_H = (1.0, 5.0)  # the faster days
FAST_DAYS = 0.15  # share of days at FAST_ML_H
SYRINGES = tuple(syringes.CATALOGUE)
CEILINGS = ("low", "medium", "high")
PAUSES = (0, 0, 1, 1, 2, 3)  # pauses a day, drawn evenly
PAUSE_MIN = (1.0, 30.0)
CHANGE_MIN = (5.0, 20.0)  # a new syringe this long after the last one emptied
TARGET_DAYS = 1000
TARGET_WALL_S = 900.0
BOARD = "pico"
_FULL = 0x1000000
_CHUNK = 36_000  # samples computed at once: an hour


def to_mn(force_n: np.ndarray, cell: loadcell.LoadCell) -> tuple[np.ndarray, np.ndarray]:
    """What the firmware's load cell gives for these forces: (mN, where it faults instead).
    The HX711 reads offset + round(force x scale) (the nominal calibration; so the rig sets
    the virtual board's, and the emulator's SimHX711 gives it), the 24-bit word decoded and
    converted by LoadCell.mn, a clamped word a fault (LoadCell.take: SATURATED)."""
    counts = cell.offset + np.rint(force_n * cell.scale).astype(np.int64)
    counts = np.clip(counts, loadcell.RAW_MIN, loadcell.RAW_MAX)
    raw = counts & (_FULL - 1)  # the HX711's word
    signed = np.where(raw & 0x800000, raw - _FULL, raw)
    mn = cell.mn(signed)  # the firmware's conversion, elementwise
    return mn, (raw == loadcell.RAW_MAX) | (raw == (loadcell.RAW_MIN & (_FULL - 1)))


# --- a patient-day --------------------------------------------------------------------------


@dataclass
class DayPlan:
    seed: int
    syringe: str
    rate_ml_h: str  # decimal, as pump.rate() takes it
    ceiling: str
    fills_ml: list[str]  # one per syringe, drawn ahead (more than a day can use)
    pauses: list[tuple[int, int]]  # (start, length) us
    changes_us: list[int]  # gap before each new syringe


def plan_day(seed: int) -> DayPlan:
    rng = random.Random(seed)
    syringe = rng.choice(SYRINGES)
    if rng.random() < FAST_DAYS:
        rate = f"{rng.uniform(*FAST_ML_H):.2f}"
    else:
        rate = f"{rng.uniform(*CSCI_ML_H):.3f}"
    ceiling = rng.choice(CEILINGS)
    usable_ml = syringes.lookup(syringe)[3] / 1000
    fills = [f"{max(1.0, rng.uniform(0.25, 1.0) * usable_ml):.1f}" for _ in range(64)]
    pauses = []
    for _ in range(rng.choice(PAUSES)):
        length = round(rng.uniform(*PAUSE_MIN) * 60e6)
        pauses.append((rng.randrange(DAY_US - length), length))
    pauses.sort()
    kept: list[tuple[int, int]] = []
    for s, n in pauses:  # overlapping pauses: the first one stands
        if not kept or s > kept[-1][0] + kept[-1][1]:
            kept.append((s, n))
    changes = [round(rng.uniform(*CHANGE_MIN) * 60e6) for _ in range(64)]
    return DayPlan(seed, syringe, rate, ceiling, fills, kept, changes)


@dataclass
class FalseAlarm:
    seed: int
    kind: str
    t_s: float  # into the day
    syringe_no: int  # 0: the day's first syringe
    rate_ml_h: str
    syringe: str
    delivered_ul: float  # from this syringe, at the alarm
    text: str
    load_s: float  # when this syringe was loaded and started
    fill_ml: str
    ceiling: str
    plant_seed: int

    def __str__(self) -> str:
        h, m = divmod(self.t_s / 60, 60)
        return (
            f"seed {self.seed}: {self.kind} at {int(h):02d}:{m:06.3f} h:min ({self.t_s:.1f} s)"
            f" into the day, {self.t_s - self.load_s:.1f} s after syringe {self.syringe_no + 1}"
            f" started ({self.syringe}, {self.fill_ml} mL, {self.rate_ml_h} mL/h, ceiling "
            f"{self.ceiling}, plant seed {self.plant_seed}, {self.delivered_ul:.1f} uL "
            f"delivered): {self.text}"
        )


def on_emulator(a: FalseAlarm, after_s: float = 120.0) -> list[tuple[str, float]]:
    """The syringe of a false alarm on the full emulator (pump.api.Pump and its service step
    on pumphost.sim.plant, `pumpctl sim`), from its start to `after_s` past the alarm, without
    the day's pauses, with the same plant seed (the noise then comes from the plant's own
    stream, not numpy's): the alarms it raises, (kind, s after the start)."""
    from pumphost.sim import scenario
    from pumphost.sim.emulator import Emulator

    hours = (a.t_s - a.load_s + after_s) / 3600
    text = scenario.plant_scenario(
        a.syringe, a.fill_ml, a.rate_ml_h, f"{hours:.6f}", a.plant_seed, a.ceiling, board=BOARD
    )
    res = Emulator(scenario.parse(text, f"false-alarm-{a.seed}")).run()
    return [(str(x["kind"]), float(x["raised_s"])) for x in res.alarms]  # type: ignore[arg-type]


@dataclass
class DayResult:
    seed: int
    rate_ml_h: str
    syringe: str
    running_h: float = 0.0
    samples: int = 0  # fed to the detector
    syringes: int = 0
    empties: int = 0  # reservoir_empty at the end of the plan: true alarms
    pauses: int = 0
    false_alarms: list[FalseAlarm] = field(default_factory=list)
    trace: list[tuple[int, int, int]] = field(default_factory=list)  # (us, mN, steps): watch


class _NoSensors:
    """The Pump's sensors while the fast path feeds its detector itself."""

    fault = 0

    def take(self) -> None:
        return None

    def present(self) -> bool:
        return True


def _mech() -> dict[str, int]:
    b = boards.load(BOARD)
    return {
        "lead_um": b.lead_um,
        "full_steps_per_rev": b.full_steps_per_rev,
        "microsteps": b.microsteps,
    }


class _Day:
    def __init__(
        self,
        plan: DayPlan,
        faults: list[tuple[float, str]],
        noise: str,
        stop_at_first: bool,
        plant_seed: int | None,
        watch: bool,
    ) -> None:
        self.plan = plan
        self.faults = faults
        self.noise = noise
        self.stop_at_first = stop_at_first
        self.plant_seed = plant_seed
        self.watch = watch
        self.mech = _mech()
        self.drive = mechanics.Drive(
            self.mech["lead_um"], self.mech["full_steps_per_rev"], self.mech["microsteps"]
        )
        self.clock = VirtualClock(0)
        self.cell = loadcell.LoadCell(lambda: -1, self.clock.ticks, lambda: 0)
        self.rate = core_rate.from_ml_per_h(*core_rate.parse_decimal(plan.rate_ml_h))
        self.res = DayResult(plan.seed, plan.rate_ml_h, plan.syringe)

    def tick(self, t_us: int) -> int:
        self.clock.advance_to(max(t_us, self.clock.elapsed_us))
        return self.clock.ticks_at(t_us)

    def run(self, end_us: int = DAY_US) -> DayResult:
        t = 0
        n = 0
        while t < end_us:
            t_end, stopped = self._syringe(n, t, end_us)
            if stopped and self.stop_at_first:
                break
            n += 1
            t = t_end + self.plan.changes_us[n % len(self.plan.changes_us)]
        return self.res

    def _syringe(self, n: int, t_load: int, end_us: int) -> tuple[int, bool]:
        """One syringe from its load at t_load until it empties, an alarm stops the pump or
        the day ends; returns (when, whether it ended early)."""
        plan, res = self.plan, self.res
        fill = plan.fills_ml[n % len(plan.fills_ml)]
        self.tick(t_load)
        stepper = SimStepper(self.clock, (self.drive.lead_um, self.drive.steps_per_rev))
        pump = api.Pump(
            self.mech, stepper, self.clock.ticks, sensors=_NoSensors(), ceiling=plan.ceiling
        )
        pump.load(plan.syringe, fill)
        res.syringes += 1
        c, det, syr = pump.controller, pump.detector, pump.syringe
        assert det is not None
        vol = c.vol
        seed = self.plant_seed if self.plant_seed is not None else plan.seed * 1000 + n
        # a line fault hits the syringe in use then: a new syringe comes with a new line
        faults = [((at * 1e6 - t_load) / 1e6, k) for at, k in self.faults if at * 1e6 >= t_load]
        p = plant.for_syringe(syr, self.drive, pump.fill_nl, seed, faults)
        rng = None if self.noise == "plant" else np.random.default_rng([plan.seed, n])
        pauses = [(s, s + d) for s, d in plan.pauses if s > t_load]
        # Start: as Pump.start() does to the controller and the detector (Pump._go).
        now = self.tick(t_load)
        c.set_rate(self.rate, now)
        c.start(now)
        c.anchor(now)
        det.reset(c.delivered)
        t0 = t_load
        while True:
            plan_ = c.plan
            d0 = c.delivered
            t_empty = t0 + plan_.time_of(c.capacity - d0)
            pause = next(((s, e) for s, e in pauses if s > t0), None)
            t_stop = min(t_empty, end_us, pause[0] if pause else end_us)
            # The samples while running: strictly after the command, before t_stop.
            k0 = t0 // SAMPLE_US + 1
            k1 = -(-t_stop // SAMPLE_US)  # first sample at or after t_stop
            hit = None
            for ka in range(k0, max(k0, k1), _CHUNK):  # an hour at a time
                ts = np.arange(ka, min(ka + _CHUNK, k1), dtype=np.int64) * SAMPLE_US
                # the executor's steps go out START_LATENCY_US after the plan's, as the PIO's
                pos = d0 + _due(plan_, np.maximum(ts - t0 - START_LATENCY_US, 0))
                force = p.run((ts - t_load) / 1e6, pos, rng)
                mn, bad = to_mn(force, self.cell)
                hit = self._feed(det, mn, bad, pos, ts)
                res.samples += len(ts) if hit is None else hit[0] + 1
                if hit is not None:
                    break
            if hit is not None:
                i, found = hit
                t_hit = int(ts[i])
                res.running_h += (t_hit - t0) / 3.6e9
                p.truncate(i)
                k = int(pos[i]) - d0
                last = t0 + plan_.time_of(k) if k else t0
                c.executed(k, self.tick(last))
                self.tick(t_hit)
                before = {id(a) for a in pump.active_alarms()}
                # As the pump's service step acts on its checks (a fault here: saturated);
                # the detector's own `found` says which occlusion test tripped.
                pump.on_sensor_alarm(api.ALARM_SENSOR if found < 0 else api.ALARM_OCCLUSION)
                for a in pump.active_alarms():
                    if id(a) not in before and a.kind != api.ALARM_NEAR_EMPTY:
                        res.false_alarms.append(
                            FalseAlarm(
                                plan.seed,
                                a.kind,
                                t_hit / 1e6,
                                n,
                                plan.rate_ml_h,
                                plan.syringe,
                                c.delivered * vol[0] / vol[1] / 1000,
                                a.text,
                                t_load / 1e6,
                                fill,
                                plan.ceiling,
                                seed,
                            )
                        )
                # The pump stopped (occlusion: paused, plunger backed off; empty or sensor
                # fault: stopped): the nurse checks the line and sets up a new syringe.
                return t_hit, True
            res.running_h += (t_stop - t0) / 3.6e9
            if t_stop == t_empty:
                c.executed(c.capacity - d0, self.tick(t_empty))
                assert c.state == ctl.COMPLETE and ctl.ALARM_EMPTY in c.alarms
                res.empties += 1
                return t_empty, False
            k = plan_.due(t_stop - t0)
            if k:
                c.executed(k, self.tick(t0 + plan_.time_of(k)))
            if t_stop >= end_us:
                return end_us, False
            assert pause is not None
            c.pause(self.tick(t_stop))  # checks the executed steps against the plan
            res.pauses += 1
            t1 = min(pause[1], end_us)
            self._rest(p, rng, t_stop, t1, t_load, c.delivered)
            if t1 >= end_us:
                return end_us, False
            now = self.tick(t1)
            c.resume(now)
            c.anchor(now)
            det.reset(c.delivered)
            t0 = t1

    def _rest(
        self,
        p: plant.Plant,
        rng: np.random.Generator | None,
        t0: int,
        t1: int,
        t_load: int,
        steps: int,
    ) -> None:
        """The plant while the motor stands: the line relaxes, nothing is fed."""
        ts = np.arange(t0 // SAMPLE_US + 1, -(-t1 // SAMPLE_US), dtype=np.int64) * SAMPLE_US
        if len(ts):
            p.run((ts - t_load) / 1e6, np.full(len(ts), steps, dtype=np.int64), rng)

    def _feed(
        self, det: object, mn: np.ndarray, bad: np.ndarray, pos: np.ndarray, ts: np.ndarray
    ) -> tuple[int, int] | None:
        """Each sample to the detector in turn: (index, result) of the first one that trips
        it (result -1: the load cell faulted there), or None."""
        faults = np.flatnonzero(bad)
        n = int(faults[0]) if len(faults) else len(mn)
        feed = det.feed  # type: ignore[attr-defined]
        forces, steps = mn[:n].tolist(), pos[:n].tolist()
        if self.watch:
            self.res.trace.extend(zip(ts[:n].tolist(), forces, steps, strict=True))
        # One feed() per sample in turn, stopping at the first that returns non-zero (as
        # the pump stops there), without a Python loop around it.
        it = iter(forces)
        found = next(filter(None, map(feed, it, steps)), 0)
        if found:
            return n - operator.length_hint(it) - 1, found
        return (n, -1) if n < len(mn) else None


def _due(plan: object, taus: np.ndarray) -> np.ndarray:
    """Steps of the planner's segment due by each tau (us after its start, increasing): its
    due(tau), or, when fewer steps than samples fall in the span, how many of its time_of(k)
    are at or before each tau (the same numbers)."""
    n = len(taus)
    if not n:
        return np.zeros(0, dtype=np.int64)
    due, time_of = plan.due, plan.time_of  # type: ignore[attr-defined]
    first, last = due(int(taus[0])), due(int(taus[-1]))
    if last - first < n:
        times = np.fromiter(map(time_of, range(first + 1, last + 1)), np.int64, last - first)
        return first + np.searchsorted(times, taus, side="right").astype(np.int64)
    return np.fromiter(map(due, taus.tolist()), np.int64, n)


def run_day(
    seed: int,
    faults: list[tuple[float, str]] | None = None,
    noise: str = "numpy",
    stop_at_first: bool = False,
    plan: DayPlan | None = None,
    end_s: float | None = None,
    plant_seed: int | None = None,
    watch: bool = False,
) -> DayResult:
    """One patient-day (seed), or the part of it up to end_s. faults: (s into the day, kind)
    of the line (occlusion, occlusion_release, partial_occlusion), for tests."""
    day = _Day(
        plan or plan_day(seed),
        faults or [],
        noise,
        stop_at_first,
        plant_seed,
        watch,
    )
    return day.run(DAY_US if end_s is None else round(end_s * 1e6))


# --- many days ------------------------------------------------------------------------------


@dataclass
class Summary:
    days: int = 0
    wall_s: float = 0.0
    running_h: float = 0.0
    samples: int = 0
    syringes: int = 0
    empties: int = 0
    pauses: int = 0
    fast_days: int = 0
    false_alarms: list[FalseAlarm] = field(default_factory=list)
    workers: int = 0
    stopped_by_budget: bool = False

    def add(self, r: DayResult) -> None:
        self.days += 1
        self.running_h += r.running_h
        self.samples += r.samples
        self.syringes += r.syringes
        self.empties += r.empties
        self.pauses += r.pauses
        self.fast_days += float(r.rate_ml_h) >= FAST_ML_H[0]
        self.false_alarms.extend(r.false_alarms)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.false_alarms:
            out[a.kind] = out.get(a.kind, 0) + 1
        return out


def run_days(
    days: int,
    first_seed: int = 1,
    workers: int = 2,
    budget_s: float = float("inf"),
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """`days` patient-days, seeds first_seed.., on `workers` processes, until done or the
    budget (s of wall time) runs out."""
    s = Summary(workers=workers)
    t0 = time.monotonic()
    seeds = range(first_seed, first_seed + days)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results: Iterator[DayResult] = pool.imap_unordered(run_day, seeds, chunksize=2)
        for r in results:
            s.add(r)
            s.wall_s = time.monotonic() - t0
            if progress is not None:
                progress(s)
            if s.wall_s > budget_s and s.days < days:
                s.stopped_by_budget = True
                pool.terminate()
                break
    s.wall_s = time.monotonic() - t0
    return s


RUNS = (
    "runs: the firmware's OcclusionDetector (pump.occlusion) and LoadCell conversion "
    "(pump.loadcell) on every 10 Hz sample while the motor runs, the plunger position from "
    "the firmware's exact plan (pump.controller/planner), trips raised by "
    "Pump.on_sensor_alarm; the plant (pumphost.sim.plant: friction, stick-slip, line, "
    "back-pressure, cell noise and drift) in bulk with numpy; pauses and syringe changes"
)
LEFT_OUT = (
    "left out: the rest of the service step (step ring, executor checks, near-empty, log) and "
    "the cell's no-data timeout: none of it reads the force, so no false occlusion/empty "
    "alarm can come from it (docstring of pumphost.sim.falsealarms)"
)


def report(s: Summary, target_days: int = TARGET_DAYS, confirm: int = 0) -> list[str]:
    """The summary's lines; `confirm`: run the first false alarm of that many days again
    on the full emulator (on_emulator) and say what it raised."""
    kinds = s.by_kind()
    per_min = s.days / (s.wall_s / 60) if s.wall_s else 0.0
    n = len(s.false_alarms)
    by = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "occlusion 0, empty 0"
    first: dict[int, FalseAlarm] = {}
    for a in s.false_alarms:
        # the emulator starts on its 100 ms sample grid: show one that did the same, if any
        if a.seed not in first or (_phase_us(a) == 0 and _phase_us(first[a.seed]) != 0):
            first[a.seed] = a
    speed_ok = s.days >= target_days and s.wall_s < TARGET_WALL_S
    per_kh = n / s.running_h * 1000 if s.running_h else 0.0
    lines = [
        f"false alarms: {n} ({by}) on {len(first)} of {s.days} patient-days, {per_kh:.2f} per "
        f"1,000 h of delivery; target 0: " + ("met" if n == 0 else "MISSED"),
        f"patient-days {s.days} (target >= {target_days}) in {s.wall_s:.0f} s wall on "
        f"{s.workers} processes: {per_min:.1f} simulated days per wall-minute; target "
        f"{target_days} days in < {TARGET_WALL_S / 60:.0f} min: "
        + ("met" if speed_ok else "MISSED" + (" (budget ran out)" if s.stopped_by_budget else "")),
        f"  {s.running_h:.0f} h of delivery, {s.samples:,} load-cell samples fed, "
        f"{s.syringes} syringes ({s.empties} emptied: reservoir_empty, a true alarm), "
        f"{s.pauses} pauses, {s.fast_days} days at {FAST_ML_H[0]:g}-{FAST_ML_H[1]:g} mL/h, "
        f"the rest at {CSCI_ML_H[0]:g}-{CSCI_ML_H[1]:g} mL/h",
        "  " + RUNS,
        "  " + LEFT_OUT,
    ]
    groups: dict[tuple[str, str, str], int] = {}
    for a in s.false_alarms:
        key = (a.syringe, a.rate_ml_h, a.kind)
        groups[key] = groups.get(key, 0) + 1
    for (syr, rate, kind), count in sorted(groups.items()):
        lines.append(f"  {count} {kind} with {syr} at {rate} mL/h")
    for i, a in enumerate(sorted(first.values(), key=lambda a: a.seed)):
        if i == 8:
            lines.append(f"  ... and {len(first) - 8} more days")
            break
        lines.append(f"  false alarm of day {a}")
        if i < confirm:
            got = on_emulator(a)
            said = ", ".join(f"{k} at {t:.1f} s" for k, t in got) or "nothing"
            lines.append(
                f"    the same syringe on the full emulator (same plant seed, its own noise, "
                f"no pauses, started on the sample grid; this one {_phase_us(a) / 1000:g} ms "
                f"off it): {said}; here {a.t_s - a.load_s:.1f} s after the start"
            )
    if first:
        lines.append("  replay a day: .venv/bin/python -m pumphost.sim.falsealarms --seed N")
    return lines


def _phase_us(a: FalseAlarm) -> int:
    """How far after a 10 Hz sample the alarm's syringe started, us."""
    return round(a.load_s * 1e6) % SAMPLE_US


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, help="replay this one day and say what happened")
    ap.add_argument("--days", type=int, default=TARGET_DAYS)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget-s", type=float, default=float("inf"))
    ap.add_argument("--confirm", type=int, default=3, help="days whose alarm the emulator reruns")
    args = ap.parse_args(argv)
    if args.seed is not None:
        t = time.monotonic()
        plan = plan_day(args.seed)
        r = run_day(args.seed, plan=plan)
        print(f"day {args.seed}: {plan.syringe} at {plan.rate_ml_h} mL/h, ceiling {plan.ceiling}")
        print(f"  pauses (start s, min): {[(s / 1e6, n / 60e6) for s, n in plan.pauses]}")
        print(
            f"  {r.syringes} syringes, {r.empties} emptied, {r.running_h:.2f} h delivering, "
            f"{r.samples:,} samples, {time.monotonic() - t:.1f} s"
        )
        for a in r.false_alarms[:5]:
            print(f"  false alarm: {a}")
        if len(r.false_alarms) > 5:
            print(f"  ... {len(r.false_alarms)} in all")
        if r.false_alarms and args.confirm:
            a = r.false_alarms[0]
            got = ", ".join(f"{k} at {t:.1f} s" for k, t in on_emulator(a)) or "nothing"
            print(f"  its syringe on the full emulator (no pauses, plant's own noise): {got}")
        if not r.false_alarms:
            print("  no false alarm")
        return
    s = run_days(args.days, args.first_seed, args.workers, args.budget_s)
    for line in report(s, args.days, args.confirm):
        print(line)


if __name__ == "__main__":
    main()
