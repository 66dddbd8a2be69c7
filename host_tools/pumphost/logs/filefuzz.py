"""Fuzzing of every reader of a pulled log (.plog) with random and damaged files.

A case is a good log (the codec's, the firmware ring's with an HMAC key, an empty one) put
through one to four mutations: bytes appended, inserted, deleted or flipped, a cut, two
files or their entries joined, a seq byte or a whole seq rewritten, entries repeated or
swapped, records re-packed with a valid CRC (a forger's), or noise behind a header; with the
footer re-sealed or not. Each case goes through every path that reads such a file:
plogfile.parse, verify, export (records, CSV, JSON lines), report's decode (and every
REPORT_EVERY-th case the whole page), the review service's upload parse and decode, and
plogfile.append (pull's resume). Each must end in a result or a one-line refusal
(PlogError, UploadError); anything else fails: another exception, a MemoryError under the
memory limit, a case that takes over TIME_S.
`python -m pumphost.logs.filefuzz N [SEED]` runs N cases (`make fuzz`).
"""

from __future__ import annotations

import contextlib
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from pump import events, logrec
from pump.logring import LogRing
from pumphost.logs import export, plogfile, records, report, synth
from pumphost.logs.nor import SECTOR, NorFlash
from pumphost.logs.verify import verify

ENTRY = plogfile.ENTRY
HEAD, FOOT = plogfile.HEAD, plogfile.FOOT
KEY = b"file fuzz key"
MEMORY_MB = 300  # address space a case may add
TIME_S = 30  # per case (a report page takes about 0.5 s)
REPORT_EVERY = 25
_CODES = [*events.NAMES, 0, 0xFF, 200]


def _ring_log() -> bytes:
    """A keyed log from the firmware's own ring, with a power cut's burned seqs."""
    ring = LogRing(NorFlash(6 * SECTOR), key=KEY, seal_every=16)
    ring.set_utc(logrec.LOG_EPOCH + 10**8)
    for i in range(400):
        ring.add(i * 1_000_000, events.DELIVERED, i * 2000, i * 48)
        if i % 50 == 0:
            ring.service(i * 1_000_000)
    out = bytearray()
    seq = 0
    while page := ring.read(seq, 128):
        out += page
        seq = int.from_bytes(page[-ENTRY : -ENTRY + 4], "little") + 1
    return bytes(out)


_BASES: list[bytes] = []


def bases() -> list[bytes]:
    """Good .plog files the mutations start from."""
    if not _BASES:
        for ents in (synth.octreotide(600), _ring_log(), b"", synth.octreotide(5)):
            body = plogfile.header() + ents
            _BASES.append(body + plogfile.footer(body))
    return _BASES


def entries_of(raw: bytes) -> bytes:
    return raw[HEAD:-FOOT] if len(raw) >= HEAD + FOOT else raw[HEAD:]


def sealed(entries: bytes, head: bytes | None = None) -> bytes:
    """A file around these entries (after `head`, default an unnamed header) with a footer
    that matches them."""
    body = (plogfile.header() if head is None else head) + entries
    return body + plogfile.footer(body)


def damaged(good: bytes) -> dict[str, tuple[bytes, str]]:
    """The damaged files of the issue, from a good .plog's bytes (at least 102 entries; its
    header is kept): name -> (the file, what the reader's refusal says)."""
    e, head = entries_of(good), good[:HEAD]
    assert len(e) >= 102 * ENTRY
    high, mid = bytearray(e), bytearray(e)
    high[100 * ENTRY + 3] ^= 0x40  # seq 100 becomes 2^30 + 100, the footer made to match
    mid[100 * ENTRY + 2] ^= 0x40  # 2^22 + 100: every later entry is then out of order
    jump = "a jump of over 2^24 seqs"
    return {
        "garbage": (good + bytes(range(100, 125)), jump),  # 25 bytes appended
        "joined": (good + good, jump),
        "seq_high": (sealed(bytes(high), head), jump),
        "seq_mid": (sealed(bytes(mid), head), "out of order or repeated (over 16)"),
        "joined_entries": (sealed(e + e, head), "out of order or repeated (over 16)"),
        "magic": (plogfile.MAGIC, "8 bytes, shorter than the 32-byte header"),
    }


