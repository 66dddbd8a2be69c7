"""`--rig` on any target: a board started by hand (`pumpctl vboard start`) and driven as a
serial board gets the same rig tests through its own control channel, not skips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pumphost.vboard.virtual import DEFAULT_IMAGE, VirtualBoard

HIL = Path(__file__).resolve().parent


def _run(url: str, *rig: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    cmd += [str(HIL / "test_delivery.py"), "-k", "pause_and_resume"]
    cmd += ["--target", "serial", "--port", url, *rig]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def test_a_hand_started_board_is_its_own_rig(target: str, tmp_path: Path) -> None:
    if target != "virtual":
        pytest.skip("starts a virtual board of its own: --target virtual only")
    with VirtualBoard(DEFAULT_IMAGE, flash=tmp_path / "flash.bin", fresh=True, port=0) as vb:
        vb.run_ns(1_000_000_000)
        with_rig = _run(vb.url, "--rig", "virtual")
        assert with_rig.returncode == 0, with_rig.stdout + with_rig.stderr
        assert "1 passed" in with_rig.stdout, with_rig.stdout
        without = _run(vb.url, "--rig", "none")
        assert "1 skipped" in without.stdout and "cannot provide" in without.stdout
        bench = _run(vb.url, "--rig", "/dev/ttyACM7")
        assert "1 skipped" in bench.stdout and "bench fixture" in bench.stdout, bench.stdout
