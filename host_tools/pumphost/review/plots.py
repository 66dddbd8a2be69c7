"""The patient timeline's plots as inline SVG (matplotlib's Figure API, no pyplot state, so
request threads do not share a figure). Text stays text (svg.fonttype none): searchable.
Their time axis is the record's (analysis.on_axis): long stretches without records are cut
out (a dashed line), and each tick says its time, a date or "day N" where the clock was not
set."""

from __future__ import annotations

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import matplotlib
import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num, num2date
from matplotlib.figure import Figure

from pumphost.logs.timeaxis import cut_text
from pumphost.review.analysis import (
    Timeline,
    clock_set,
    from_axis,
    on_axis,
    per_hour,
    unset_time,
)

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


def _x(tl: Timeline, ts: np.ndarray | list[float], tz: ZoneInfo) -> list[dt.datetime]:
    """Times of the record at their places on the plots' axis (analysis.on_axis)."""
    return _dates(on_axis(tl, ts), tz)


class _Ticks(ConciseDateFormatter):
    """Each tick's time of the record (a place on the axis back to its time: the axis cuts
    out long stretches without records): a date in the site's zone where the clock was set,
    else the day and time since the record began, never a 1970 date."""

    def __init__(self, locator: AutoDateLocator, tz: ZoneInfo, tl: Timeline) -> None:
        super().__init__(locator, tz=tz)
        self.tl, self.zone = tl, tz
        self.cut_s = tl.axis.cut_at * 3600 if tl.axis is not None else np.zeros(0)

    def _times(self, values: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """The ticks' places on the axis (s from its start) and their times."""
        v = np.array([num2date(x).timestamp() for x in values]) - self.tl.t0
        return v, np.round(from_axis(self.tl, v + self.tl.t0), 3)

    def _num(self, t: float) -> float:
        return float(date2num(dt.datetime.fromtimestamp(t, dt.UTC)))

    def _whole(self, t: float) -> str:
        if not clock_set(t):
            return unset_time(t)[15:].replace(", ", "\n")  # day N, HH:MM
        return dt.datetime.fromtimestamp(t, self.zone).strftime("%Y-%m-%d\n%H:%M")

    def format_ticks(self, values: list[float]) -> list[str]:
        at, ts = self._times(list(values))
        on = [clock_set(t) for t in ts]
        if not len(self.cut_s) and all(on):
            return super().format_ticks(values)
        dated = iter(super().format_ticks([self._num(t) for t, o in zip(ts, on, strict=True) if o])
                     if any(on) else [])  # fmt: skip
        if not any(on):
            self._offset_string = ""
        # after a cut, the first tick says its whole time: the date may be years on
        seg = np.searchsorted(self.cut_s, at, side="right")
        after = seg > np.concatenate([[0], seg[:-1]])
        out = []
        for t, o, a in zip(ts, on, after, strict=True):
            label = next(dated) if o else ""
            out.append(self._whole(t) if a or not o else label)
        return out

    def __call__(self, x: float, pos: int | None = None) -> str:
        t = float(self._times([x])[1][0])
        return super().__call__(self._num(t), pos) if clock_set(t) else self._whole(t)


def _axis(ax, tl: Timeline, tz: ZoneInfo) -> None:  # noqa: ANN001
    unset = not clock_set(tl.t0)  # in time order: a clock not set comes first (before 2020)
    loc = AutoDateLocator(tz=dt.UTC if unset else tz)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(_Ticks(loc, tz, tl))
    label = []
    if unset:  # the pump's clock was not set: time since the record began, not 1970
        label.append("clock not set: day and time since the record began")
        if clock_set(tl.t1):
            label[-1] += ", then dates"
    ta = tl.axis
    if ta is not None and len(ta.cut_at):
        label.append(f"not counting {cut_text(ta)}")
        at = date2num(_dates(tl.t0 + ta.cut_at * 3600, tz))
        ax.vlines(at, 0, 1, transform=ax.get_xaxis_transform(), colors="0.3", linestyles="--",
                  linewidth=1)  # fmt: skip
    if label:
        ax.set_xlabel(";\n".join(label), loc="left")  # the date offset goes on the right
    ax.grid(alpha=0.3)


def dose_figure(tl: Timeline, tz: ZoneInfo) -> Figure:
    """Delivered and programmed µg per hour, and the delivered µg over the last 24 h (on the
    right, the same scale x 24: a bar reads as its 24 h rate; a point each hour from 24 h on,
    marked, so a record of just 24 h shows its one)."""
    edges, dl, pr = per_hour(tl)
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    x = _dates(edges, tz)  # on the plots' axis already
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
    _axis(ax, tl, tz)
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
        ax.stairs(ys, _x(tl, ts, tz), baseline=None, label="rate (mL/h)")
    else:  # no rate: the record's span all the same, not 1970
        ax.set_xlim(*_x(tl, [tl.t0, tl.t1], tz))
    for a, b in tl.pauses:
        ax.axvspan(*_x(tl, [a, b if b is not None else tl.t1], tz), color="0.8", lw=0)
    for t, d, c in tl.programs:
        ax.annotate(f"{d} µg/24 h @ {c} µg/mL", (_x(tl, [t], tz)[0], 0), rotation=90,
                    fontsize=7, va="bottom")  # fmt: skip
    ax.set_ylabel("mL/h")
    ax.set_ylim(bottom=0)
    ax.set_title("Rate and titration (pauses shaded)")
    _axis(ax, tl, tz)
    return _svg(fig)


def alarms(tl: Timeline, tz: ZoneInfo) -> str:
    """Each alarm as a bar from raised to cleared (to the end of the record if never)."""
    fig = Figure(figsize=(9, 1.2 + 0.3 * len({a.kind for a in tl.alarms})))
    ax = fig.subplots()
    kinds = sorted({a.kind for a in tl.alarms})
    for a in tl.alarms:
        end = a.cleared if a.cleared is not None else tl.t1
        x0, x1 = _x(tl, [a.raised, max(end, a.raised + 60)], tz)
        ax.barh(kinds.index(a.kind), x1 - x0, left=x0, color="C3")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlim(*_x(tl, [tl.t0, tl.t1], tz))
    ax.set_title("Alarms, raised to cleared" if kinds else "Alarms: none")
    _axis(ax, tl, tz)
    return _svg(fig)
