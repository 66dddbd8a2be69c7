"""The node mains of host_tools/vboard share their start-up (runtime.mjs): a boot ROM larger
than the chip's 16 KB is refused by the single-board bridge and the pair alike (the pair once
cut it silently to 16 KB and booted)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from pumphost.vboard import BRIDGE, _free_port_pair
from pumphost.vpair import PAIR


@pytest.mark.parametrize("main", [BRIDGE, PAIR], ids=lambda p: p.name)
def test_an_over_size_boot_rom_is_refused(main: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("NODE NOT FOUND: the virtual board needs Node.js >= 20 on PATH (not run!)")
    rom = tmp_path / "bootrom.bin"
    rom.write_bytes(b"\x00" * (16 * 1024 + 4))
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xff" * 256)
    port, fixture_port = _free_port_pair("127.0.0.1"), _free_port_pair("127.0.0.1")
    cmd = [node, str(main), "--bootrom", str(rom), "--image", str(image), "--port", str(port)]
    if main == PAIR:
        cmd += ["--fixture-image", str(image), "--fixture-port", str(fixture_port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{main.name} ran with a {rom.stat().st_size}-byte boot ROM: {out}{err}")
    assert proc.returncode == 2, (out, err)
    assert "ready" not in out
    assert err.strip() == (
        f"vboard: error: boot ROM is {16 * 1024 + 4} bytes, more than the 16 KB ROM: {rom}"
    )
