"""Mistakes on pumpctl's command line get one clear line and a non-zero exit, never a
traceback, and are found before any long work: `logs report|export|pull -o` into a missing
folder, `logs upload --server` that is not a URL, `sim --log` into a missing folder, a
`socket://` port without HOST:PORT, and the `review`/`cohort` commands' expected errors (a
missing or foreign tokens.json or truth.json, a database that will not open, an unknown site
or time zone, an option out of range)."""

from __future__ import annotations

import json
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


PUMPCTL = Path(sys.executable).with_name("pumpctl")  # the installed command, as a user runs it


def _pumpctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PUMPCTL), *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


def _refused(r: subprocess.CompletedProcess[str], *want: str) -> None:
    """A non-zero exit with one line on stderr naming what is wrong, and no traceback."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "", r.stdout
    _one_clear_line(r.stderr, *want)


def test_cohort_upload_before_enrol(tmp_path: Path) -> None:
    r = _pumpctl("cohort", "upload", str(tmp_path), "--server", "http://127.0.0.1:9")
    _refused(r, "cohort upload", str(tmp_path / "tokens.json"), "cohort enrol")


def test_review_serve_with_a_database_that_will_not_open(tmp_path: Path) -> None:
    for url in ("bogus://x", "sqlite:////nonexistent/review.sqlite3", "not a url"):
        r = _pumpctl("review", "serve", "--db", url, "--port", "1")  # never gets to listen
        _refused(r, url)
    assert list(tmp_path.iterdir()) == []


def test_cohort_compare_with_an_unknown_site_or_no_truth(tmp_path: Path) -> None:
    (tmp_path / "truth.json").write_text('{"patients": []}')
    db = f"sqlite:///{tmp_path / 'review.sqlite3'}"
    r = _pumpctl("cohort", "compare", str(tmp_path), "--db", db, "--site", "nosuch")
    _refused(r, "cohort compare", "nosuch")
    (tmp_path / "truth.json").unlink()
    r = _pumpctl("cohort", "compare", str(tmp_path), "--db", db)
    _refused(r, "cohort compare", str(tmp_path / "truth.json"), "No such file or directory")


def test_cohort_files_that_are_not_the_cohorts(tmp_path: Path) -> None:
    db = f"--db=sqlite:///{tmp_path / 'review.sqlite3'}"
    truth = tmp_path / "truth.json"
    for cmd, text in (("enrol", "{"), ("enrol", '{"patients": [{"x": 1}]}'), ("compare", "[]")):
        truth.write_text(text)
        r = _pumpctl("cohort", cmd, db, str(tmp_path))
        _refused(r, f"cohort {cmd}", str(truth), "not a cohort's truth.json")
    truth.write_text('{"patients": []}')
    r = _pumpctl("cohort", "enrol", db, str(tmp_path))  # no pumps, but a tokens.json
    assert r.returncode == 0, r.stderr
    p = {"code": "P-01", "serial": "SIM-9-01", "file": "SIM-9-01.plog", "start_dose": 1,
         "escalated": False, "escalated_dose": None, "hours_to_escalation": None, "alarms": 0,
         "alarm_kinds": [], "days": 1.0, "delivered_ug": 0.0, "pauses": 0,
         "syringe_changes": 0}  # fmt: skip
    truth.write_text(json.dumps({"patients": [p]}))  # a pump enrolled with another cohort
    r = _pumpctl("cohort", "upload", str(tmp_path), "--server", "http://127.0.0.1:9")
    _refused(r, "cohort upload", "no token for SIM-9-01", "nothing uploaded")
    (tmp_path / "tokens.json").write_text("{")
    r = _pumpctl("cohort", "upload", str(tmp_path), "--server", "http://127.0.0.1:9")
    _refused(r, "cohort upload", str(tmp_path / "tokens.json"))


def test_options_out_of_range_are_usage_errors(tmp_path: Path) -> None:
    db = f"--db=sqlite:///{tmp_path / 'review.sqlite3'}"
    r = _pumpctl("review", "serve", db, "--port", "99999")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "'--port': 99999 is not in the range 1<=x<=65535" in r.stderr, r.stderr
    r = _pumpctl("cohort", "simulate", "--jobs", "-1", "-o", str(tmp_path / "c"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "'--jobs': -1 is not in the range x>=0" in r.stderr, r.stderr
    assert not (tmp_path / "c").exists()


def test_a_socket_port_that_is_not_host_and_port() -> None:
    for url in ("socket://127.0.0.1:99999", "socket://", "socket://127.0.0.1:x", "socket://h"):
        r = _pumpctl("--port", url, "status")
        _refused(r, f"cannot open {url}", "socket://HOST:PORT, PORT 1-65535")


def test_pull_into_a_missing_folder_is_refused_before_connecting(tmp_path: Path) -> None:
    # Before: the whole pull ran, then FileNotFoundError on FILE.part.tmp (a traceback).
    for via in ("protocol", "repl"):
        r = _pumpctl("logs", "pull", "--via", via, "--port", "/dev/nonexistent", "-o",
                     "/nonexistent/p.plog")  # fmt: skip
        _refused(r, "logs pull", "/nonexistent/p.plog", "No such file or directory")
    r = _pumpctl("logs", "pull", "--port", "/dev/nonexistent", "-o", str(tmp_path))
    _refused(r, "logs pull", str(tmp_path), "Is a directory")


def test_an_unknown_time_zone(tmp_path: Path) -> None:
    (tmp_path / "truth.json").write_text('{"patients": []}')
    db = f"--db=sqlite:///{tmp_path / 'review.sqlite3'}"
    r = _pumpctl("cohort", "enrol", db, str(tmp_path), "--tz", "Bad/Zone")
    _refused(r, "cohort enrol", "unknown time zone 'Bad/Zone'")
    assert not (tmp_path / "tokens.json").exists()
    r = _pumpctl("review", "add-site", db, "north", "--tz", "../etc")
    _refused(r, "add-site", "unknown time zone '../etc'")
