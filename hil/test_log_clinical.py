"""`pumpctl logs pull` with the pump in clinical mode, where the REPL is off: the pull goes
over the pump protocol (UART1, `log.read`), the file names the pump by the serial it keeps,
and a pull that can only try the REPL fails in one line and leaves no file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dut import DUT
from rig import VirtualRig

from pumphost.logs import plogfile
from pumphost.protocol.client import ProtoClient

PIN = "2468"  # as hil/test_protocol.py: the board keeps one PIN for the session
SERIAL = "HIL-PUMP-1"
PUMPCTL = [str(Path(sys.executable).parent / "pumpctl")]


def _pumpctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PUMPCTL, *args], capture_output=True, text=True, timeout=600)


def _client(url: str) -> ProtoClient:
    return ProtoClient(url, pin=PIN, timeout=10.0, retries=2)


@pytest.mark.rig("time", "power")
def test_in_clinical_mode_the_log_is_pulled_over_the_protocol(
    pump: DUT, rig: VirtualRig, proto_url: str | None, tmp_path: Path, report
) -> None:
    if proto_url is None:
        pytest.skip("SKIPPED LOUDLY: no protocol port: pass --proto with the pump's UART1")
    with _client(proto_url) as c:  # one client at a time on the port: closed before a pull
        if not c.call("config.get")["pin_set"]:
            c.call("pin.change", {"new": PIN})
        c.call("config.set", {"serial": SERIAL, "mode": "clinical"})
    rig.reset()
    try:
        with _client(proto_url) as c:
            seqs = c.call("status")["log_records"]
        out = tmp_path / "clinical.plog"
        p = _pumpctl("logs", "pull", "--via", "repl", "--port", pump.url, "-o", str(out),
                     "--timeout", "3")  # fmt: skip
        assert p.returncode == 1 and "no REPL" in p.stderr, p.stdout + p.stderr
        assert "Traceback" not in p.stderr and not list(tmp_path.iterdir())
        p = _pumpctl("--port", proto_url, "logs", "pull", "--port", pump.url, "-o", str(out),
                     "--timeout", "3")  # fmt: skip
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"pump {SERIAL}" in p.stdout and "over the protocol" in p.stdout, p.stdout
        report.append(f"clinical mode, pulled over the protocol: {p.stdout.strip()}")
        assert plogfile.ident_of(out.read_bytes()).serial == SERIAL
        assert plogfile.read(out).last_seq() >= seqs - 1  # every record to the end
        v = _pumpctl("logs", "verify", str(out))
        assert v.returncode == 0 and "verified: clean" in v.stdout, v.stdout + v.stderr
    finally:
        with _client(proto_url) as c:
            c.call("config.set", {"mode": "engineering"})
        rig.reset()
