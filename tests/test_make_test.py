"""`make test` times its stages and fails with the first stage that fails (stand-in stages: the
Makefile's `help`, and a target that does not exist)."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAD = "make test, wall time per stage:"


def _make_test(stages: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(
        ["make", "--no-print-directory", "test", f"TEST_STAGES={stages}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stdout.splitlines()
    assert HEAD in lines, proc.stdout + proc.stderr
    return proc.returncode, [line.split() for line in lines[lines.index(HEAD) + 1 :]]


def test_make_test_ends_with_the_wall_time_of_each_stage() -> None:
    rc, table = _make_test("help help")
    assert rc == 0
    assert [row[0] for row in table] == ["help", "help", "total"]
    assert all(row[1].isdigit() and row[2:] == ["s"] for row in table)


def test_a_failing_stage_fails_make_test_and_the_stages_after_it_do_not_run() -> None:
    rc, table = _make_test("help no-such-stage help")
    assert rc != 0
    assert [row[0] for row in table] == ["help", "no-such-stage", "total"]
    assert table[1][2:] == ["s", "FAILED", "(exit", "2)"] and table[0][2:] == ["s"]
