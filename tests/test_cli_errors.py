"""Mistakes on pumpctl's command line get one clear line and a non-zero exit, never a
traceback, and are found before any long work: `logs report|export -o` into a missing
folder, `logs upload --server` that is not a URL, `sim --log` into a missing folder."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from pumphost.cli import cli
from pumphost.logs import plogfile, synth

LONG = """
[pump]
board = "pico"
syringe = "bd-plastipak-30ml"
fill_ml = 30.0
[program]
rate_ml_per_h = 0.04
[run]
duration_h = 744
"""


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def _one_clear_line(out: str, *want: str) -> None:
    assert len(out.strip().splitlines()) == 1, out
    assert "Traceback" not in out and "Errno" not in out, out
    for w in want:
        assert w in out, out


def test_report_and_export_into_a_missing_folder(tmp_path: Path) -> None:
    p = tmp_path / "day.plog"
    plogfile.write(p, synth.octreotide(300))
    code, out = _run("logs", "report", str(p), "-o", "/nonexistent/x.html")
    assert code == 2
    _one_clear_line(out, "logs report", "/nonexistent/x.html", "No such file or directory")
    code, out = _run("logs", "export", str(p), "-o", "/nonexistent/x.csv")
    assert code == 2
    _one_clear_line(out, "logs export", "/nonexistent/x.csv")
    code, out = _run("logs", "report", str(p), "-o", str(tmp_path))  # a folder
    assert code == 2
    _one_clear_line(out, "logs report", str(tmp_path))


def test_upload_to_a_server_that_is_not_a_url(tmp_path: Path) -> None:
    p = tmp_path / "day.plog"
    plogfile.write(p, synth.octreotide(30))
    for server in ("not-a-url", "ftp://example.org", "http://", "http://127.0.0.1:port"):
        code, out = _run("logs", "upload", str(p), "--server", server, "--token", "t")
        assert code == 2, out
        _one_clear_line(out, "logs upload", "--server", "http://")


def test_sim_refuses_an_unwritable_log_before_running(tmp_path: Path) -> None:
    sc = tmp_path / "month.toml"
    sc.write_text(LONG)  # 31 days on the emulator: long enough to notice
    for bad in ("/nonexistent/run.plog", str(tmp_path)):
        t0 = time.monotonic()
        r = subprocess.run(
            [sys.executable, "-c", "from pumphost.cli import main; main()", "sim", str(sc),
             "--log", bad],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        took = time.monotonic() - t0
        assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
        assert bad in r.stderr.splitlines()[-1]  # a folder: click's usage error names it
        if bad.startswith("/nonexistent"):
            _one_clear_line(r.stderr, "--log", bad, "No such file or directory")
        assert took < 10, f"{took:.1f} s: the run went ahead"
    assert list(tmp_path.iterdir()) == [sc]  # nothing left behind
