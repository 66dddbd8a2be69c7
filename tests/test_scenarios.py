"""pumpctl sim end to end: example scenarios, bad scenarios, JSON output."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pumphost import scenario
from pumphost.emulator import Emulator

SCENARIOS = Path(__file__).resolve().parents[1] / "host_tools" / "scenarios"
GOOD = """
[pump]
board = "pico"
syringe = "bd-plastipak-10ml"
fill_ml = 5.0
[program]
concentration_ug_per_ml = 500
dose_ug_per_24h = 1632
[run]
duration_h = 24
"""


def _pumpctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_octreotide_json_delivers_programmed_within_one_step() -> None:
    proc = _pumpctl("sim", "--json", str(SCENARIOS / "octreotide-24h.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("duration_s", "programmed_ul", "delivered_ul", "steps", "state", "alarms"):
        assert key in out
    assert out["duration_s"] == 86400
    assert out["programmed_ul"] == pytest.approx(3264.0, abs=1e-6)
    assert 0 <= out["programmed_ul"] - out["delivered_ul"] < out["nl_per_step"] / 1000
    assert out["state"] == "running" and out["alarms"] == []
    assert out["log_records"] >= 2


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_is_exact_to_one_microstep(path: Path) -> None:
    res = Emulator(scenario.load(path)).run()
    behind = res.programmed_nl - res.delivered_nl
    assert Fraction(0) <= behind < res.nl_per_step


def test_empty_syringe_completes_with_alarm() -> None:
    res = Emulator(scenario.load(SCENARIOS / "rate-10ml-h-24h.toml")).run()
    assert res.state == "complete"
    assert res.alarms == ["reservoir_empty"]
    assert res.remaining_nl < res.nl_per_step


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


BAD = {
    "unknown syringe": (_edit('"bd-plastipak-10ml"', '"bd-7ml"'), "pump.syringe"),
    "unknown board": (_edit('"pico"', '"arduino"'), "pump.board"),
    "both rate and dose": (_edit("[run]", "rate_ml_per_h = 0.1\n[run]"), "program"),
    "neither rate nor dose": (_edit("dose_ug_per_24h = 1632", ""), "program"),
    "zero rate": (_edit("dose_ug_per_24h = 1632", "rate_ml_per_h = 0.0"), "rate_ml_per_h"),
    "absurd rate": (
        _edit("dose_ug_per_24h = 1632", "rate_ml_per_h = 5000.0"),
        "program.rate_ml_per_h",
    ),
    "absurd dose": (_edit("1632", "99999999"), "program.dose_ug_per_24h"),
    "missing key": (_edit("fill_ml = 5.0", ""), "pump.fill_ml"),
    "unknown key": (_edit("fill_ml = 5.0", "fill_ml = 5.0\ncolour = 1"), "pump.colour"),
    "wrong type": (_edit("duration_h = 24", 'duration_h = "24"'), "run.duration_h"),
    "overfilled": (_edit("fill_ml = 5.0", "fill_ml = 11.0"), "pump.fill_ml"),
    "not toml": ("[pump", "TOML"),
}


@pytest.mark.parametrize("text,key", BAD.values(), ids=BAD.keys())
def test_bad_scenario_exits_2_with_one_line_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert key in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_file_is_one_line() -> None:
    proc = _pumpctl("sim", "/nonexistent/x.toml")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_human_summary_names_the_program_and_its_changes() -> None:
    proc = _pumpctl("sim", str(SCENARIOS / "octreotide-titration-72h.toml"))
    assert proc.returncode == 0, proc.stderr
    assert "1632 ug/24 h at 500 ug/mL = 0.1360 mL/h" in proc.stdout
    assert "at 24 h 00 min: rate 2167 ug/24 h at 500 ug/mL" in proc.stdout
    assert "state        running" in proc.stdout
