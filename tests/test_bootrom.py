"""Our boot ROM, every entry called inside rp2040js and checked against JS references.

The checks themselves are node tests (host_tools/vboard/bootrom/test/); this runs them in pytest
after building the ROM and installing the bridge's pinned rp2040js.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pumphost.paths import CACHE, REPO
from pumphost.vboard.virtual import ensure_bridge_deps

BOOTROM_DIR = REPO / "host_tools" / "vboard" / "bootrom"


def test_bootrom_entries_in_rp2040js() -> None:
    if shutil.which("node") is None:
        pytest.skip("NODE NOT FOUND: the boot ROM tests need Node.js >= 20 on PATH (not run!)")
    build = subprocess.run(
        ["bash", str(BOOTROM_DIR / "build.sh")], capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, f"bootrom/build.sh failed:\n{build.stdout}{build.stderr}"
    node = ensure_bridge_deps()
    # test exactly the ROM just built (build.sh honours BOOTROM_OUT, the node tests BOOTROM)
    rom = Path(os.environ.get("BOOTROM_OUT", CACHE / "bootrom")) / "bootrom.bin"
    res = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(BOOTROM_DIR / "test")],
        cwd=REPO,
        env={**os.environ, "BOOTROM": str(rom)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, f"node --test failed:\n{res.stdout}{res.stderr}"
