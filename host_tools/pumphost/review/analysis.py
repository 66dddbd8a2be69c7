"""What a patient received, from stored records alone: delivered and programmed dose, the
titration history, pauses, alarms with their durations, gaps; and the per-patient figures
the cohort table is made of. Pure functions of the records (no database, no pages)."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from pump import events
from pump.alarms import KINDS
from pumphost.logs import timeaxis

ALARM_NAMES = {code: kind for kind, (code, _, _) in KINDS.items()}
GAP_S = 300  # no record for this long while running: the log has a hole there
_STOPPED = (events.PAUSE, events.STOP, events.COMPLETE, events.FAULT)
# Code 15 (a: nL granted, b: ms) is the bolus of pump.program; older firmware has none.
BOLUS = getattr(events, "BOLUS", 15)


@dataclass(frozen=True)
class Rec:
    device: int
    seq: int
    code: int
    a: int
    b: int
    t: int  # Unix s (the records' timeline)


@dataclass
class Alarm:
    kind: str
    raised: int
    cleared: int | None = None  # None: still active at the end of the record
    acknowledged: int | None = None

    @property
    def duration_s(self) -> int | None:
        return None if self.cleared is None else self.cleared - self.raised


@dataclass
class Timeline:
    t0: int = 0
    t1: int = 0
    programs: list[tuple[int, int, int]] = field(default_factory=list)  # t, ug/24 h, ug/mL
    rates: list[tuple[int, float]] = field(default_factory=list)  # t, mL/h
    loads: list[tuple[int, int, int]] = field(default_factory=list)  # t, syringe code, nL
    pauses: list[tuple[int, int | None]] = field(default_factory=list)
    boluses: list[tuple[int, int, int]] = field(default_factory=list)  # t, nL, ms
    alarms: list[Alarm] = field(default_factory=list)
    gaps: list[tuple[int, int, str]] = field(default_factory=list)
    boots: int = 0
    # cumulative delivered and programmed dose (ug) at times t (piecewise linear between)
    dt: list[int] = field(default_factory=list)
    dug: list[float] = field(default_factory=list)
    pt: list[int] = field(default_factory=list)
    pug: list[float] = field(default_factory=list)
    axis: timeaxis.Axis | None = None  # the plots' (record_axis): long stretches cut out

    @property
    def days(self) -> float:
        return self.known_s(self.t0, self.t1) / 86400

    def known_s(self, a: float, b: float) -> float:
        """Seconds from a to b, not counting a stretch without records whose length is not
        known (the clock was set on one side of it only: it is not the decades between)."""
        ax = self.axis
        if ax is None:
            return float(b - a)
        m = ax.cut_unknown & (ax.cut_from >= a) & (ax.cut_to <= b)
        return float(b - a - (ax.cut_to[m] - ax.cut_from[m]).sum())

    def delivered_between(self, a: np.ndarray) -> np.ndarray:
        return np.interp(a, self.dt, self.dug) if self.dt else np.zeros(len(a))

    def programmed_between(self, a: np.ndarray) -> np.ndarray:
        return np.interp(a, self.pt, self.pug) if self.pt else np.zeros(len(a))


def timeline(recs: list[Rec]) -> Timeline:
    """recs: one patient's records in time order (several pumps: each seq run in order)."""
    tl = Timeline()
    if not recs:
        return tl
    tl.t0, tl.t1 = recs[0].t, recs[-1].t
    conc = 0  # ug/mL of the program in force
    rate = 0.0  # nL/h
    before = 0.0  # the rate before the last RATE record: the program's, under a boost
    boosted = False  # a BOLUS record after the last RATE record: that rate is boosted
    running = False
    since = recs[0].t
    p_ug = 0.0
    d_ug = 0.0
    syr_nl = 0  # delivered from the loaded syringe (cumulative in its DELIVERED records)
    nl_per_step = 0.0
    pause_from: int | None = None
    last_t = recs[0].t
    open_alarms: dict[str, Alarm] = {}
    tl.dt.append(recs[0].t)
    tl.dug.append(0.0)
    tl.pt.append(recs[0].t)
    tl.pug.append(0.0)

    def deliver_to(nl: int, t: int) -> None:
        nonlocal syr_nl, d_ug
        if nl > syr_nl:
            d_ug += (nl - syr_nl) * conc / 1e6
            syr_nl = nl
        tl.dt.append(t)
        tl.dug.append(d_ug)

    for r in recs:
        c, t = r.code, r.t
        if running and t - last_t > GAP_S:
            tl.gaps.append((last_t, t, "no record while running"))
        prev, last_t = last_t, t
        if c == events.DELIVERED:
            if r.b > 0:
                nl_per_step = r.a / r.b
            deliver_to(r.a, t)
            continue
        if running:  # a reset: the pump stopped after the last record before it, not at it
            end = t if c != events.BOOT else min(t, max(since, prev))
            p_ug += rate * (end - since) / 3600 * conc / 1e6
        since = t
        tl.pt.append(t)
        tl.pug.append(p_ug)
        if c == events.CLOCK and r.a >= 0 and r.b > r.a:
            since += r.b - r.a  # set forward: the timeline skips that, it is no running time
            last_t = since  # nor a hole in the log
            tl.pt.append(since)
            tl.pug.append(p_ug)
        # Their counts are to the step (a pause's: 0 before issue 18, which changes nothing).
        if c in (events.STOP, events.COMPLETE, events.PAUSE) and nl_per_step:
            deliver_to(round(r.a * nl_per_step), t)
        if c == events.LOAD:
            syr_nl = 0
            tl.loads.append((t, r.a, r.b))
        elif c == events.PROGRAM:
            conc = r.b
            tl.programs.append((t, r.a, r.b))
        elif c == events.RATE and r.b > 0:
            before, rate, boosted = rate, r.a / r.b, False
            tl.rates.append((t, rate / 1e6))
        elif c == BOLUS:
            # Programmed already: the firmware logs the boosted rate (program plus bolus)
            # before this record, and the program's rate when the bolus ends.
            tl.boluses.append((t, r.a, r.b))
            boosted = True
        elif c == events.BOOT:
            tl.boots += 1
            running = False
        elif c == events.ALARM:
            kind = ALARM_NAMES.get(r.a, f"alarm {r.a}")
            if r.b == events.ALARM_RAISED:
                open_alarms[kind] = Alarm(kind, t)
                tl.alarms.append(open_alarms[kind])
            elif r.b == events.ALARM_ACKNOWLEDGED and kind in open_alarms:
                open_alarms[kind].acknowledged = t
            elif r.b == events.ALARM_CLEARED and kind in open_alarms:
                open_alarms.pop(kind).cleared = t
        if c in (events.START, events.RESUME):
            running = True
            if pause_from is not None:
                tl.pauses.append((pause_from, t))
                pause_from = None
        elif c in _STOPPED or c == events.BOOT:
            running = False
            if boosted:  # a bolus cut short: the pump goes on at the program's rate
                rate, boosted = before, False
                tl.rates.append((t, rate / 1e6))
            if c == events.PAUSE:
                pause_from = t
    if pause_from is not None:
        tl.pauses.append((pause_from, None))
    tl.dt.append(tl.t1)
    tl.dug.append(d_ug)
    end_p = p_ug + (rate * (tl.t1 - since) / 3600 * conc / 1e6 if running else 0.0)
    tl.pt.append(tl.t1)
    tl.pug.append(end_p)
    tl.axis = record_axis(recs)
    return tl


