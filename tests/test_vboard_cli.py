"""pumpctl vboard: errors are one clear line with exit status 2."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _pumpctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", "vboard", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0]


def test_missing_image(tmp_path: Path) -> None:
    _one_line_error(_pumpctl("start", "--image", str(tmp_path / "none.bin")), "not found")


def test_port_in_use(tmp_path: Path) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xff" * 256)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _pumpctl(
            "start", "--port", str(port), "--image", str(image), "--flash", str(tmp_path / "f")
        )
    _one_line_error(proc, "in use", str(port))


def test_node_not_installed(tmp_path: Path) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xff" * 256)
    env = dict(os.environ, PATH=str(tmp_path))  # no node on PATH
    proc = _pumpctl("start", "--image", str(image), "--port", "0", env=env)
    _one_line_error(proc, "node")


def test_stop_without_a_board() -> None:
    _one_line_error(_pumpctl("stop", "--port", "1"), "no virtual board")


@pytest.mark.parametrize("cmd", [["start", "--help"], ["stop", "--help"]])
def test_help(cmd: list[str]) -> None:
    assert _pumpctl(*cmd).returncode == 0
