"""`make bench-log` (host half): verify + report of a million records, against 5 s."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pumphost.logs import plogfile, synth
from pumphost.logs.report import build
from pumphost.logs.verify import verify

SECTORS = 192  # drivers/flashlog.py LOG_BYTES / 4 KB
PER_SECTOR = 254
USER_PER_DAY = 1440 + 30  # a DELIVERED record a minute, running all day, and ~30 events
SEAL_EVERY = 64
CYCLES = 100_000  # W25Q16JV: minimum erase/program cycles per sector


def capacity() -> None:
    """Capacity and flash lifetime at default logging (LOG-FORMAT.md, "Capacity")."""
    for keyed in (False, True):
        slots = USER_PER_DAY * PER_SECTOR / (PER_SECTOR - 1)  # + one TIME anchor a sector
        if keyed:
            slots *= (SEAL_EVERY + 1) / SEAL_EVERY  # + a SEAL every 64 records
        kept = (SECTORS - 2) * PER_SECTOR  # the head may be empty, the next erased ahead
        lap = SECTORS * PER_SECTOR / slots  # days between two erases of one sector
        print(
            f"log capacity ({'with' if keyed else 'without'} HMAC seals): {kept} records kept "
            f"at least = {kept / slots:.1f} days at {USER_PER_DAY} records/day; each sector "
            f"erased every {lap:.1f} days: {CYCLES:,} cycles last {CYCLES * lap / 365:,.0f} years"
        )


def main() -> None:
    capacity()
    n = 1_000_000
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "million.plog"
        plogfile.write(p, synth.octreotide(n))
        t0 = time.perf_counter()
        c0 = time.process_time()
        log = plogfile.read(p)
        res = verify(log.data, None, log.problems)
        t1 = time.perf_counter()
        page = build(log.data, p.name, "octreotide", "clean" if res.ok else "NOT VERIFIED")
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        (Path(d) / "r.html").write_text(page)
        size = p.stat().st_size
    assert res.ok, res.errors[:3]
    print(
        f"host verify + report of {n:,} records: {t2 - t0:.2f} s (verify {t1 - t0:.2f} s, "
        f"report {t2 - t1:.2f} s; target under 5 s), {cpu:.2f} s of CPU, {size / 1e6:.0f} MB file"
    )


if __name__ == "__main__":
    main()
