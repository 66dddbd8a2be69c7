"""The time axis of a record's plots, bounded by the records, not by the span of their time
stamps: the pumpctl report (logs.report) and the review service's patient page share it.

A pump whose first boot never had its clock set (timed from 0, 1970) before a boot that set
it (2026), or a forged or damaged time, puts decades between two records: an axis over the
time stamps would make hundreds of thousands of hourly bins of nothing, slow and unreadable.
So every stretch of over JUMP_S without a record is cut out (a dashed line where it was), and
should the axis still span over MAX_H (only a forged log), the longest stretches left too."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JUMP_S = 7 * 86400  # a stretch this long without a record is cut out of the plots' axis
MAX_H = 24_000  # the plots' axis at most (1,000 days of records): bins stay bounded


@dataclass
class Axis:
    """The plots' hours axis: the record's time from its first record, with every stretch of
    over JUMP_S without a record cut out (a clock set years ahead, a boot whose clock was never
    set before one that was, a forged time), and, should it still span over MAX_H (a forged
    log), the longest stretches left too. So its length, and the hourly bins, stay bounded
    whatever the time stamps say; inside each stretch kept, hours are the record's hours."""

    t0: float  # the first record's time (s)
    hours: np.ndarray  # each record's place on the axis
    span_h: float
    cut_at: np.ndarray  # where a stretch was cut out (hours on the axis)
    cut_s: np.ndarray  # how long each was (s): from the record before to the one after
    cut_unknown: np.ndarray  # the clock was set on one side of it only: how long is not known
    cut_from: np.ndarray  # the times of the records either side of each (s)
    cut_to: np.ndarray
    cut_kept: np.ndarray  # how much of each the axis keeps (s): what a cut to whole units left
    u: np.ndarray  # the records' distinct times, in order (s)
    at_s: np.ndarray  # their places on the axis (s from the first)
    left_out: np.ndarray  # how much of the time from each to the next the axis leaves out (s)

    def place(self, t: np.ndarray) -> np.ndarray:
        """Any times' places on the axis (s from the first record): a time in a stretch cut
        out is at the cut (or after it, in what a cut to whole `unit_s` keeps of it)."""
        t = np.asarray(t, dtype=float)
        if not len(self.u):
            return t - self.t0
        i = np.clip(np.searchsorted(self.u, t, side="right") - 1, 0, len(self.u) - 1)
        off = t - self.u[i]
        out = np.append(self.left_out, 0.0)[i]
        return self.at_s[i] + np.where(off > 0, np.maximum(off - out, 0.0), off)

    def time(self, s: np.ndarray) -> np.ndarray:
        """The times at places on the axis (s from the first record; place's inverse)."""
        s = np.asarray(s, dtype=float)
        if not len(self.u):
            return s + self.t0
        i = np.clip(np.searchsorted(self.at_s, s, side="right") - 1, 0, len(self.u) - 1)
        off = s - self.at_s[i]
        out = np.append(self.left_out, 0.0)[i]
        return self.u[i] + off + np.where(off > 0, out, 0.0)


def build(t: np.ndarray, clock: np.ndarray, unit_s: int = 1) -> Axis:
    """The axis of records at times t (s, any order); clock: per record, whether its time is
    the device's UTC. unit_s: a stretch with the clock set on both sides is cut by a whole
    number of these (the review's days: a date on the axis keeps its time of day), what is
    left of it kept; a forced cut, or one with the clock set on one side only, is whole."""
    t = np.asarray(t)
    if not len(t):
        z = np.zeros(0)
        return Axis(0.0, z, 0.0, z, z, z.astype(bool), z, z, z, z, z, z)
    u = np.sort(t)
    u = u[np.concatenate([[True], u[1:] != u[:-1]])]  # np.unique, without its cost here
    at = np.searchsorted(u, t)
    on = np.zeros(len(u), dtype=bool)
    on[at[np.asarray(clock, dtype=bool)]] = True
    unknown = on[:-1] != on[1:]
    gap = np.diff(u).astype(float)
    whole = np.where(unknown, gap, gap - gap % unit_s)
    out = np.where(gap > JUMP_S, whole, 0.0)
    over = float((gap - out).sum()) - MAX_H * 3600.0
    if over > 0:
        kept = gap - out
        order = np.argsort(kept, kind="stable")[::-1]
        forced = order[: int(np.searchsorted(np.cumsum(kept[order]), over)) + 1]
        out[forced] = gap[forced]
    cut = out > 0
    pos = np.concatenate([[0.0], np.cumsum(gap - out)])
    return Axis(
        float(u[0]),
        pos[at] / 3600.0,
        float(pos[-1]) / 3600.0,
        pos[:-1][cut] / 3600.0,
        gap[cut],
        unknown[cut],
        u[:-1][cut].astype(float),
        u[1:][cut].astype(float),
        (gap - out)[cut],
        u.astype(float),
        pos,
        out,
    )


def duration(s: float) -> str:
    if s >= 2 * 365.25 * 86400:
        return f"{s / (365.25 * 86400):,.1f} years"
    return f"{s / 86400:,.1f} days" if s >= 2 * 86400 else f"{s / 3600:,.1f} h"


def cut_text(ax: Axis) -> str:
    n = len(ax.cut_s)
    return f"{n} stretch{'es' * (n > 1)} of time without records (dashed line{'s' * (n > 1)})"
