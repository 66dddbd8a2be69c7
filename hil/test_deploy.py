"""Engineers iterate with mpremote: modules copied to flash shadow the frozen ones."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dut import DUT, DUTError
from rig import VirtualRig

REPO = Path(__file__).resolve().parents[1]


def _mpremote(url: str, *args: str, cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.rig("time")
def test_deployed_core_shadows_the_frozen_one(dut: DUT, rig: VirtualRig, tmp_path: Path) -> None:
    # `make deploy` with real mpremote, from a copy of the core carrying a marker module.
    shutil.copytree(
        REPO / "firmware" / "pump", tmp_path / "pump", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "pump" / "deployed_marker.py").write_text("HERE = 'flash'\n")
    _mpremote(dut.url, "cp", "-r", "pump", ":", "+", "reset", cwd=tmp_path)
    rig.run_s(1)  # let main.py boot: a connecting client's Ctrl-C would stop it
    try:
        assert dut.eval("__import__('pump.deployed_marker').deployed_marker.HERE") == "flash"
        assert dut.eval("type(pump).__name__") == "Pump"  # main.py ran on the deployed core
    finally:
        _mpremote(dut.url, "rm", "-r", ":pump", "+", "reset", cwd=tmp_path)
        rig.run_s(1)
    with pytest.raises(DUTError, match="ImportError"):
        dut.exec("import pump.deployed_marker")
