"""The HIL harness itself (hil/conftest.py, hil/dut.py), checked without a board.

Rig markers and pump cleanup are checked statically over the collected HIL items; a port with
nothing listening is run for real, as a subprocess, since it needs no board.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CAPABILITIES = {"pins", "time", "power", "plant", "supply"}  # what hil/rig.py's VirtualRig offers

# Collects hil/ in a pytest of its own (its conftest and sys.path must not meet this one's)
# and writes, per test: its fixtures, the capabilities of its rig markers and its source.
COLLECT = """
import inspect, json, sys
import pytest

class Collect:
    items = []

    def pytest_collection_finish(self, session):
        for item in session.items:
            self.items.append({
                "id": item.nodeid,
                "fixtures": list(item.fixturenames),
                "rig": [list(m.args) for m in item.iter_markers("rig")],
                "source": inspect.getsource(item.function),
            })

c = Collect()
rc = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "hil"], plugins=[c])
with open(sys.argv[1], "w") as f:
    json.dump({"rc": int(rc), "items": c.items}, f)
"""


@pytest.fixture(scope="module")
def hil_items(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("hil") / "items.json"
    proc = subprocess.run(
        [sys.executable, "-c", COLLECT, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["rc"] == 0, proc.stdout
    items: list[dict[str, Any]] = result["items"]
    assert len(items) > 10, proc.stdout  # the whole suite was collected
    return items


def test_every_hil_test_using_the_rig_declares_its_capabilities(
    hil_items: list[dict[str, Any]],
) -> None:
    """Without a rig marker, a rig test runs on `--target serial` with rig=None and fails
    with an AttributeError halfway, after it has started the pump."""
    unmarked = [i["id"] for i in hil_items if "rig" in i["fixtures"] and not i["rig"]]
    assert unmarked == []
    marks = [(i["id"], caps) for i in hil_items for caps in i["rig"]]
    assert [(t, caps) for t, caps in marks if not caps or not set(caps) <= CAPABILITIES] == []


def test_every_hil_test_that_starts_the_pump_gets_it_stopped(
    hil_items: list[dict[str, Any]],
) -> None:
    """The `pump` fixture stops the pump after the test, passed or failed."""
    starters = [i for i in hil_items if "pump.start()" in i["source"]]
    assert starters, "no HIL test starts the pump any more? then drop this check"
    assert [i["id"] for i in starters if "pump" not in i["fixtures"]] == []


def test_a_port_with_nothing_listening_skips_at_once_naming_it() -> None:
    # A bound socket that does not listen: connecting to it is refused for as long as we hold it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"socket://127.0.0.1:{s.getsockname()[1]}"
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "hil"]
            + ["--target", "serial", "--port", url],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            check=False,
        )
        elapsed = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out  # all skipped: no board there, as for a missing device
    assert re.search(r"^\d+ skipped in ", out, re.MULTILINE), out
    assert not re.search(r"\b(failed|errors?)\b", out), out
    assert "Traceback" not in out and "AttributeError" not in out, out
    said = [line for line in out.splitlines() if f"nothing answered at {url}" in line]
    assert said, out  # one line per skipped test, each naming the port
    assert all("Connection refused" in line for line in said), said
    # One probe for the session (pytest caches the fixture's skip), not 20 tries per test:
    # that took 49 s before. Most of this is pytest starting and collecting the suite.
    assert elapsed < 15, f"{elapsed:.1f} s\n{out}"