def _entry_at(rng: random.Random, ents: bytes) -> int | None:
    n = len(ents) // ENTRY
    return rng.randrange(n) * ENTRY if n else None


def _set_seq(rng: random.Random, raw: bytes, whole: bool) -> bytes:
    e = bytearray(entries_of(raw))
    off = _entry_at(rng, e)
    if off is None:
        return raw
    if whole:
        e[off : off + 4] = rng.getrandbits(32).to_bytes(4, "little")
    else:
        e[off + rng.randrange(4)] = rng.randrange(256)
    return sealed(bytes(e))


def _forge(rng: random.Random, raw: bytes) -> bytes:
    """Records re-packed with a CRC that checks: what verify without a key cannot see."""
    e = bytearray(entries_of(raw))
    for _ in range(rng.choice((1, 3, 40))):
        off = _entry_at(rng, e)
        if off is None:
            break
        seq = int.from_bytes(e[off : off + 4], "little")
        x = rng.choice((0, rng.getrandbits(24), logrec.OPENED | rng.getrandbits(23)))
        a, b = (rng.choice((-1, 0, 1, rng.getrandbits(31), -(2**31))) for _ in "ab")
        logrec.pack(e, off + 4, bytearray(12), seq, rng.choice(_CODES), x, a, b)
    return sealed(bytes(e))


def _noise(rng: random.Random, raw: bytes) -> bytes:
    junk = rng.randbytes(rng.randrange(0, 200))
    head = rng.choice((b"", plogfile.MAGIC, plogfile.header()))
    return sealed(junk) if head and rng.random() < 0.3 else head + junk


def _reorder(rng: random.Random, raw: bytes) -> bytes:
    e = bytearray(entries_of(raw))
    n = len(e) // ENTRY
    if n < 2:
        return raw
    i, j = sorted(rng.sample(range(n), 2))
    k = rng.choice(("swap", "dup", "back"))
    a, b = e[i * ENTRY : (i + 1) * ENTRY], e[j * ENTRY : (j + 1) * ENTRY]
    if k == "swap":
        e[i * ENTRY : (i + 1) * ENTRY], e[j * ENTRY : (j + 1) * ENTRY] = b, a
    elif k == "dup":
        e[j * ENTRY : j * ENTRY] = e[i * ENTRY : j * ENTRY][: 40 * ENTRY]
    else:  # the seqs from j on shifted back or ahead by a random amount
        d = rng.choice((-1, 1)) * rng.choice((1, 300, 2**16, 2**24, 2**31))
        for o in range(j * ENTRY, len(e) - len(e) % ENTRY, ENTRY):
            s = (int.from_bytes(e[o : o + 4], "little") + d) % 2**32
            e[o : o + 4] = s.to_bytes(4, "little")
    return sealed(bytes(e))


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "append": lambda r, raw: raw + r.randbytes(r.randrange(1, 65)),
    "cut": lambda r, raw: raw[: r.randrange(len(raw) + 1)],
    "join": lambda r, raw: raw + r.choice(bases()),
    "join_entries": lambda r, raw: sealed(entries_of(raw) + entries_of(r.choice(bases()))),
    "flip": lambda r, raw: _flip(r, raw),
    "insert": lambda r, raw: _splice(r, raw, r.randbytes(r.randrange(1, 41))),
    "delete": lambda r, raw: _splice(r, raw, b"", r.randrange(1, 41)),
    "seq_byte": lambda r, raw: _set_seq(r, raw, False),
    "seq": lambda r, raw: _set_seq(r, raw, True),
    "reorder": _reorder,
    "forge": _forge,
    "noise": _noise,
    "reseal": lambda r, raw: sealed(entries_of(raw)),
}


def _flip(rng: random.Random, raw: bytes) -> bytes:
    if not raw:
        return raw
    b = bytearray(raw)
    for _ in range(rng.choice((1, 1, 4))):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def _splice(rng: random.Random, raw: bytes, new: bytes, drop: int = 0) -> bytes:
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + new + raw[at + drop :]


def case(ops: list[tuple[str, int]], base: int) -> bytes:
    """The file for one case: a base log, then each mutation with its own seed."""
    raw = bases()[base % len(bases())]
    for name, seed in ops:
        raw = MUTATIONS[name](random.Random(seed), raw)
    return raw