def record_axis(recs: list[Rec]) -> timeaxis.Axis:
    """The plots' axis (timeaxis): long stretches without records cut out, by whole days
    where the clock was set on both sides (a date keeps its time of day across the cut)."""
    t = np.fromiter((r.t for r in recs), dtype=np.int64, count=len(recs))
    return timeaxis.build(t, t >= CLOCK_FROM, 86400)


def on_axis(tl: Timeline, t: np.ndarray | list[float]) -> np.ndarray:
    """Times' places on the plots' axis, as Unix s: the time itself up to the first stretch
    cut out, earlier by what was cut out before it after."""
    if tl.axis is None:
        return np.asarray(t, dtype=float)
    return tl.t0 + tl.axis.place(t)


def from_axis(tl: Timeline, v: np.ndarray | list[float]) -> np.ndarray:
    """The times at places on the plots' axis (on_axis's inverse)."""
    if tl.axis is None:
        return np.asarray(v, dtype=float)
    return tl.axis.time(np.asarray(v, dtype=float) - tl.t0)


def cuts(tl: Timeline) -> list[tuple[int, int, str]]:
    """The stretches without records the plots leave out: from, to, how long."""
    ax = tl.axis
    if ax is None:
        return []
    return [
        (int(a), int(b), "how long not known (the clock was not set on one side)" if u
         else f"no record for {timeaxis.duration(s)}")
        for a, b, s, u in zip(ax.cut_from, ax.cut_to, ax.cut_s, ax.cut_unknown, strict=True)
    ]  # fmt: skip


