"""Damaged logs uploaded to the review service running as `pumpctl review serve` in a process
of its own with its address space capped: each is refused with 422 and the reader's one
line (the reason and the seq), nothing is stored, and the same service then takes a good
log (one upload cannot take it down). Before, the gap list of such a file grew to tens of
GB: a 500, or the service killed."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Site
from sqlalchemy import func, select

from pumphost.logs import filefuzz, plogfile, synth
from pumphost.logs.plogfile import Ident
from pumphost.review import db
from pumphost.review.client import UploadFailed, upload

MEMORY = 512 * 2**20  # uvicorn, SQLAlchemy, numpy and the thread pool's stacks: about 400 MB


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


@pytest.fixture
def service(site: Site, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves 64 MB of address space per arena
    log = (tmp_path / "serve.log").open("w")
    p = subprocess.Popen(
        [sys.executable, "-c", "from pumphost.cli import main; main()", "review", "serve",
         "--db", site.url, "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_limited,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        t = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                assert p.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() - t < 60, "the review service did not start"
                time.sleep(0.2)
        yield base
        assert p.poll() is None, "the service died: " + (tmp_path / "serve.log").read_text()
    finally:
        p.terminate()
        p.wait(30)
        log.close()


def _stored(url: str) -> tuple[int, int]:
    eng = db.engine(url)
    with eng.begin() as c:
        recs = c.execute(select(func.count()).select_from(db.records)).scalar_one()
        ups = c.execute(select(func.count()).select_from(db.uploads)).scalar_one()
    eng.dispose()
    return recs, ups


def test_damaged_uploads_are_refused_in_one_line_and_the_service_stays_up(
    service: str, site: Site, tmp_path: Path
) -> None:
    ents = synth.octreotide(3000)
    body = plogfile.header(Ident("N-1")) + ents  # the token's pump names itself
    good = body + plogfile.footer(body)
    tok = site.tokens["N-1"]
    for kind, (raw, why) in filefuzz.damaged(good).items():
        p = tmp_path / f"{kind}.plog"
        p.write_bytes(raw)
        with pytest.raises(UploadFailed) as e:
            upload(p, service, tok)
        msg = str(e.value)
        assert msg.startswith("422: the uploaded file: ") and why in msg, (kind, msg)
        assert "\n" not in msg and "Traceback" not in msg
        if kind != "magic":
            assert "seq " in msg, msg
    assert _stored(site.url) == (0, 0)
    p = tmp_path / "good.plog"
    p.write_bytes(good)
    assert upload(p, service, tok)["new"] == 3000
