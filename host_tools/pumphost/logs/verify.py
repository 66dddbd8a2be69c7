"""`pumpctl logs verify`: CRCs, sequence gaps and the HMAC chain of a pulled log.

Every seq between two TIME anchors must hold an intact record, except as many as the later
anchor's skip count says the device burned (power cuts, failed writes, sector ends). Anything
else missing or damaged, out of order or repeated is an error, as is a SEAL that does not
match the records since the one before (with the key). See firmware/pump/LOG-FORMAT.md.
Missing and damaged seqs are kept as runs (first, last), so memory and time follow the
number of entries, whatever their seqs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pump import events, logrec

ENTRY = logrec.ENTRY


class Runs:
    """Seqs as runs (first, last): a gap of 2^32 seqs costs one pair, not a list of them."""

    SHOWN = 8  # runs spelled out in a message; the rest are counted

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        self.count = 0

    def add(self, first: int, last: int | None = None) -> None:
        last = first if last is None else last
        if last < first:
            return
        self.count += last - first + 1
        if self.runs and self.runs[-1][1] == first - 1:
            self.runs[-1][1] = last
        else:
            self.runs.append([first, last])

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        out = [str(a) if a == b else f"{a}..{b}" for a, b in self.runs[: self.SHOWN]]
        more = self.runs[self.SHOWN :]
        if more:
            n = sum(b - a + 1 for a, b in more)
            out.append(f"and {len(more)} more runs ({n} seqs)")
        return ", ".join(out)


@dataclass
class Result:
    entries: int = 0
    intact: int = 0
    first: int | None = None
    last: int | None = None
    seals_checked: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    damaged: Runs = field(default_factory=Runs)  # entries failing their CRC
    disorder: Runs = field(default_factory=Runs)  # entries out of order or repeated

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
        if not self.ok:
            lines.append(f"NOT VERIFIED: {len(self.errors)} problems")
        elif not self.entries:  # nothing to vouch for: never "clean"
            lines.append("NO RECORDS: the file holds no log entries, so nothing was verified")
        else:
            lines.append("verified: clean")
        return "\n".join(lines)


def verify(entries: bytes, key: bytes | None = None, frame: list[str] | None = None) -> Result:
    r = Result(entries=len(entries) // ENTRY)
    r.errors += frame or []
    prev: int | None = None
    anchors = 0
    missing = Runs()  # seqs since the last anchor without an intact record
    damaged = Runs()
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
            r.disorder.add(seq)
            continue
        if prev is not None:
            missing.add(prev + 1, seq - 1)
        prev = seq
        r.last = seq
        if not logrec.check(rec, seq):
            missing.add(seq)
            damaged.add(seq)
            r.damaged.add(seq)
            continue
        r.intact += 1
        code, x, a, b = logrec.unpack(rec)
        if code == events.TIME:
            skip = x & logrec.SKIP_MASK
            if anchors and missing.count != skip:
                what = f"seq {missing} missing or damaged" if missing else "none missing"
                r.errors.append(
                    f"before the anchor at seq {seq}: {what}, but the device burned {skip}"
                    + (f"; damaged records at seq {damaged}" if damaged else "")
                    + (" (records removed, or altered)" if missing.count > skip else "")
                )
            elif missing and not anchors:
                r.notes.append(f"seq {missing} before the first anchor in the file: not checkable")
            elif missing:
                r.notes.append(
                    f"seq {missing}: burned by the device (power cut or failed write)"
                    + (f", torn records at seq {damaged}" if damaged else "")
                    + f", as the anchor at seq {seq} says"
                )
            anchors += 1
            missing, damaged = Runs(), Runs()
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
            f"seq {missing} after the last anchor: missing or damaged"
            + (f" (damaged: {damaged})" if damaged else "")
        )
    if key is not None:
        if not seals:
            r.errors.append("no HMAC seal in the log: it was not kept with a key")
        elif acc is not None and acc.n:
            r.notes.append(f"{acc.n} records after the last seal (seq {seal_seq}) not sealed yet")
    elif seals:
        r.notes.append(f"{seals} HMAC seals not checked: no --key given")
    return r
