"""`pumpctl logs report FILE -o report.html`: one self-contained page (plots embedded as PNG).

Delivered against programmed (cumulative, and per hour and per 24 h, in µg at the programmed
concentration), the rate and titration history, the alarm timeline, a header with pump,
syringe, drug, period and the delivered and programmed totals, and a table per 24 h. A log
that failed verification gets a banner saying what failed, and every plot a stamp. The hours
axis follows the records, not their time stamps (time_axis): long stretches without records
are cut out, so its bins stay bounded. Vectorised with numpy, so a million records take
seconds."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import zlib
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from pump import events, logrec
from pump.alarms import KINDS
from pump.syringes import CATALOGUE
from pumphost.logs import timeaxis
from pumphost.logs.timeaxis import MAX_H as MAX_H  # the tests read it here
from pumphost.logs.timeaxis import Axis
from pumphost.logs.timeaxis import cut_text as _cut_text
from pumphost.logs.timeaxis import duration as _long

_REC = np.dtype(
    [("seq", "<u4"), ("code", "u1"), ("lo", "<u2"), ("hi", "u1"), ("a", "<i4"), ("b", "<i4"),
     ("crc", "<u4")]
)  # fmt: skip
_SYRINGE_NAMES = {v: CATALOGUE[k][0] for k, v in events.SYRINGES.items()}
_ALARM_KINDS = {code: kind for kind, (code, _, _) in KINDS.items()}


@dataclass
class Decoded:
    seq: np.ndarray
    code: np.ndarray
    a: np.ndarray
    b: np.ndarray
    t: np.ndarray  # seconds on one timeline (Unix time where the clock was set)
    utc_known: bool
    clock: np.ndarray  # per record: t is UTC (the device clock was set in that boot)


def intact_mask(entries: bytes) -> np.ndarray:
    n = len(entries) // logrec.ENTRY
    ok = np.zeros(n, dtype=bool)
    crc32 = zlib.crc32
    mv = memoryview(entries)
    seqs = np.frombuffer(entries, dtype=_REC, count=n)["seq"].tolist()
    for i, s in enumerate(seqs):
        o = i * logrec.ENTRY
        ok[i] = crc32(mv[o + 4 : o + logrec.ENTRY], s) == logrec.RESIDUE
    return ok


def decode(entries: bytes) -> Decoded:
    n = len(entries) // logrec.ENTRY
    r = np.frombuffer(entries, dtype=_REC, count=n)
    r = r[intact_mask(entries)]
    code = r["code"].astype(np.int64)
    x = r["lo"].astype(np.int64) | (r["hi"].astype(np.int64) << 16)
    a = r["a"].astype(np.int64)
    b = r["b"].astype(np.int64)
    is_anchor = code == events.TIME
    idx = np.where(is_anchor, np.arange(len(code)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    has = idx >= 0
    anc = np.where(has, idx, 0)
    up = np.where(is_anchor, b, b[anc] + x if len(b) else x)
    utc = np.where(is_anchor, a, np.where(a[anc] >= 0, a[anc] + x, -1) if len(a) else -1)
    up = np.where(has, up, -1)
    utc = np.where(has, utc, -1)
    # One timeline: UTC where known, else uptime laid after the previous boot's last time.
    t = np.zeros(len(code), dtype=np.int64)
    clock = np.zeros(len(code), dtype=bool)  # t is UTC: the clock was set in that boot
    offset = 0
    last = 0
    boots = np.flatnonzero(is_anchor & ((x & logrec.OPENED) != 0))
    bounds = list(boots) + [len(code)]
    start = 0
    for end in bounds:
        seg = slice(start, end)
        u, w = utc[seg], up[seg]
        if len(u):
            known = u >= 0
            if known.any():
                first = np.flatnonzero(known)[0]
                offset = logrec.LOG_EPOCH + u[first] - w[first]
            t[seg] = np.where(known, logrec.LOG_EPOCH + u, offset + np.maximum(w, 0))
            clock[seg] = known.any()
            last = max(last, int(t[seg].max()))
        offset = last + 1
        start = end
    first = np.flatnonzero(has)
    if len(first) and first[0] > 0:  # before the first anchor: timed at it (the latest)
        t[: first[0]] = t[first[0]]
        clock[: first[0]] = clock[first[0]]
    keep = (code != events.TIME) & (code != events.SEAL)
    return Decoded(
        r["seq"][keep].astype(np.int64),
        code[keep],
        a[keep],
        b[keep],
        t[keep],
        bool((utc >= 0).any()),
        clock[keep],
    )


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _when(t: float, clock: bool) -> str:
    """A time of the record: UTC where the device clock was set, else "clock not set" (never a
    1970 date): the day and time since the record began, as the review service says it, or, for
    a boot laid after the one before it, the earliest it can have been."""
    if clock:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if t < logrec.LOG_EPOCH:
        s = int(t)
        return f"clock not set: day {s // 86400 + 1}, {s // 3600 % 24:02d}:{s // 60 % 60:02d}"
    return f"clock not set (at the earliest {_when(t, True)})"


def time_axis(d: Decoded) -> Axis:
    """The plots' hours axis (timeaxis: long stretches without records cut out)."""
    return timeaxis.build(d.t, d.clock)


