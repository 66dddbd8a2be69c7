"""What a patient received, from stored records alone: delivered and programmed dose, the
titration history, pauses, alarms with their durations, gaps; and the per-patient figures
the cohort table is made of. Pure functions of the records (no database, no pages)."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from pumphost import paths

paths.use_firmware_core()
from pump import events  # noqa: E402
from pump.alarms import KINDS  # noqa: E402

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

    @property
    def days(self) -> float:
        return (self.t1 - self.t0) / 86400

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
        last_t = t
        if c == events.DELIVERED:
            if r.b > 0:
                nl_per_step = r.a / r.b
            deliver_to(r.a, t)
            continue
        if running:
            p_ug += rate * (t - since) / 3600 * conc / 1e6
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
    return tl


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


def _day_edges(tl: Timeline, tz: ZoneInfo) -> list[dt.datetime]:
    start = dt.datetime.fromtimestamp(tl.t0, tz).replace(hour=0, minute=0, second=0)
    end = dt.datetime.fromtimestamp(tl.t1, tz)
    edges = [start]
    while len(edges) < 2 or edges[-1] < end:
        d = (edges[-1] + dt.timedelta(days=1, hours=2)).date()  # DST-safe next midnight
        edges.append(dt.datetime(d.year, d.month, d.day, tzinfo=tz))
    return edges


def per_day(tl: Timeline, tz: ZoneInfo) -> list[Day]:
    """Delivered and programmed per local day at the site; with the clock never set, per
    24 h of the record ("clock not set: day N")."""
    if not tl.dt:
        return []
    unset = not clock_set(tl.t1)
    if unset:  # uptime from 0: days of the record, not of the calendar
        tz = ZoneInfo("UTC")
    edges = _day_edges(tl, tz)
    ts = np.array([e.timestamp() for e in edges])
    dl = np.diff(tl.delivered_between(ts))
    pr = np.diff(tl.programmed_between(ts))
    out = []
    for i in range(len(edges) - 1):
        lo, hi = ts[i], ts[i + 1]
        doses = [d for t, d, _ in tl.programs if t < hi]
        ps = [(a, b if b is not None else tl.t1) for a, b in tl.pauses]
        inside = [(max(a, lo), min(b, hi)) for a, b in ps if a < hi and b > lo]
        out.append(
            Day(
                date=unset_time(lo).split(",")[0] if unset else edges[i].date().isoformat(),
                delivered_ug=float(dl[i]),
                programmed_ug=float(pr[i]),
                dose_end=doses[-1] if doses else None,
                pauses=sum(1 for a, _ in ps if lo <= a < hi),
                paused_min=sum(b - a for a, b in inside) / 60,
                alarms=sum(1 for al in tl.alarms if lo <= al.raised < hi),
                loads=sum(1 for t, _, _ in tl.loads if lo <= t < hi),
            )
        )
    return out


def per_hour(tl: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hour edges (Unix s, from the first whole hour), delivered and programmed ug per hour."""
    h0 = tl.t0 - tl.t0 % 3600
    edges = np.arange(h0, tl.t1 + 3600, 3600, dtype=float)
    return edges, np.diff(tl.delivered_between(edges)), np.diff(tl.programmed_between(edges))


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
        hours_to_escalation=(higher[0][0] - tl.programs[0][0]) / 3600 if higher else None,
        alarms=len(tl.alarms),
        days=tl.days,
        delivered_ug=tl.dug[-1] if tl.dug else 0.0,
    )
