"""`make deploy`: modules copied to flash shadow the frozen ones, and the board is reset onto
them, on a USB board and on the virtual one (whose clock stops when mpremote disconnects)."""

import re
import subprocess
from pathlib import Path

from dut import DUT

REPO = Path(__file__).resolve().parents[1]

# Where each package the pump runs on was imported from: ".frozen/pump" is the image's,
# "pump" is the copy on flash (found first: sys.path is ['', '.frozen', '/lib']).
PACKAGE_PATHS = "[__import__(p).__path__ for p in ('pump', 'drivers')]"
REMOVE_DEPLOYED = """
import os
def _rm(path):
    if os.stat(path)[0] & 0x4000:
        for name in os.listdir(path):
            _rm(path + '/' + name)
        os.rmdir(path)
    else:
        os.remove(path)
for _p in ('/pump', '/drivers'):
    try:
        _rm(_p)
    except OSError:
        pass
"""


def test_make_deploy_resets_the_board_onto_the_deployed_core(dut: DUT) -> None:
    dut.exec("_set_before_deploy = 1")
    # -o: use the venv as it is (this test runs inside it), never rebuild it from here.
    proc = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.stamp", "deploy", f"PORT={dut.url}"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
    )
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # The board was reset after the copy: the pump is back, built from the copies.
        assert dut.eval("'_set_before_deploy' in globals()") is False
        assert dut.eval(PACKAGE_PATHS) == ["pump", "drivers"]
        assert dut.eval("type(pump).__name__") == "Pump"
        assert dut.eval("pump.status()['state']") == "idle"
        # ... while make was still connected: it printed the boot, up to "pump ready".
        assert re.search(r"soft reboot\n(.*\n)*pump ready on ", proc.stdout), proc.stdout
    finally:
        dut.exec(REMOVE_DEPLOYED)
        dut.soft_reset()
    assert dut.eval(PACKAGE_PATHS) == [".frozen/pump", ".frozen/drivers"]
    assert dut.eval("type(pump).__name__") == "Pump"
