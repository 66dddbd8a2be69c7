"""The shipped protocol scenario: the octreotide titration driven through pump.protocol."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pumphost import scenario
from pumphost.emulator import Emulator

SCENARIO = (
    Path(__file__).resolve().parents[1]
    / "host_tools"
    / "scenarios"
    / "octreotide-titration-protocol.toml"
)


def _prescribed_nl() -> Fraction:
    """From the prescription alone (no pump code): 48 h at 1,632 ug/24 h, 24 h at 2,167,
    two 50 ug boluses, all at 500 ug/mL."""
    per_h = Fraction(1_000_000, 24 * 500)  # nL/h per ug/24 h
    return 48 * 1632 * per_h + 24 * 2167 * per_h + 2 * Fraction(50 * 1_000_000, 500)


def test_titration_with_boluses_is_delivered_to_within_one_step() -> None:
    emu = Emulator(scenario.load(SCENARIO))
    res = emu.run()
    behind = _prescribed_nl() - res.delivered_nl
    assert Fraction(0) <= behind < res.nl_per_step, float(behind / res.nl_per_step)
    assert res.state == "running" and res.alarms == []
    oks = {r[2]["id"]: r[2]["ok"] for r in emu.responses}
    assert oks == {1: True, 2: True, 3: True, 4: True, 5: True, 6: True, 7: False, 8: True,
                   9: True}  # fmt: skip
    assert emu.runner.boluses == 2  # the retried ids gave nothing more
    retries = [r for r in emu.responses if r[2]["id"] in (5, 9)]
    assert retries[0][2] == retries[1][2] and retries[2][2] == retries[3][2]


def test_a_third_bolus_in_the_lockout_would_be_refused() -> None:
    text = SCENARIO.read_text() + (
        '\n[[command]]\nat_h = 60.5\nline = \'{"id": 10, "cmd": "bolus"}\'\n'
    )
    emu = Emulator(scenario.parse(text))
    res = emu.run()
    last = emu.responses[-1][2]
    assert last["ok"] is False and last["error"]["reason"] == "lockout"
    assert Fraction(0) <= _prescribed_nl() - res.delivered_nl < res.nl_per_step


def test_pumpctl_sim_runs_the_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", "sim", "--json",
         str(SCENARIO)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["programmed_ul"] == pytest.approx(float(_prescribed_nl()) / 1000, abs=1e-6)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("at_h = 12.0", "at_h = 99.0"),
        ("[run]", '[[events]]\nat_min = 1\naction = "pause"\n[run]'),
    ],
)
def test_bad_scripts_are_refused(edit: str, message: str) -> None:
    text = SCENARIO.read_text().replace(edit, message, 1)
    with pytest.raises(scenario.ScenarioError):
        scenario.parse(text)
