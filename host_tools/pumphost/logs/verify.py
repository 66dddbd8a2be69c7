"""`pumpctl logs verify`: CRCs, sequence gaps and the HMAC chain of a pulled log.

Every seq between two TIME anchors must hold an intact record, except as many as the later
anchor's skip count says the device burned (power cuts, failed writes, sector ends). Anything
else missing or damaged, out of order or repeated is an error, as is a SEAL that does not
match the records since the one before (with the key). See firmware/pump/LOG-FORMAT.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pumphost import paths

paths.use_firmware_core()
from pump import events, logrec  # noqa: E402

ENTRY = logrec.ENTRY


@dataclass
class Result:
    entries: int = 0
    intact: int = 0
    first: int | None = None
    last: int | None = None
    seals_checked: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        span = f"seq {self.first}..{self.last}" if self.first is not None else "no records"
        lines = [
            f"{self.entries} entries ({span}), {self.intact} intact, "
            f"{self.seals_checked} HMAC seals checked"
        ]
        lines += [f"ERROR {e}" for e in self.errors]
        lines += [f"note  {n}" for n in self.notes]
        lines.append(
            "verified: clean" if self.ok else f"NOT VERIFIED: {len(self.errors)} problems"
        )
        return "\n".join(lines)


def _ranges(seqs: list[int]) -> str:
    out: list[str] = []
    for s in seqs:
        if out and out[-1].split("..")[-1] == str(s - 1):
            out[-1] = f"{out[-1].split('..')[0]}..{s}"
        else:
            out.append(str(s))
    return ", ".join(out)


def verify(entries: bytes, key: bytes | None = None, frame: list[str] | None = None) -> Result:
    r = Result(entries=len(entries) // ENTRY)
    r.errors += frame or []
    prev: int | None = None
    anchors = 0
    missing: list[int] = []  # seqs since the last anchor without an intact record
    damaged: list[int] = []
    acc: logrec.Chain | None = None
    seal_seq: int | None = None
    seals = 0
    mv = memoryview(entries)
    for off in range(0, len(entries) - len(entries) % ENTRY, ENTRY):
        seq = int.from_bytes(mv[off : off + 4], "little")
        rec = bytes(mv[off + 4 : off + ENTRY])
        if r.first is None:
            r.first = seq
        if prev is not None and seq <= prev:
            r.errors.append(f"seq {seq} after seq {prev}: out of order or repeated")
            continue
        if prev is not None:
            missing += range(prev + 1, seq)
        prev = seq
        r.last = seq
        if not logrec.check(rec, seq):
            missing.append(seq)
            damaged.append(seq)
            continue
        r.intact += 1
        code, x, a, b = logrec.unpack(rec)
        if code == events.TIME:
            skip = x & logrec.SKIP_MASK
            if anchors and len(missing) != skip:
                what = f"seq {_ranges(missing)} missing or damaged" if missing else "none missing"
                r.errors.append(
                    f"before the anchor at seq {seq}: {what}, but the device burned {skip}"
                    + (f"; damaged records at seq {_ranges(damaged)}" if damaged else "")
                    + (" (records removed, or altered)" if len(missing) > skip else "")
                )
            elif missing and not anchors:
                r.notes.append(
                    f"seq {_ranges(missing)} before the first anchor in the file: not checkable"
                )
            elif missing:
                r.notes.append(
                    f"seq {_ranges(missing)}: burned by the device (power cut or failed write)"
                    + (f", torn records at seq {_ranges(damaged)}" if damaged else "")
                    + f", as the anchor at seq {seq} says"
                )
            anchors += 1
            missing, damaged = [], []
        if code == events.SEAL:
            seals += 1
            if key is None:
                continue
            mac = logrec.words_mac(a, b)
            if x & logrec.OPENED:  # the chain starts here
                if logrec.Chain(key).value() != mac:
                    r.errors.append(f"seal at seq {seq}: not the start of this key's chain")
                else:
                    r.seals_checked += 1
            elif acc is None:
                r.notes.append(f"HMAC chain checked from the seal at seq {seq} on")
            elif acc.n != x or acc.value() != mac:
                r.errors.append(
                    f"seal at seq {seq} does not match the records after the seal at seq "
                    f"{seal_seq}: one of them was altered, removed, added or re-ordered"
                )
            else:
                r.seals_checked += 1
            acc = logrec.Chain(key, mac)
            seal_seq = seq
        elif acc is not None:
            acc.update(mv[off : off + ENTRY])
    if missing:
        r.errors.append(
            f"seq {_ranges(missing)} after the last anchor: missing or damaged"
            + (f" (damaged: {_ranges(damaged)})" if damaged else "")
        )
    if key is not None:
        if not seals:
            r.errors.append("no HMAC seal in the log: it was not kept with a key")
        elif acc is not None and acc.n:
            r.notes.append(f"{acc.n} records after the last seal (seq {seal_seq}) not sealed yet")
    elif seals:
        r.notes.append(f"{seals} HMAC seals not checked: no --key given")
    return r
