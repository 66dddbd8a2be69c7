"""The patient timeline's plots as inline SVG (matplotlib's Figure API, no pyplot state, so
request threads do not share a figure). Text stays text (svg.fonttype none): searchable."""

from __future__ import annotations

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import matplotlib
import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, num2date
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pumphost.review.analysis import Timeline, clock_set, per_hour, unset_time

matplotlib.rcParams["svg.fonttype"] = "none"
_lock = threading.Lock()  # rcParams and font caches are process-wide


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with _lock:
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _dates(ts: np.ndarray | list[float], tz: ZoneInfo) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(float(t), tz) for t in ts]


def _axis(ax, tz: ZoneInfo) -> None:  # noqa: ANN001
    unset = not clock_set(num2date(ax.get_xlim()[1]).timestamp())
    loc = AutoDateLocator(tz=dt.UTC if unset else tz)
    ax.xaxis.set_major_locator(loc)
    if unset:  # the pump's clock was never set: time since the record began, not 1970
        since = FuncFormatter(lambda x, _: unset_time(num2date(x).timestamp())[15:])
        ax.xaxis.set_major_formatter(since)
        ax.set_xlabel("clock not set: day and time since the record began")
    else:
        ax.xaxis.set_major_formatter(ConciseDateFormatter(loc, tz=tz))
    ax.grid(alpha=0.3)


def dose_figure(tl: Timeline, tz: ZoneInfo) -> Figure:
    """Delivered and programmed µg per hour, and the delivered µg over the last 24 h (on the
    right, the same scale x 24: a bar reads as its 24 h rate; a point each hour from 24 h on,
    marked, so a record of just 24 h shows its one)."""
    edges, dl, pr = per_hour(tl)
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    x = _dates(edges, tz)
    ax.stairs(dl, x, fill=True, alpha=0.6, label="delivered per hour")
    ax.stairs(pr, x, color="k", linewidth=1, label="programmed per hour")
    ax.set_ylabel("µg per hour")
    top = max(float(np.max(dl, initial=0)), float(np.max(pr, initial=0))) * 1.15 or 1.0
    ax.set_ylim(0, top)
    if len(dl) >= 24:
        ax2 = ax.twinx()
        day = np.convolve(dl, np.ones(24), "valid")
        ax2.plot(x[24:], day, "o-" if len(day) < 48 else "-", markersize=3, color="C1",
                 clip_on=False, label="delivered, last 24 h")  # fmt: skip
        ax2.set_ylabel("µg per 24 h")
        ax2.set_ylim(0, 24 * top)
        ax2.legend(loc="lower right", fontsize=7)
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(f"Dose per hour and per 24 h ({tz.key})")
    _axis(ax, tz)
    return fig


def dose(tl: Timeline, tz: ZoneInfo) -> str:
    return _svg(dose_figure(tl, tz))


def rate(tl: Timeline, tz: ZoneInfo) -> str:
    """The rate and titration history, pauses shaded."""
    fig = Figure(figsize=(9, 2.6))
    ax = fig.subplots()
    if tl.rates:
        ts = [t for t, _ in tl.rates] + [tl.t1]
        ys = [r for _, r in tl.rates]
        ax.stairs(ys, _dates(ts, tz), baseline=None, label="rate (mL/h)")
    for a, b in tl.pauses:
        ax.axvspan(*_dates([a, b if b is not None else tl.t1], tz), color="0.8", lw=0)
    for t, d, c in tl.programs:
        ax.annotate(f"{d} µg/24 h @ {c} µg/mL", (_dates([t], tz)[0], 0), rotation=90,
                    fontsize=7, va="bottom")  # fmt: skip
    ax.set_ylabel("mL/h")
    ax.set_ylim(bottom=0)
    ax.set_title("Rate and titration (pauses shaded)")
    _axis(ax, tz)
    return _svg(fig)


def alarms(tl: Timeline, tz: ZoneInfo) -> str:
    """Each alarm as a bar from raised to cleared (to the end of the record if never)."""
    fig = Figure(figsize=(9, 1.2 + 0.3 * len({a.kind for a in tl.alarms})))
    ax = fig.subplots()
    kinds = sorted({a.kind for a in tl.alarms})
    for a in tl.alarms:
        end = a.cleared if a.cleared is not None else tl.t1
        x0, x1 = _dates([a.raised, max(end, a.raised + 60)], tz)
        ax.barh(kinds.index(a.kind), x1 - x0, left=x0, color="C3")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlim(*_dates([tl.t0, tl.t1], tz))
    ax.set_title("Alarms, raised to cleared" if kinds else "Alarms: none")
    _axis(ax, tz)
    return _svg(fig)
