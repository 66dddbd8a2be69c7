"""Power-cut fuzzing of the firmware's log ring on the NOR emulation (nor.NorFlash).

One case: a log on a small region is filled with a random mix of appends, service steps
(which erase ahead) and clock sets; the power is cut at a random byte of all the bytes the
run programs and erases; the ring is opened again on what the flash holds, written on, and
opened once more. Checked every time:
  lost     a record whose program had completed (and whose sector was not being erased)
           is not read back intact, or is read back different;
  accepted a record is read back intact that was never written (a torn or stray one that
           passed its CRC), or out of order;
  verify   `pumpctl logs verify` on what the device would hand over finds an error.
`python -m pumphost.logs.fuzz N` runs N cuts and prints the counts (`make fuzz`).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field

from pump import events, logrec
from pump.logring import LogRing
from pumphost.logs.nor import SECTOR, NorFlash, PowerCut
from pumphost.logs.verify import verify

KEY = b"fuzz device key"


@dataclass
class Stats:
    cuts: int = 0
    cuts_in_erase: int = 0
    checked: int = 0  # committed records checked after a cut
    lost: int = 0
    accepted_corrupt: int = 0
    verify_errors: int = 0
    torn_seen: int = 0  # non-blank records that failed their CRC after a cut (rejected)
    failures: list[str] = field(default_factory=list)

    def add(self, o: Stats) -> None:
        for k in ("cuts", "cuts_in_erase", "checked", "lost", "accepted_corrupt"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.verify_errors += o.verify_errors
        self.torn_seen += o.torn_seen
        self.failures += o.failures


class _Oracle(NorFlash):
    """The flash, watched: which user records were fully programmed (committed), and which
    were in a sector whose erase had begun (dropped by the ring on purpose)."""

    def __init__(self, *a, **k) -> None:  # noqa: ANN002, ANN003
        super().__init__(*a, **k)
        self.erasing = False
        self.erase_spans: list[int] = []  # byte counts at which erases began

    def erase(self, off: int) -> None:
        self.erase_spans.append(self.bytes_done)
        try:
            super().erase(off)
        except PowerCut:
            self.erasing = True  # the cut landed in this erase
            raise


def _payload(n: int) -> tuple[int, int, int]:
    """The n-th user record: (code, a, b), all different, a carrying n."""
    code = (events.DELIVERED, events.ALARM, events.RATE, events.START, events.STOP)[n % 5]
    return code, n, (n * 2654435761) & 0x7FFFFFFF


def _entries(ring: LogRing) -> bytes:
    out = bytearray()
    seq = 0
    while True:
        page = ring.read(seq, 128)
        if not page:
            return bytes(out)
        out += page
        seq = int.from_bytes(page[-20:-16], "little") + 1


def _user(entries: bytes) -> list[tuple[int, int, int, int]]:
    out = []
    for off in range(0, len(entries), 20):
        s = int.from_bytes(entries[off : off + 4], "little")
        rec = entries[off + 4 : off + 20]
        if logrec.check(rec, s):
            code, _, a, b = logrec.unpack(rec)
            if code not in (events.TIME, events.SEAL, events.CLOCK):
                out.append((s, code, a, b))
    return out


def run_case(seed: int, sectors: int = 3, tear: str = "prefix", keyed: bool = False) -> Stats:
    rng = random.Random(seed)
    ops = []
    n_ops = rng.choice((40, 300, 700, 1200))
    for _ in range(n_ops):
        r = rng.random()
        ops.append("service" if r < 0.15 else "clock" if r < 0.17 else "add")
    key = KEY if keyed else None

    def play(flash: NorFlash, cut: int | None) -> tuple[list[int], int | None, int, bool]:
        """Runs ops; returns (committed user numbers, the one in flight, dropped floor...)."""
        flash.cut_at = cut
        committed: list[int] = []
        inflight = None
        in_erase = False
        try:
            ring = LogRing(flash, key=key, seal_every=16)
            t = 0
            for n, op in enumerate(ops):
                t += 1_000_000
                if op == "add":
                    inflight = n
                    ring.add(t, *_payload(n))
                    committed.append(n)
                    inflight = None
                elif op == "service":
                    ring.service(t)
                else:
                    ring.set_utc(logrec.LOG_EPOCH + 1000 * n)
        except PowerCut:
            in_erase = getattr(flash, "erasing", False)
            return committed, inflight, flash.bytes_done, in_erase
        return committed, inflight, flash.bytes_done, False

    # A dry run measures how many bytes the run programs and erases; the cut lands in them.
    dry = _Oracle(sectors * SECTOR)
    total = play(dry, None)[2]
    if dry.erase_spans and rng.random() < 0.3:  # a third of the cuts land in an erase
        cut = rng.choice(dry.erase_spans) + rng.randrange(SECTOR)
    else:
        cut = rng.randrange(total)
    flash = _Oracle(sectors * SECTOR, tear=tear, rng=random.Random(seed))
    committed, inflight, _, in_erase = play(flash, cut)
    st = Stats(cuts=1, cuts_in_erase=int(in_erase))

    ring = LogRing(flash, key=key, seal_every=16)
    ents = _entries(ring)
    for off in range(0, len(ents), 20):
        s = int.from_bytes(ents[off : off + 4], "little")
        if not logrec.check(ents[off + 4 : off + 20], s):
            st.torn_seen += 1
    got = _user(ents)
    where = f"seed {seed} ({sectors} sectors, {tear}, key {keyed}), cut at byte {cut}"
    nums = [a for _, _, a, _ in got]
    # accepted: every intact user record was written (committed or in flight), as written,
    # in order
    for s, code, a, b in got:
        if (
            not (0 <= a < len(ops))
            or (code, a, b) != _payload(a)
            or (a not in set(committed) and a != inflight)
        ):
            st.accepted_corrupt += 1
            st.failures.append(f"{where}: accepted seq {s} = {(code, a, b)}, never written")
    if nums != sorted(set(nums)):
        st.accepted_corrupt += 1
        st.failures.append(f"{where}: records out of order")
    # lost: the ring keeps whole sectors; everything committed from the oldest record still
    # there on must be there (older ones were in sectors erased on purpose)
    if got:
        keep = [n for n in committed if n >= nums[0]]
        present = set(nums)
        for n in keep:
            st.checked += 1
            if n not in present:
                st.lost += 1
                st.failures.append(f"{where}: committed record {n} lost")
        # and the ring keeps what it promises: every full sector but the one erased ahead
        kept = len([n for n in committed if n in present])
        promise = min(len(committed), int((sectors - 2) * logrec.PER_SECTOR * 0.8))
        if kept < promise:
            st.lost += promise - kept
            st.failures.append(f"{where}: only {kept} records kept, {promise} promised")
    elif committed and len(committed) < 200:
        st.lost += len(committed)
        st.failures.append(f"{where}: every record lost")
    v = verify(ents, key)
    if not v.ok:
        st.verify_errors += 1
        st.failures.append(f"{where}: verify after the cut: {v.errors}")
    # The ring goes on after the cut: more records, opened again, all there.
    base = len(ops)
    for i in range(300):
        ring.add(0, *_payload(base + i))
        if i % 40 == 0:
            ring.service(0)
    ents = _entries(LogRing(flash, key=key, seal_every=16))
    tail = [a for _, _, a, _ in _user(ents)][-300:]
    if tail != list(range(base, base + 300)):
        st.lost += 1
        st.failures.append(f"{where}: records written after the recovery are missing")
    v = verify(ents, key)
    if not v.ok:
        st.verify_errors += 1
        st.failures.append(f"{where}: verify after recovery and 300 more: {v.errors}")
    return st


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 10_000
    seed0 = int(argv[1]) if len(argv) > 1 else 1
    total = Stats()
    t0 = time.perf_counter()
    for i in range(n):
        seed = seed0 + i
        total.add(
            run_case(
                seed,
                sectors=3 + seed % 2,
                tear=("prefix", "noisy", "backward")[seed % 3],
                keyed=i % 3 == 0,
            )
        )
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} cuts, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(
        f"power cuts: {total.cuts} ({total.cuts_in_erase} during an erase), committed records "
        f"checked: {total.checked}, lost: {total.lost}, corrupt accepted: "
        f"{total.accepted_corrupt}, verify errors: {total.verify_errors}, torn records "
        f"rejected: {total.torn_seen}"
    )
    for f in total.failures[:20]:
        print("FAIL", f)
    return 1 if total.lost or total.accepted_corrupt or total.verify_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