def seq_gaps(
    seqs_by_device: dict[int, list[int]], anchors: dict[int, dict[int, int]] | None = None
) -> list[tuple[int, int, int, int | None]]:
    """(device, first missing seq, last missing seq, burned) between stored records. anchors:
    per device, each stored TIME anchor's seq and the seqs it says the pump burned since the
    anchor before (a power cut at boot, a failed write, a sector's unused end: never written).
    burned is the seq of the anchor that accounts for the gap, when every seq missing between
    it and the stored anchor before is accounted for; else None: not uploaded (or overwritten
    on the pump)."""
    out = []
    for dev, seqs in seqs_by_device.items():
        burns = (anchors or {}).get(dev, {})
        at = sorted(burns)
        gaps = [(a + 1, b - 1) for a, b in zip(seqs, seqs[1:], strict=False) if b > a + 1]
        nxt = [at[i] if (i := bisect.bisect_right(at, b)) < len(at) else None for _, b in gaps]
        missing: dict[int, int] = {}
        for (a, b), n in zip(gaps, nxt, strict=True):
            if n is not None:
                missing[n] = missing.get(n, 0) + b - a + 1
        for (a, b), n in zip(gaps, nxt, strict=True):
            ok = n is not None and missing[n] <= burns[n]
            out.append((dev, a, b, n if ok else None))
    return out


CLOCK_FROM = 1577836800  # the log epoch (2020): a pump's clock is never set before it


def clock_set(t: float) -> bool:
    """Whether a timeline time is the device's UTC (its clock was set): a pump whose clock was
    never set has its records timed from its uptime, from 0 (decode), never 2020 or later."""
    return t >= CLOCK_FROM


def unset_time(t: float) -> str:
    """A time on the timeline of a pump whose clock was never set: the day and time since
    the record began (pump uptime), never a 1970 date."""
    t = int(t)
    return f"clock not set: day {t // 86400 + 1}, {t // 3600 % 24:02d}:{t // 60 % 60:02d}"


@dataclass
class Day:
    date: str  # local date at the site
    delivered_ug: float
    programmed_ug: float
    dose_end: int | None  # ug/24 h programmed at the end of the day
    pauses: int
    paused_min: float
    alarms: int
    loads: int