def random_case(rng: random.Random) -> tuple[list[tuple[str, int]], int]:
    ops = [(rng.choice(sorted(MUTATIONS)), rng.getrandbits(32)) for _ in range(rng.randint(1, 4))]
    return ops, rng.randrange(len(bases()))


# --- the paths --------------------------------------------------------------------------


def _one_line(what: str, e: Exception) -> str | None:
    msg = str(e)
    if not msg or "\n" in msg:
        return f"{what}: the refusal is not one line: {msg!r}"
    return None


def check(raw: bytes, key: bytes | None = None, page: bool = False) -> list[str]:
    """Every reader of a pulled log on these bytes; what went wrong (empty: all is well)."""
    from pumphost.review import ingest
    from pumphost.review.decode import decode

    bad: list[str] = []

    def run(what: str, fn: Callable[[], object], refusal: type[Exception] | None = None) -> bool:
        try:
            fn()
            return True
        except Exception as e:  # noqa: BLE001 - any other exception is what we look for
            if refusal is not None and isinstance(e, refusal):
                if (m := _one_line(what, e)) is not None:
                    bad.append(m)
                return False
            tb = traceback.format_exception(e)
            bad.append(f"{what}: {type(e).__name__}: {e} ({tb[-2].strip()})")
            return False

    got: list[plogfile.Plog] = []
    parsed = run("parse", lambda: got.append(plogfile.parse(raw, "f.plog")), plogfile.PlogError)
    key_hex = key.hex() if key else None
    accepted = run("upload", lambda: ingest.parse(raw, key_hex), ingest.UploadError)
    if accepted and not parsed:
        bad.append("upload: took a file the reader refuses")
    if parsed:
        log = got[0]
        run("verify", lambda: verify(log.data, key, log.problems).text())
        rows = records.rows
        run("export", lambda: (export.to_csv(rows(log.data)), export.to_jsonl(rows(log.data))))
        run("report", lambda: report.decode(log.data))
        if page:
            run("report page", lambda: report.build(log.data, "f.plog", "drug", "NOT VERIFIED"))
    if accepted:
        run("upload decode", lambda: decode(got[0].data))
    with tempfile.TemporaryDirectory() as d:  # pull's resume: append onto this file
        p = Path(d) / "f.plog"
        p.write_bytes(raw)
        more = entries_of(bases()[0])[-50 * ENTRY :]
        ok = run("append", lambda: plogfile.append(p, more), plogfile.PlogError)
        if not ok and p.read_bytes() != raw:
            bad.append("append: refused, but changed the file")
        if ok:
            run("read after append", lambda: plogfile.read(p))
    return bad


# --- limits -----------------------------------------------------------------------------


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def memory_limit(mb: int = MEMORY_MB) -> Iterator[None]:
    """Address space capped at what the process maps now + mb: a runaway allocation is a
    MemoryError here, not the kernel's OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_bytes() + mb * 2**20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class TooSlow(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int = TIME_S) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise TooSlow(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def checked(raw: bytes, key: bytes | None = None, page: bool = False) -> list[str]:
    """check() within the memory and time limits (main thread only: SIGALRM)."""
    try:
        with memory_limit(), time_limit():
            return check(raw, key, page)
    except (TooSlow, MemoryError) as e:
        return [f"{type(e).__name__}: {e}"]


def _warm() -> None:
    """Imports and caches outside the limits: what every case needs once."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    from pumphost.review import decode, ingest  # noqa: F401

    bases()
    check(bases()[0], page=True)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    seed0 = int(argv[1]) if len(argv) > 1 else 1
    _warm()
    t0 = time.perf_counter()
    refused = failed = 0
    for i in range(n):
        seed = seed0 + i
        ops, base = random_case(random.Random(seed))
        raw = case(ops, base)
        bad = checked(raw, KEY if seed % 2 else None, page=seed % REPORT_EVERY == 0)
        try:
            plogfile.parse(raw, "f")
        except plogfile.PlogError:
            refused += 1
        except Exception:  # noqa: BLE001, S110 - counted by check() already
            pass
        if bad:
            failed += 1
            if failed <= 20:
                print(f"FAIL seed {seed} base {base} ops {ops}: {'; '.join(bad)}")
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} files, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(
        f"damaged files: {n} through every reader of a .plog, {refused} refused in one line, "
        f"{failed} failed ({time.perf_counter() - t0:.0f} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