def _time_notes(d: Decoded, ta: Axis) -> str:
    """What the reader must know about the record's time ("" if nothing): where the clock was
    not set, and what the plots cut out."""
    out = []
    unset = int(np.count_nonzero(~d.clock))
    if unset and unset < len(d.clock):
        out.append(f"the device clock was not set for {unset} of {len(d.clock)} records: their "
                   "times read \"clock not set\"")  # fmt: skip
    if len(ta.cut_s):
        each = [
            f"at {h:.2f} h, " + ("how long not known (the clock was not set on one side)" if u
                                 else _long(s))
            for s, h, u in zip(ta.cut_s[:5], ta.cut_at[:5], ta.cut_unknown[:5], strict=True)
        ]  # fmt: skip
        more = f"; and {len(ta.cut_s) - 5} more" if len(ta.cut_s) > 5 else ""
        out.append(f"the plots and the hours leave out {_cut_text(ta)}: {'; '.join(each)}{more}")
    return "; ".join(out)


def _programmed(d: Decoded, at: np.ndarray) -> np.ndarray:
    """Programmed volume (nL) at times `at`: the rate integrated over running time (a bolus
    is in it: the firmware logs the boosted rate while it runs, and the rate after; a clock
    change is not running time), added up across loads (a LOAD starts the delivered count
    again from 0, `Totals.cum_nl` adds up). A bolus cut short (a pause, stop, fault, the
    syringe empty, a reset) ends the boosted rate: the pump goes on at the program's rate,
    the one logged before the boost (a pause is followed by a RATE record of it since issue
    19, which may be a titration step that came due during the bolus; older logs have none)."""
    rate = 0.0  # nL/h
    before = 0.0  # the rate before the last RATE record: the program's, under a boost
    boosted = False  # a BOLUS record after the last RATE record: that rate is boosted
    running = False
    since = 0.0
    vol = 0.0
    ts, vs = [], []
    ev = np.flatnonzero(d.code != events.DELIVERED)
    base = 0.0
    for i in ev:
        t = float(d.t[i])
        c = int(d.code[i])
        if running:  # a reset: the pump stopped after the last record before it, not at it
            end = t if c != events.BOOT or i == 0 else min(t, max(since, float(d.t[i - 1])))
            vol += rate * (end - since) / 3600
        since = t
        if c == events.CLOCK and d.a[i] >= 0 and d.b[i] > d.a[i]:
            since += float(d.b[i] - d.a[i])  # the timeline jumps there: no running time
            ts.append(t)
            vs.append(base + vol)
        if c == events.LOAD:
            base += vol
            vol = 0.0
        if c == events.RATE and d.b[i] > 0:
            before, rate, boosted = rate, float(d.a[i]) / float(d.b[i]), False
        if c == events.BOLUS:
            boosted = True
        if c in (events.START, events.RESUME):
            running = True
        if c in (events.PAUSE, events.STOP, events.COMPLETE, events.FAULT, events.BOOT):
            running = False
            if boosted:
                rate, boosted = before, False
        ts.append(since)
        vs.append(base + vol)
    if running and len(at):
        end = float(at.max())
        ts.append(end)
        vs.append(base + vol + rate * (end - since) / 3600)
    if not ts:
        return np.zeros(len(at))
    return np.interp(at, np.array(ts), np.array(vs))


