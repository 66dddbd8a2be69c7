"""`make bench-review`: 100 pumps x 30 days uploading concurrently to `pumpctl review serve`
on 127.0.0.1 (SQLite, and a throwaway PostgreSQL when Debian's is installed); prints
uploads/s, p95 latency and the time to render the cohort view, and checks that every record
arrived. --budget-s bounds each database's run (exit 1 past it)."""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from pumphost.review import db, load, queries
from pumphost.review.pgtemp import Cluster, bindir

PASSWORD = "bench password"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cookie(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = op.open(base + "/login").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf, "username": "bench", "password": PASSWORD}
    op.open(base + "/login", urllib.parse.urlencode(form).encode()).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _serve(url: str, port: int) -> subprocess.Popen:
    serve = ["review", "serve", "--db", url, "--port", str(port)]
    cmd = [sys.executable, "-c", "from pumphost.cli import main; main()", *serve]
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    for _ in range(600):
        if srv.poll() is not None:
            raise RuntimeError(f"the service exited with status {srv.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return srv
        except OSError:
            time.sleep(0.1)
    srv.terminate()
    raise RuntimeError("the service did not answer in 60 s")


def one_db(url: str, pumps: int, days: int, workers: int, work: Path, budget: float) -> bool:
    eng = db.engine(url)
    db.migrate(eng)
    with eng.begin() as c:
        queries.add_site(c, "bench", "bench site")
        queries.add_user(c, "bench", PASSWORD, "admin", [])
        tokens = []
        for i in range(pumps):
            tokens.append((f"B-{i:03d}", queries.add_device(c, f"B-{i:03d}", "bench", "bench")))
            queries.assign(c, f"B-{i:03d}", f"BP-{i:03d}")
    log = load.make_log(work, days)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    srv = _serve(url, port)
    try:
        res = load.run(base, tokens, log, workers)
        print(f"  uploads: {res.text()}")
        secs, page = load.timed_get(base + "/cohort", _cookie(base))
        print(f"  cohort view of {pumps} patients x {days} days rendered in {secs:.1f} s")
    finally:
        srv.terminate()
        srv.wait(60)
    srv = _serve(url, port)  # a fresh process: no figures cached yet
    try:
        cold, _ = load.timed_get(base + "/cohort", _cookie(base))
        print(f"  the same, first view after a restart (nothing cached): {cold:.1f} s")
    finally:
        srv.terminate()
        srv.wait(60)
    with eng.begin() as c:
        stored = queries.record_count(c)
    eng.dispose()
    want = pumps * (log.stat().st_size - 48) // 20
    ok = stored == want and res.records == want and b"cohort-table" in page
    print(f"  records stored {stored} of {want} sent: {'nothing lost' if ok else 'LOST RECORDS'}")
    if res.seconds + secs > budget:
        print(f"  OVER BUDGET: {res.seconds + secs:.0f} s > {budget:.0f} s")
        ok = False
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pumps", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--workers", type=int, default=100, help="uploads in flight at once")
    ap.add_argument("--budget-s", type=float, default=900)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    a = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="pumpreview-bench-") as d:
        work = Path(d)
        print(f"{a.pumps} pumps x {a.days} days, {a.workers} concurrent uploads, 127.0.0.1")
        print("SQLite:")
        ok &= one_db(f"sqlite:///{work / 'bench.sqlite3'}", a.pumps, a.days, a.workers, work,
                     a.budget_s)  # fmt: skip
        if not a.no_pg and bindir() is not None:
            with Cluster() as pg:
                print("PostgreSQL (throwaway cluster, unix socket):")
                ok &= one_db(pg.new_database(), a.pumps, a.days, a.workers, work, a.budget_s)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