def _day_edges(a: float, b: float, tz: ZoneInfo) -> list[dt.datetime]:
    """The midnights at the site from the one before a to the first at or after b."""
    start = dt.datetime.fromtimestamp(a, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    end = dt.datetime.fromtimestamp(b, tz)
    edges = [start]
    while len(edges) < 2 or edges[-1] < end:
        d = (edges[-1] + dt.timedelta(days=1, hours=2)).date()  # DST-safe next midnight
        edges.append(dt.datetime(d.year, d.month, d.day, tzinfo=tz))
    return edges


def _days(tl: Timeline, tz: ZoneInfo) -> list[tuple[float, float, str]]:
    """The days of the stretches of the record the plots keep (not the days of a stretch cut
    out: so at most some 1,000 and two a stretch, whatever the time stamps say): start, end,
    the local date at the site; where the clock was not set, the day of the record."""
    ax = tl.axis
    starts, ends = [float(tl.t0)], [float(tl.t1)]
    if ax is not None and len(ax.cut_from):
        starts += (ax.cut_to - ax.cut_kept).tolist()  # what a cut to whole days keeps
        ends[:0] = ax.cut_from.tolist()
    days: dict[float, tuple[float, str]] = {}
    for a, b in zip(starts, ends, strict=True):
        unset = not clock_set(b)  # uptime from 0: days of the record, not of the calendar
        edges = _day_edges(a, b, ZoneInfo("UTC") if unset else tz)
        for lo, hi in zip(edges, edges[1:], strict=False):
            t = lo.timestamp()
            label = unset_time(t).split(",")[0] if unset else lo.date().isoformat()
            days.setdefault(t, (hi.timestamp(), label))
    return sorted((lo, hi, label) for lo, (hi, label) in days.items())


def _at(tl: Timeline, v: np.ndarray, ts: list[int], vs: list[float]) -> np.ndarray:
    """A cumulative curve (vs at times ts) at places v on the plots' axis."""
    return np.interp(v, on_axis(tl, ts), vs) if ts else np.zeros(len(v))


def per_day(tl: Timeline, tz: ZoneInfo) -> list[Day]:
    """Delivered and programmed per local day at the site; with the clock never set, per
    24 h of the record ("clock not set: day N"). The days of a stretch without records the
    plots cut out are left out too (what came across it counts on the day it ends)."""
    if not tl.dt:
        return []
    days = _days(tl, tz)
    lo = np.array([d[0] for d in days])
    hi = np.array([d[1] for d in days])
    a, b = on_axis(tl, lo), on_axis(tl, hi)
    dl = _at(tl, b, tl.dt, tl.dug) - _at(tl, a, tl.dt, tl.dug)
    pr = _at(tl, b, tl.pt, tl.pug) - _at(tl, a, tl.pt, tl.pug)
    doses = np.searchsorted([t for t, _, _ in tl.programs], hi) - 1  # the last before the end

    def count(ts: list[int]) -> np.ndarray:  # times (in order) in each day
        return np.searchsorted(ts, hi) - np.searchsorted(ts, lo)

    # paused time up to each moment: the pauses (in order, one after another) added up
    ps = [(p, q if q is not None else tl.t1) for p, q in tl.pauses]
    upto = np.cumsum([0] + [q - p for p, q in ps])
    xp = [t for p in ps for t in p]
    fp = [c for i, _ in enumerate(ps) for c in (upto[i], upto[i + 1])]
    paused = np.interp(hi, xp, fp) - np.interp(lo, xp, fp) if ps else np.zeros(len(days))
    pauses = count([p for p, _ in ps])
    alarms = count([al.raised for al in tl.alarms])
    loads = count([t for t, _, _ in tl.loads])
    return [
        Day(
            date=label,
            delivered_ug=float(dl[i]),
            programmed_ug=float(pr[i]),
            dose_end=tl.programs[doses[i]][1] if doses[i] >= 0 else None,
            pauses=int(pauses[i]),
            paused_min=float(paused[i]) / 60,
            alarms=int(alarms[i]),
            loads=int(loads[i]),
        )
        for i, (_, _, label) in enumerate(days)
    ]


def per_hour(tl: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hour edges on the plots' axis (on_axis: Unix s while nothing is cut out; from the first
    whole hour, so at most timeaxis.MAX_H + 2), delivered and programmed ug per hour."""
    h0 = tl.t0 - tl.t0 % 3600
    edges = np.arange(h0, on_axis(tl, [tl.t1])[0] + 3600, 3600, dtype=float)
    dl, pr = _at(tl, edges, tl.dt, tl.dug), _at(tl, edges, tl.pt, tl.pug)
    return edges, np.diff(dl), np.diff(pr)


@dataclass
class PatientFigures:
    """What the cohort table is made of, for one patient."""

    start_dose: int | None
    escalated: bool
    escalated_dose: int | None  # the highest dose programmed after the start, if escalated
    hours_to_escalation: float | None
    alarms: int
    days: float
    delivered_ug: float


def figures(tl: Timeline) -> PatientFigures:
    start = tl.programs[0][1] if tl.programs else None
    higher = [(t, d) for t, d, _ in tl.programs if start is not None and d > start]
    return PatientFigures(
        start_dose=start,
        escalated=bool(higher),
        escalated_dose=max(d for _, d in higher) if higher else None,
        hours_to_escalation=(
            tl.known_s(tl.programs[0][0], higher[0][0]) / 3600 if higher else None
        ),
        alarms=len(tl.alarms),
        days=tl.days,
        delivered_ug=tl.dug[-1] if tl.dug else 0.0,
    )