@dataclass
class Totals:
    """Delivered and programmed, cumulative, at the delivered-count points of the record (each
    LOAD, where the count starts again, and each DELIVERED record), in nL and in µg at the
    concentration programmed at the time (mL only if a program had none)."""

    hours: np.ndarray  # since the record's first time
    cum_nl: np.ndarray  # delivered (the pump's step count), added up across loads
    prog_nl: np.ndarray  # programmed, the same way
    cum_ug: np.ndarray
    prog_ug: np.ndarray
    conc: bool  # every program gave a concentration (µg is meaningful)
    span_h: float  # the record's length on the axis
    axis: Axis

    @property
    def unit(self) -> str:
        return "µg" if self.conc else "mL"

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """Delivered and programmed, cumulative, in the report's unit (µg or mL)."""
        if self.conc:
            return self.cum_ug, self.prog_ug
        return self.cum_nl / 1e6, self.prog_nl / 1e6

    def between(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Delivered and programmed in each interval between `edges` (hours), in the unit."""
        dl, pr = self.series()
        if len(self.hours) == 0:
            return np.zeros(max(len(edges) - 1, 0)), np.zeros(max(len(edges) - 1, 0))
        return (
            np.diff(np.interp(edges, self.hours, dl)),
            np.diff(np.interp(edges, self.hours, pr)),
        )

    def delivered_nl(self) -> float:
        return float(self.cum_nl[-1] - self.cum_nl[0]) if len(self.cum_nl) else 0.0

    def programmed_nl(self) -> float:
        return float(self.prog_nl[-1] - self.prog_nl[0]) if len(self.prog_nl) else 0.0


def totals(d: Decoded) -> Totals:
    dl = d.code == events.DELIVERED
    is_load = d.code == events.LOAD
    load_at = np.flatnonzero(is_load)
    # each LOAD restarts the delivered count: add what the loads before it delivered
    rows = np.arange(len(d.code))
    d_rows = rows[dl]
    before_load = np.searchsorted(d_rows, load_at) - 1  # last DELIVERED before each LOAD
    last = d.a[d_rows[np.maximum(before_load, 0)]] if len(d_rows) else np.zeros(len(load_at))
    gave = np.where(before_load >= 0, last, 0).astype(float)
    carry_at_load = np.cumsum(gave)
    k = np.searchsorted(load_at, rows, side="right") - 1  # the load each row belongs to
    carry = np.where(k >= 0, carry_at_load[np.maximum(k, 0)] if len(load_at) else 0.0, 0.0)
    pts = rows[dl | is_load]  # a LOAD is a point too: the count is 0 there
    cum = np.where(dl[pts], d.a[pts].astype(float), 0.0) + carry[pts]
    prog = _programmed(d, d.t[pts].astype(float))
    # the concentration of the program in force at each point (by record order)
    pr = np.flatnonzero(d.code == events.PROGRAM)
    conc = bool(len(pr)) and bool((d.b[pr] > 0).all())
    if conc:
        j = np.searchsorted(pr, pts, side="right") - 1
        c = np.where(j >= 0, d.b[pr[np.maximum(j, 0)]], d.b[pr[0]]).astype(float)
        c_prev = c[:-1]  # an interval at the concentration in force at its start

        def ug(nl: np.ndarray) -> np.ndarray:
            if not len(nl):  # no LOAD or DELIVERED record: nothing to count
                return np.zeros(0)
            return np.concatenate([[0.0], np.cumsum(np.diff(nl) * c_prev / 1e6)])

        cum_ug, prog_ug = ug(cum), ug(prog)
    else:
        cum_ug = prog_ug = np.zeros(len(pts))
    ta = time_axis(d)
    return Totals(ta.hours[pts], cum, prog, cum_ug, prog_ug, conc, ta.span_h, ta)


def _stamp(fig: Figure, unverified: bool) -> None:
    """A plot from a log that failed verification says so on its face, wherever it ends up."""
    if unverified:
        fig.text(0.99, 0.98, "NOT VERIFIED", color="#b00020", fontsize=11, weight="bold",
                 ha="right", va="top")  # fmt: skip


def figures(d: Decoded, unverified: bool = False) -> list[tuple[str, Figure]]:
    """The report's plots (matplotlib Figures, not drawn yet), each over the record's whole
    span on the same hours axis (time_axis: long stretches without records cut out)."""
    tot = totals(d)
    ta = tot.axis
    hours = ta.hours
    xl = "hours since " + _first(d)
    if len(ta.cut_at):
        xl += f", not counting {_cut_text(ta)}"
    xlim = (0.0, tot.span_h if tot.span_h > 0 else 1.0)
    unit = tot.unit
    figs: list[tuple[str, Figure]] = []

    # delivered (cumulative over loads) and programmed
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    cum, prog = tot.series()
    thin = slice(None, None, max(1, len(tot.hours) // 4000))  # a plot needs no more points
    ax.plot(tot.hours[thin], cum[thin], label="delivered (pump's step count)")
    ax.plot(tot.hours[thin], prog[thin], "--", label="programmed")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Delivered against programmed, cumulative ({unit})")
    figs.append(("Delivered", fig))

    # dose per hour; per 24 h on the right, the same scale x 24
    edges = np.arange(0, max(np.ceil(xlim[1]), 1) + 1)
    per_h, prog_h = tot.between(edges)
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    ax.stairs(per_h, edges, fill=True, alpha=0.6, label=f"delivered, {unit} per hour")
    ax.stairs(prog_h, edges, color="k", linewidth=1, label=f"programmed, {unit} per hour")
    ax.set_ylabel(f"{unit} per hour")
    top = max(float(per_h.max(initial=0)), float(prog_h.max(initial=0))) * 1.15 or 1.0
    ax.set_ylim(0, top)
    ax2 = ax.twinx()
    ax2.set_ylim(0, 24 * top)  # a bar at h per hour reads as 24 h per 24 h
    ax2.set_ylabel(f"{unit} per 24 h")
    d_edges = _day_edges(tot.span_h)
    d_edges = d_edges[: 1 + int(np.count_nonzero(np.diff(d_edges) >= 24 - 1e-9))]  # full days
    if len(d_edges) > 1:
        ax2.stairs(tot.between(d_edges)[0], d_edges, color="C1", linewidth=2, linestyle="--",
                   label=f"delivered in each 24 h from the start, {unit}")  # fmt: skip
    if len(per_h) > 24:
        day = np.convolve(per_h, np.ones(24), "valid")
        ax2.plot(edges[24:], day, color="C2", label=f"delivered in the 24 h before, {unit}")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(
        f"Dose per hour and per 24 h ({unit})" + ("" if tot.conc else ", no concentration")
    )
    figs.append(("Dose", fig))

    # rate and titration history
    rt = np.flatnonzero((d.code == events.RATE) & (d.b > 0))
    pr = np.flatnonzero(d.code == events.PROGRAM)
    fig = Figure(figsize=(9, 2.8))
    ax = fig.subplots()
    if len(rt):
        ax.step(hours[rt], d.a[rt] / d.b[rt] / 1e6, where="post", label="rate (mL/h)")
        ax.hlines(d.a[rt[-1]] / d.b[rt[-1]] / 1e6, hours[rt[-1]], xlim[1])
    for i in pr:
        if d.b[i] > 0:
            ax.annotate(f"{int(d.a[i])} µg/24 h @ {int(d.b[i])} µg/mL", (hours[i], 0),
                        rotation=90, fontsize=7, va="bottom")  # fmt: skip
    ax.set_ylabel("mL/h")
    ax.set_ylim(bottom=0)
    ax.set_title("Rate and titration history")
    figs.append(("Rate", fig))

    # alarm timeline
    al = np.flatnonzero(d.code == events.ALARM)
    fig = Figure(figsize=(9, 2.6))
    ax = fig.subplots()
    kinds = sorted({int(d.a[i]) for i in al})
    marks = {
        1: ("o", "raised"),
        2: ("s", "acknowledged"),
        3: ("v", "silenced"),
        4: ("x", "cleared"),
    }
    for what, (m, label) in marks.items():
        sel = [i for i in al if d.b[i] == what]
        if sel:
            ax.scatter(hours[sel], [kinds.index(int(d.a[i])) for i in sel], marker=m, label=label)
    ax.set_yticks(range(len(kinds)), [_ALARM_KINDS.get(k, f"alarm {k}") for k in kinds])
    ax.set_title("Alarms" if kinds else "Alarms: none")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    figs.append(("Alarms", fig))

    for _, f in figs:
        for a in f.axes[:1]:
            a.set_xlim(*xlim)
            a.set_xlabel(xl)
            if len(ta.cut_at):  # one collection, however many
                a.vlines(ta.cut_at, 0, 1, transform=a.get_xaxis_transform(), colors="0.3",
                         linestyles="--", linewidth=1)  # fmt: skip
        _stamp(f, unverified)
    return figs


def _first(d: Decoded) -> str:
    if not len(d.t):
        return _when(0.0, False)
    i = int(np.argmin(d.t))
    return _when(float(d.t[i]), bool(d.clock[i]))


def _mass(nl: float, ug: float | None) -> str:
    ml = f"{nl / 1e6:,.3f} mL"
    return f"{ug:,.1f} µg ({ml})" if ug is not None else ml


def _day_edges(span_h: float) -> np.ndarray:
    """0, 24, 48 ... hours, and the record's end (the last day may be short)."""
    if span_h <= 0:
        return np.zeros(1)
    return np.append(np.arange(0, span_h - 1e-9, 24.0), span_h)


def _day_rows(tot: Totals) -> list[tuple[str, str, str]]:
    """(period, delivered, programmed) for each 24 h from the record's start; the last one
    may be shorter, and says so."""
    if tot.span_h <= 0:
        return []
    edges = _day_edges(tot.span_h)
    dl, pr = tot.between(edges)
    out = []
    for a, b, x, y in zip(edges[:-1], edges[1:], dl, pr, strict=True):
        part = "" if b - a >= 24 - 1e-9 else f" ({b - a:.2f} h only)"
        fmt = "{:,.1f} µg" if tot.conc else "{:,.3f} mL"
        out.append((f"{a:g}-{b:.4g} h{part}", fmt.format(x), fmt.format(y)))
    return out


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:auto}th{text-align:left;"
    "padding-right:1em}td.n{text-align:right}img{max-width:100%}"
    ".unverified{background:#b00020;color:#fff;padding:1em 1.5em;margin:1em 0;"
    "border:4px solid #600;font-size:1.1em}.unverified h2{margin:0 0 .3em}"
    ".unverified li{margin:.2em 0}"
)


