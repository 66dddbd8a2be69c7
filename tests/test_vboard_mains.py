"""The node mains of host_tools/vboard share their start-up (runtime.mjs): a boot ROM larger
than the chip's 16 KB is refused by the single-board bridge and the pair alike (the pair once
cut it silently to 16 KB and booted). NodeBridge gives its process id (for the benchmarks)."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from pumphost.vboard.pair import PAIR
from pumphost.vboard.virtual import BRIDGE, NodeBridge, free_port_pair


@pytest.mark.parametrize("main", [BRIDGE, PAIR], ids=lambda p: p.name)
def test_an_over_size_boot_rom_is_refused(main: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("NODE NOT FOUND: the virtual board needs Node.js >= 20 on PATH (not run!)")
    rom = tmp_path / "bootrom.bin"
    rom.write_bytes(b"\x00" * (16 * 1024 + 4))
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xff" * 256)
    port, fixture_port = free_port_pair("127.0.0.1"), free_port_pair("127.0.0.1")
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


class _Sleeper(NodeBridge):
    """A stand-in main: prints the ready line, then idles until stopped."""

    what = "the sleeper"

    def start(self) -> "_Sleeper":
        self._launch([])
        return self

    def close(self) -> None:
        if self.pid is not None and self.alive:
            os.kill(self.pid, signal.SIGTERM)
        self.wait(10)


def test_a_node_bridge_names_its_process(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("NODE NOT FOUND: the virtual board needs Node.js >= 20 on PATH (not run!)")
    script = tmp_path / "sleeper.mjs"
    script.write_text('console.log("vboard: ready sleeper");\nsetInterval(() => {}, 1000);\n')
    _Sleeper.script = script
    bridge = _Sleeper(None, port=free_port_pair("127.0.0.1"))
    assert bridge.pid is None
    with bridge:
        assert bridge.pid is not None
        assert str(script) in Path(f"/proc/{bridge.pid}/cmdline").read_text()
    assert not bridge.alive
