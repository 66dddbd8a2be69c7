"""Many pumps at once (the benchmark, small), and the commands a reviewer types:
`pumpctl review serve`, `pumpctl logs upload`, `pumpctl cohort simulate|enrol|compare`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Site
from review_web import Server

from pumphost.review import db, load, queries

PUMPCTL = [sys.executable, "-c", "from pumphost.cli import main; main()"]


def test_concurrent_uploads_lose_nothing(server: Server, site: Site, tmp_path: Path) -> None:
    eng = server.engine
    with eng.begin() as c:
        tokens = [(f"L-{i}", queries.add_device(c, f"L-{i}", "north", "load")) for i in range(12)]
    log = load.make_log(tmp_path, 2)
    res = load.run(server.base, tokens * 2, log, workers=24)  # each pump twice, all at once
    per_log = (log.stat().st_size - 48) // 20
    print(f"\n{res.text()}")
    assert res.records == 12 * per_log  # the second upload of each pump stored nothing new
    with eng.begin() as c:
        assert queries.record_count(c) == 12 * per_log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pumpctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PUMPCTL, *args], capture_output=True, text=True, timeout=600, env=env, check=False
    )


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small-cohort")
    r = pumpctl("cohort", "simulate", "--patients", "2", "--days", "1", "--seed", "5",
                "--plant-alarms", "0", "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.plog")) == ["SIM-5-01.plog", "SIM-5-02.plog"]
    return out


def test_the_commands_end_to_end(db_url: str, small_cohort: Path, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(small_cohort, cohort)
    env = {**os.environ, "PUMPREVIEW_PASSWORD": "pw of the east reviewer"}
    for args in (
        ("review", "add-site", "east", "--tz", "Europe/Berlin"),
        ("review", "add-user", "carol", "--role", "reviewer", "--site", "east"),
        ("cohort", "enrol", str(cohort), "--site", "east"),
    ):
        r = pumpctl(*args, "--db", db_url, env=env)
        assert r.returncode == 0, r.stderr
    r = pumpctl("review", "add-site", "east", "--tz", "Mars/Olympus", "--db", db_url)
    assert r.returncode == 2 and "add-site" in r.stderr
    port = _free_port()
    srv = subprocess.Popen([*PUMPCTL, "review", "serve", "--db", db_url, "--port", str(port)],
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                assert srv.poll() is None, srv.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.1)
        tokens = json.loads((cohort / "tokens.json").read_text())
        for serial, tok in tokens.items():
            r = pumpctl("logs", "upload", str(cohort / f"{serial}.plog"), "--server", base,
                        "--token", tok)  # fmt: skip
            assert r.returncode == 0, r.stderr
            assert "new records stored for " + serial in r.stdout
        r = pumpctl("logs", "upload", str(cohort / f"{serial}.plog"), "--server", base,
                    "--token", tok)  # fmt: skip
        assert r.returncode == 0 and ": 0 new records" in r.stdout
        r = pumpctl("logs", "upload", str(cohort / f"{serial}.plog"), "--server", base,
                    "--token", "nope")  # fmt: skip
        assert r.returncode == 1 and "401" in r.stderr
    finally:
        srv.terminate()
        srv.wait(30)
    r = pumpctl("cohort", "compare", str(cohort), "--site", "east", "--db", db_url)
    print("\n" + r.stdout)
    assert r.returncode == 0, r.stderr
    assert "uploaded records" in r.stdout and "ground truth" in r.stdout
    eng = db.engine(db_url)
    with eng.begin() as c:
        assert queries.login(c, "carol", "pw of the east reviewer") is not None
    eng.dispose()
