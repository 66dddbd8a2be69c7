"""Decoded records of a pulled log, for export and report: absolute times from the anchors."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from pump import events, logrec

ENTRY = logrec.ENTRY
INTERNAL = (events.TIME, events.SEAL)


@dataclass
class Row:
    seq: int
    event: str
    code: int
    a: int
    b: int
    boot: int  # boots seen so far in the file (TIME anchors that opened the ring)
    uptime_s: int  # seconds since that boot, -1: unknown
    utc: str  # ISO 8601 UTC, "" while the device clock was not set
    t_s: int  # seconds on one timeline across boots (UTC where known), for plots

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def utc_iso(utc: int) -> str:
    if utc < 0:
        return ""
    t = dt.datetime.fromtimestamp(logrec.LOG_EPOCH + utc, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(entries: bytes, internal: bool = False) -> list[Row]:
    """Intact records in seq order: damaged ones, and any entry whose seq is not above the
    one before it (out of order or repeated), are left out (verify reports them)."""
    clock = logrec.Clock()
    out: list[Row] = []
    offset = 0  # timeline seconds at the start of this boot, when no UTC is known
    last_t = 0
    prev = -1
    mv = memoryview(entries)
    for off in range(0, len(entries) - len(entries) % ENTRY, ENTRY):
        seq = int.from_bytes(mv[off : off + 4], "little")
        if seq <= prev:
            continue
        prev = seq
        rec = bytes(mv[off + 4 : off + ENTRY])
        if not logrec.check(rec, seq):
            continue
        code, x, a, b = logrec.unpack(rec)
        boots = clock.boots
        up, utc = clock.feed(code, x, a, b)
        if code == events.TIME and clock.boots != boots:
            offset = last_t + 1
        if utc >= 0:
            t = logrec.LOG_EPOCH + utc
            offset = t - max(up, 0)
        else:
            t = offset + max(up, 0)
        last_t = max(last_t, t)
        if code in INTERNAL and not internal:
            continue
        name = events.NAMES.get(code, f"code{code}")
        out.append(Row(seq, name, code, a, b, clock.boots, up, utc_iso(utc), t))
    return out
