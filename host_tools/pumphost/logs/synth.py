"""A plausible log, written straight through the codec (no flash): for the benchmark's
million records and for tests of export and report. The firmware's own ring writes the logs
that the power-cut tests check; this only needs the same bytes, fast."""

from __future__ import annotations

from pump import events, logrec
from pump.logring import LogRing
from pumphost.logs.nor import SECTOR, NorFlash

NL_PER_STEP_NUM, NL_PER_STEP_DEN = 41280, 1000  # about a BD Plastipak 10 mL on the Pico


def octreotide(n: int, utc0: int = 5 * 365 * 86400, alarms_every: int = 5000) -> bytes:
    """n records (anchors included): a 10 mL syringe at 500 ug/mL, 1632 ug/24 h, escalated to
    2167 ug/24 h after a day, a DELIVERED record a minute, a refill when empty, and an
    occlusion alarm raised, acknowledged and cleared now and then."""
    out = bytearray(n * logrec.ENTRY)
    body = bytearray(12)
    seq = 0
    t = 0  # uptime s (one boot)
    anchor = 0
    nl = 0
    rate = (136000, 1)  # nL/h
    dose = 1632
    state = []  # queued events for the next records

    def put(code: int, x: int, a: int, b: int) -> None:
        nonlocal seq
        o = seq * logrec.ENTRY
        out[o : o + 4] = seq.to_bytes(4, "little")
        logrec.pack(out, o + 4, body, seq, code, x, a, b)
        seq += 1

    state += [
        (events.BOOT, events.CAUSE_POWER_ON, -1),
        (events.LOAD, 1, 10_000_000),
        (events.PROGRAM, dose, 500),
        (events.RATE, *rate),
        (events.START, 0, 0),
    ]
    while seq < n:
        if seq % logrec.PER_SECTOR == 0 or seq == 0:
            anchor = t
            put(events.TIME, logrec.OPENED if seq == 0 else 0, utc0 + t, t)
            continue
        if state:
            code, a, b = state.pop(0)
            put(code, t - anchor, a, b)
            continue
        t += 60
        nl += rate[0] // 60
        if nl >= 9_900_000:  # empty: a new syringe
            state += [(events.STOP, nl * NL_PER_STEP_DEN // NL_PER_STEP_NUM, 0),
                      (events.LOAD, 1, 10_000_000), (events.START, 0, 0)]  # fmt: skip
            nl = 0
        if t == 86400:
            dose = 2167
            rate = (2167 * 1_000_000 // 12000, 1)
            state += [(events.PROGRAM, dose, 500), (events.RATE, *rate)]
        if seq % alarms_every == alarms_every - 1:
            state += [(events.ALARM, 7, 1), (events.ALARM, 7, 2), (events.ALARM, 7, 4)]
        put(events.DELIVERED, t - anchor, nl, nl * NL_PER_STEP_DEN // NL_PER_STEP_NUM)
    return bytes(out)


def entries(recs: list[tuple[int, int, int, int]]) -> bytes:
    """Entries (seq 0, 1, ...) of these (code, x, a, b) records, CRCs valid."""
    out = bytearray(len(recs) * logrec.ENTRY)
    for seq, (code, x, a, b) in enumerate(recs):
        o = seq * logrec.ENTRY
        out[o : o + 4] = seq.to_bytes(4, "little")
        logrec.pack(out, o + 4, bytearray(12), seq, code, x, a, b)
    return bytes(out)


def _ring_boot(ring: LogRing, minutes: int, utc: int | None) -> None:
    """A boot as the firmware logs it: load, program, start, a DELIVERED record a minute,
    then the power goes (no stop)."""
    t = 0
    ring.add(t, events.BOOT, events.CAUSE_POWER_ON, -1)
    if utc is not None:
        ring.set_utc(utc)
    ring.add(t, events.LOAD, events.SYRINGES["bd-plastipak-10ml"], 10_000_000)
    ring.add(t, events.PROGRAM, 1632, 500)
    ring.add(t, events.RATE, 136000, 1)
    ring.add(t, events.START)
    for m in range(1, minutes + 1):
        t += 60_000_000
        ring.service(t)
        ring.add(t, events.DELIVERED, m * 2266, m * 2266 * 1000 // 41280)


def unset_then_set_clock(minutes: int = 45, utc: int = 1_780_000_000) -> bytes:
    """About 2 x `minutes` records from the firmware's own ring: a first boot whose clock was
    never set (timed from 0: 1970 if taken for UTC), then a boot that sets it."""
    flash = NorFlash(6 * SECTOR)
    _ring_boot(LogRing(flash), minutes, None)
    _ring_boot(LogRing(flash), minutes, utc)
    ring = LogRing(flash)
    out, seq = bytearray(), 0
    while page := ring.read(seq, 128):
        out += page
        seq = int.from_bytes(page[-logrec.ENTRY : -logrec.ENTRY + 4], "little") + 1
    return bytes(out)