def build(
    entries: bytes,
    title: str,
    drug: str,
    verified: str,
    problems: list[str] | None = None,
) -> str:
    """The page. `verified` is the verify line ("clean" or why not); `problems` what verify
    found wrong: any at all (or a `verified` other than "clean") puts a banner above
    everything, saying what failed, and stamps every plot NOT VERIFIED."""
    d = decode(entries)
    problems = list(problems or [])
    unverified = bool(problems) or verified != "clean"
    if unverified and not problems:
        problems = [verified]
    tot = totals(d)
    hours = tot.axis.hours
    figs = [(n, _png(f)) for n, f in figures(d, unverified)]

    load_at = np.flatnonzero(d.code == events.LOAD)
    pr = np.flatnonzero(d.code == events.PROGRAM)
    loads = [
        f"{_SYRINGE_NAMES.get(int(d.a[i]), f'syringe {int(d.a[i])}')}, "
        f"{d.b[i] / 1e6:g} mL at {hours[i]:.2f} h"
        for i in load_at
    ]
    progs = [
        f"{int(d.a[i])} µg/24 h at {int(d.b[i])} µg/mL ({hours[i]:.2f} h)"
        if d.b[i] > 0
        else f"a mL/h rate, no dose ({hours[i]:.2f} h)"
        for i in pr
    ]
    boots = int(np.count_nonzero(d.code == events.BOOT))
    last = int(np.argmax(d.t)) if len(d.t) else 0
    period = f"{_first(d)} to {_when(float(d.t[last]), bool(d.clock[last]))}" if len(d.t) else ""
    notes = _time_notes(d, tot.axis)
    left = ", not counting what the plots leave out" if len(tot.axis.cut_at) else ""
    dug = float(tot.cum_ug[-1]) if tot.conc and len(tot.cum_ug) else None
    pug = float(tot.prog_ug[-1]) if tot.conc and len(tot.prog_ug) else None
    head = [
        ("pump", title),
        ("syringe", "; ".join(loads) or "no load recorded"),
        ("drug", drug),
        ("programs", "; ".join(progs) or "none recorded"),
        ("period", f"{period} ({tot.span_h:.2f} h{left})" if period else "no records"),
        *([("time", notes)] if notes else []),
        ("delivered", _mass(tot.delivered_nl(), dug) + ", the pump's step count"),
        ("programmed", _mass(tot.programmed_nl(), pug)),
        ("records", f"{len(d.seq)} (seq {d.seq.min()}..{d.seq.max()})" if len(d.seq) else "0"),
        ("boots", str(boots)),
        ("verify", verified),
    ]
    rows = "".join(
        f'<tr><th>{html.escape(k)}</th><td id="{html.escape(k)}">{html.escape(v)}</td></tr>'
        for k, v in head
    )
    days = "".join(
        f"<tr><td>{html.escape(p)}</td><td class='n'>{html.escape(x)}</td>"
        f"<td class='n'>{html.escape(y)}</td></tr>"
        for p, x, y in _day_rows(tot)
    )
    day_table = (
        "<h2>Per 24 h</h2><table id='per-24h'><tr><th>hours since the start"
        f"{', stretches without records cut out' if len(tot.axis.cut_at) else ''}</th>"
        f"<th>delivered</th><th>programmed</th></tr>{days}</table>"
        if days
        else ""
    )
    banner = ""
    if unverified:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems[:20])
        more = f"<li>and {len(problems) - 20} more</li>" if len(problems) > 20 else ""
        banner = (
            "<div class='unverified' id='not-verified' role='alert'><h2>NOT VERIFIED</h2>"
            "<p>This log failed verification: records may be missing, damaged or altered, so "
            "the figures and plots below may not be what the pump recorded. What failed:</p>"
            f"<ul>{items}{more}</ul></div>"
        )
    imgs = "".join(
        f'<h2>{html.escape(n)}</h2><img alt="{html.escape(n)}" src="data:image/png;base64,{p}">'
        for n, p in figs
    )
    name = "Pump log report" + (" (NOT VERIFIED)" if unverified else "")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>"
        f"<style>{_CSS}</style></head><body>{banner}<h1>{name}</h1>"
        f"<table id='summary'>{rows}</table>{day_table}{imgs}</body></html>"
    )
