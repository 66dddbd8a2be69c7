"""Many pumps uploading at once to a running service: the benchmark (`make bench-review`)
and, small, a test. Logs are synthesized through the log codec (pumphost.logs.synth): the
emulator would take hours for 100 pumps x 30 days."""

from __future__ import annotations

import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pumphost.logs import plogfile, synth
from pumphost.review.client import upload

RECORDS_PER_DAY = 1470  # a DELIVERED record a minute and the day's events


@dataclass
class Result:
    uploads: int
    records: int
    seconds: float
    latencies: list[float]

    @property
    def per_s(self) -> float:
        return self.uploads / self.seconds

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] if len(self.latencies) > 1 else 0.0

    def text(self) -> str:
        return (
            f"{self.uploads} uploads ({self.records} records) in {self.seconds:.1f} s: "
            f"{self.per_s:.2f} uploads/s, {self.records / self.seconds:.0f} records/s, "
            f"p95 latency {self.p95:.2f} s, median {statistics.median(self.latencies):.2f} s"
        )


def make_log(directory: Path, days: int) -> Path:
    """The records every pump uploads (a file that names no pump: `run` names a copy for each)."""
    p = directory / f"synth-{days}d.plog"
    if not p.exists():
        plogfile.write(p, synth.octreotide(days * RECORDS_PER_DAY))
    return p


def run(server: str, pumps: list[tuple[str, str]], log: Path, workers: int) -> Result:
    """Every pump (serial, token) uploads the log once, named as its own (a log names its
    pump, and the service takes only the token's pump's), `workers` at a time; latencies per
    upload."""
    entries = plogfile.read(log).data
    files = {}
    for serial, _ in pumps:
        if serial not in files:
            files[serial] = log.with_name(f"{log.stem}-{serial}.plog")
            plogfile.write(files[serial], entries, plogfile.Ident(serial))
    lat: list[float] = []

    def one(pump: tuple[str, str]) -> int:
        t = time.perf_counter()
        r = upload(files[pump[0]], server, pump[1], timeout=1800)
        lat.append(time.perf_counter() - t)
        return int(r["new"])  # type: ignore[call-overload]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        new = sum(ex.map(one, pumps))
    return Result(len(pumps), new, time.perf_counter() - t0, lat)


def timed_get(url: str, cookie: str) -> tuple[float, bytes]:
    req = urllib.request.Request(url, headers={"cookie": cookie})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=1800) as r:
        body = r.read()
    return time.perf_counter() - t, body
