"""Every intact record of a pulled log with its times, vectorised (numpy): uptime and device
UTC from the TIME anchors, and one timeline in Unix seconds. What pumphost.logs.records.rows
gives record by record, at a fraction of the cost for a month of log; records written before
the clock was set in a boot get that boot's UTC offset back-filled.

An upload goes on from what is stored for its pump (`Prior`): records before the upload's
first TIME anchor take their time from the stored anchor before them (when every seq between
is stored), and a boot whose clock was never set goes after the stored records, never back
to the start of the timeline. Without a stored anchor such records are placed at the time of
the upload's first anchor, the latest they can have been written (`Records.untimed` says how
many)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pump import events, logrec
from pumphost.logs.report import _REC, intact_mask


@dataclass
class Records:
    seq: np.ndarray
    code: np.ndarray
    a: np.ndarray
    b: np.ndarray
    uptime: np.ndarray  # s since boot, -1: before the first anchor
    utc: np.ndarray  # device UTC, s since the log epoch, -1: clock not set
    t: np.ndarray  # Unix s on one timeline
    raw: list[bytes]
    untimed: int = 0  # records before the first anchor with no stored one to time them


@dataclass(frozen=True)
class Prior:
    """What is stored for the pump before an upload's first seq: the last TIME anchor there
    (None unless every seq from it to the upload is stored) and the latest time stored."""

    anchor: tuple[int, int, int] | None  # uptime s, device UTC (-1: unset), t - uptime
    end_t: int


def decode(entries: bytes, prior: Prior | None = None) -> Records:
    n = len(entries) // logrec.ENTRY
    r = np.frombuffer(entries, dtype=_REC, count=n)
    ok = intact_mask(entries)
    idx = np.flatnonzero(ok)
    r = r[ok]
    code = r["code"].astype(np.int64)
    x = r["lo"].astype(np.int64) | (r["hi"].astype(np.int64) << 16)
    a, b = r["a"].astype(np.int64), r["b"].astype(np.int64)
    anchor = code == events.TIME
    last = np.maximum.accumulate(np.where(anchor, np.arange(len(code)), -1)) if len(code) else x
    has = last >= 0
    at = np.where(has, last, 0)
    up = np.where(anchor, b, np.where(has, b[at] + x, -1)) if len(code) else x
    utc = np.where(anchor, a, np.where(has & (a[at] >= 0), a[at] + x, -1)) if len(code) else x
    before = ~has if len(code) else np.zeros(0, dtype=bool)  # before the upload's 1st anchor
    boots = np.flatnonzero(anchor & ((x & logrec.OPENED) != 0)).tolist()
    boot_off = None  # the stored boot's t - uptime, when the upload goes on with that boot
    if prior is not None and prior.anchor is not None and not (boots and boots[0] == 0):
        p_up, p_utc, boot_off = prior.anchor
        up = np.where(before, p_up + x, up)
        utc = np.where(before, p_utc + x if p_utc >= 0 else -1, utc)
        before[:] = False
    t = np.zeros(len(code), dtype=np.int64)
    start, end_t = 0, prior.end_t if prior is not None else 0
    for stop in [*boots[1:], len(code)] if boots and boots[0] == 0 else [*boots, len(code)]:
        seg = slice(start, stop)
        u, w = utc[seg], up[seg]
        if len(u):
            known = np.flatnonzero(u >= 0)
            if len(known):
                off = logrec.LOG_EPOCH + u[known[0]] - w[known[0]]
            elif start == 0 and boot_off is not None:  # the stored boot goes on
                off = boot_off
            else:  # a boot whose clock was never set: after everything before it
                off = end_t + 1
            t[seg] = np.where(u >= 0, logrec.LOG_EPOCH + u, off + np.maximum(w, 0))
            end_t = max(end_t, int(t[seg].max()))
        start = stop
    first = np.flatnonzero(~before)
    untimed = int(first[0]) if len(first) else len(code)
    if untimed and len(first):  # written at or before the first anchor: placed there
        t[:untimed] = t[untimed]
    mv = memoryview(entries)
    raw = [bytes(mv[i * logrec.ENTRY + 4 : (i + 1) * logrec.ENTRY]) for i in idx.tolist()]
    return Records(r["seq"].astype(np.int64), code, a, b, up, utc, t, raw, untimed)
