"""make fidelity's judgement (pumphost.vboard.fidelity) and the bridge options of issue 12."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pumphost.vboard import fidelity
from pumphost.vboard.virtual import BRIDGE, DEFAULT_BOOTROM, ensure_bridge_deps

EXPECTED = {
    "extmod/machine_x.py": {"kind": "emulator", "reason": "not modelled"},
}


def _results(*pairs: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in pairs]  # type: ignore[misc]


def test_a_run_that_matches_the_list_passes(capsys: pytest.CaptureFixture[str]) -> None:
    res = _results("pass basics/a.py", "FAIL extmod/machine_x.py", "skip float/b.py")
    assert fidelity.summarize(res, EXPECTED, {"thread": "core 1"})
    out = capsys.readouterr().out
    assert "basics" in out and "pass    1" in out
    assert "expected failure extmod/machine_x.py (emulator): not modelled" in out
    assert "NOT RUN thread/: core 1" in out


def test_a_new_failure_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    res = _results("FAIL basics/a.py", "FAIL extmod/machine_x.py")
    assert not fidelity.summarize(res, EXPECTED, {})
    assert "NEW FAILURE basics/a.py" in capsys.readouterr().out


def test_a_listed_failure_that_passes_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert not fidelity.summarize(_results("pass extmod/machine_x.py"), EXPECTED, {})
    assert "NOW PASSES extmod/machine_x.py" in capsys.readouterr().out


def test_a_listed_test_that_was_not_run_is_no_mismatch() -> None:
    assert fidelity.summarize(_results("pass basics/a.py"), EXPECTED, {})


def test_the_checked_in_list_names_real_tests_with_reasons() -> None:
    fails, not_run = fidelity.load_expected()
    assert "thread" in not_run
    for test, entry in fails.items():
        assert entry["kind"] in fidelity.KINDS and len(entry["reason"]) > 20, test
        if fidelity.TESTS.exists():
            assert (fidelity.TESTS / test).exists(), test


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "expected.toml"
    bad.write_text('[fail."basics/a.py"]\nkind = "emulator"\n')
    with pytest.raises(SystemExit, match="reason"):
        fidelity.load_expected(bad)


def test_the_quick_subset_holds_the_fixed_faults_tests() -> None:
    for t in (
        "extmod/random_seed_default.py",
        "extmod/machine_uart_tx.py",
        "extmod/machine_uart_irq_txidle.py",
        "ports/rp2/rp2_dma.py",
        "extmod/machine_spi_rate.py",
    ):
        assert t in fidelity.QUICK


@pytest.mark.parametrize(
    "args,words",
    [
        (["--seed", "x"], ["--seed"]),
        (["--seed", "12a"], ["--seed"]),
        (["--repl-uart", "fast"], ["--repl-uart"]),
    ],
)
def test_bridge_refuses_bad_options(tmp_path: Path, args: list[str], words: list[str]) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xff" * 256)
    node = ensure_bridge_deps()
    cmd = [node, str(BRIDGE), "--image", str(image), "--bootrom", str(DEFAULT_BOOTROM), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), proc.stderr


def test_bench_module_has_the_documented_entry_point() -> None:
    from pumphost.bench import vboard as bench_vboard

    assert callable(bench_vboard.vboard_speed)
    assert bench_vboard.TARGET == 20.0
    assert sys.modules["pumphost.bench.vboard"] is bench_vboard
