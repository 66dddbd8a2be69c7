"""`pumpctl logs report FILE -o report.html`: one self-contained page (plots embedded as PNG).

Delivered against programmed volume, dose per hour and per 24 h, the rate and titration
history, the alarm timeline, and a header with pump, syringe, drug and period. Vectorised
with numpy, so a million records take seconds."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import zlib
from dataclasses import dataclass

import numpy as np

from pumphost import paths

paths.use_firmware_core()
from pump import events, logrec  # noqa: E402
from pump.syringes import CATALOGUE  # noqa: E402

_REC = np.dtype(
    [("seq", "<u4"), ("code", "u1"), ("lo", "<u2"), ("hi", "u1"), ("a", "<i4"), ("b", "<i4"),
     ("crc", "<u4")]
)  # fmt: skip
_SYRINGE_NAMES = {v: CATALOGUE[k][0] for k, v in events.SYRINGES.items()}
_ALARM_KINDS = {
    1: "reservoir_empty",
    2: "step_underrun",
    3: "step_late",
    4: "step_early",
    5: "software_fault",
    6: "delivery_interrupted",
    7: "occlusion",
    8: "syringe_removed",
    9: "sensor_fault",
    10: "near_empty",
}  # fmt: skip  (pump.alarms.KINDS codes)


@dataclass
class Decoded:
    seq: np.ndarray
    code: np.ndarray
    a: np.ndarray
    b: np.ndarray
    t: np.ndarray  # seconds on one timeline (Unix time where the clock was set)
    utc_known: bool


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
            last = max(last, int(t[seg].max()))
        offset = last + 1
        start = end
    keep = (code != events.TIME) & (code != events.SEAL)
    return Decoded(
        r["seq"][keep].astype(np.int64),
        code[keep],
        a[keep],
        b[keep],
        t[keep],
        bool((utc >= 0).any()),
    )


def _png(fig) -> str:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _when(t: float, utc: bool) -> str:
    if utc:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{t / 3600:.2f} h (device clock not set)"


def _programmed(d: Decoded, at: np.ndarray) -> np.ndarray:
    """Programmed volume (nL) at times `at`: the rate integrated over running time, per load
    (a LOAD starts again from 0, as the delivered count does)."""
    rate = 0.0  # nL/h
    running = False
    since = 0.0
    vol = 0.0
    ts, vs = [], []
    ev = np.flatnonzero(d.code != events.DELIVERED)
    base = 0.0
    for i in ev:
        t = float(d.t[i])
        c = int(d.code[i])
        if running:
            vol += rate * (t - since) / 3600
        since = t
        if c == events.LOAD:
            base += vol
            vol = 0.0
        if c == events.RATE and d.b[i] > 0:
            rate = float(d.a[i]) / float(d.b[i])
        if c in (events.START, events.RESUME):
            running = True
        if c in (events.PAUSE, events.STOP, events.COMPLETE, events.FAULT):
            running = False
        ts.append(t)
        vs.append(base + vol)
    if running and len(at):
        end = float(at.max())
        ts.append(end)
        vs.append(base + vol + rate * (end - since) / 3600)
    if not ts:
        return np.zeros(len(at))
    return np.interp(at, np.array(ts), np.array(vs))


def build(entries: bytes, title: str, drug: str, verified: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = decode(entries)
    utc = d.utc_known
    t0 = float(d.t.min()) if len(d.t) else 0.0
    hours = (d.t - t0) / 3600.0
    xl = "hours since " + _when(t0, utc)
    figs: list[tuple[str, str]] = []

    # delivered (cumulative over loads) and programmed
    dl = d.code == events.DELIVERED
    load_at = np.flatnonzero(d.code == events.LOAD)
    # each LOAD restarts the delivered count: add what the loads before it delivered
    rows = np.arange(len(d.code))
    d_rows = rows[dl]
    before_load = np.searchsorted(d_rows, load_at) - 1  # last DELIVERED before each LOAD
    gave = np.where(before_load >= 0, d.a[d_rows[np.maximum(before_load, 0)]], 0).astype(float)
    carry_at_load = np.cumsum(gave)
    k = np.searchsorted(load_at, rows, side="right") - 1  # the load each row belongs to
    carry = np.where(k >= 0, carry_at_load[np.maximum(k, 0)] if len(load_at) else 0.0, 0.0)
    deliv = np.where(dl, d.a.astype(float) + carry, np.nan)
    prog = _programmed(d, d.t[dl])
    fig, ax = plt.subplots(figsize=(9, 3.2))
    thin = slice(None, None, max(1, int(dl.sum()) // 4000))  # a plot needs no more points
    ax.plot(hours[dl][thin], deliv[dl][thin] / 1e6, label="delivered (pump's step count)")
    ax.plot(hours[dl][thin], prog[thin] / 1e6, "--", label="programmed")
    ax.set_xlabel(xl)
    ax.set_ylabel("mL")
    ax.legend()
    ax.set_title("Delivered against programmed volume")
    figs.append(("Volume", _png(fig)))
    plt.close(fig)

    # dose per hour and per 24 h (ug, at the programmed concentration)
    conc = 0.0
    pr = np.flatnonzero(d.code == events.PROGRAM)
    if len(pr):
        conc = float(d.b[pr[-1]])
    if dl.sum() > 1:
        h_all = hours[dl]
        v_all = deliv[dl]
        edges = np.arange(0, np.ceil(h_all.max()) + 1)
        at_edges = np.interp(edges, h_all, v_all)
        per_h = np.diff(at_edges)  # nL per hour
        unit, scale = ("ug", conc / 1e6) if conc else ("mL", 1e-6)
        fig, ax = plt.subplots(figsize=(9, 3.2))
        ax.stairs(per_h * scale, edges, fill=True, label=f"{unit} per hour")
        if len(per_h) >= 24:
            day = np.convolve(per_h, np.ones(24), "valid") * scale
            ax2 = ax.twinx()
            ax2.plot(edges[24:], day, color="C1", label=f"{unit} per 24 h (rolling)")
            ax2.set_ylabel(f"{unit} per 24 h")
        ax.set_xlabel(xl)
        ax.set_ylabel(f"{unit} per hour")
        ax.set_title("Dose per hour and per 24 h" + ("" if conc else " (no concentration)"))
        figs.append(("Dose", _png(fig)))
        plt.close(fig)

    # rate and titration history
    rt = np.flatnonzero((d.code == events.RATE) & (d.b > 0))
    fig, ax = plt.subplots(figsize=(9, 2.8))
    if len(rt):
        ax.step(hours[rt], d.a[rt] / d.b[rt] / 1e6, where="post", label="rate (mL/h)")
        end = hours.max() if len(hours) else 0
        ax.hlines(d.a[rt[-1]] / d.b[rt[-1]] / 1e6, hours[rt[-1]], end)
    for i in pr:
        ax.annotate(f"{int(d.a[i])} ug/24 h @ {int(d.b[i])} ug/mL", (hours[i], 0),
                    rotation=90, fontsize=7, va="bottom")  # fmt: skip
    ax.set_xlabel(xl)
    ax.set_ylabel("mL/h")
    ax.set_title("Rate and titration history")
    figs.append(("Rate", _png(fig)))
    plt.close(fig)

    # alarm timeline
    al = np.flatnonzero(d.code == events.ALARM)
    fig, ax = plt.subplots(figsize=(9, 2.6))
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
    ax.set_xlabel(xl)
    ax.set_title("Alarms" if kinds else "Alarms: none")
    if kinds:
        ax.legend(fontsize=7)
    figs.append(("Alarms", _png(fig)))
    plt.close(fig)

    loads = [
        f"{_SYRINGE_NAMES.get(int(d.a[i]), f'syringe {int(d.a[i])}')}, "
        f"{d.b[i] / 1e6:g} mL at {hours[i]:.2f} h"
        for i in load_at
    ]
    progs = [f"{int(d.a[i])} ug/24 h at {int(d.b[i])} ug/mL ({hours[i]:.2f} h)" for i in pr]
    boots = int(np.count_nonzero(d.code == events.BOOT))
    period = (
        f"{_when(float(d.t.min()), utc)} to {_when(float(d.t.max()), utc)}"
        if len(d.t)
        else "no records"
    )
    head = [
        ("pump", title),
        ("syringe", "; ".join(loads) or "no load recorded"),
        ("drug", drug),
        ("programs", "; ".join(progs) or "none recorded"),
        ("period", period),
        ("records", f"{len(d.seq)} (seq {d.seq.min()}..{d.seq.max()})" if len(d.seq) else "0"),
        ("boots", str(boots)),
        ("verify", verified),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in head)
    imgs = "".join(
        f'<h2>{html.escape(n)}</h2><img alt="{html.escape(n)}" src="data:image/png;base64,{p}">'
        for n, p in figs
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Pump log report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}th{text-align:left;"
        "padding-right:1em}img{max-width:100%}</style></head><body><h1>Pump log report</h1>"
        f"<table>{rows}</table>{imgs}</body></html>"
    )
