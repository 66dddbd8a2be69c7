"""The shipped protocol scenario: the octreotide titration driven through pump.protocol."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator

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


_SHORT = """[pump]
board = "pico"
syringe = "bd-plastipak-10ml"
fill_ml = 5.0
[run]
duration_h = 1
[[command]]
at_h = 0.0
line = '{"id": 1, "cmd": "pin.change", "args": {"new": "2468"}}'
[[command]]
at_h = 0.0
line = '{"id": 2, "cmd": "program.validate", "args": {"program": {"rate_ml_h": "1"}}}'
[[command]]
at_h = 0.0
line = '{"id": 3, "cmd": "program.set", "args": {"token": "$TOKEN"}PIN}'
[[command]]
at_h = 0.0
line = '{"id": 4, "cmd": "start"}'
"""


def _sim(tmp_path: Path, text: str, *opts: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "script.toml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", "sim", *opts, str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_refused_commands_are_listed_and_an_unexpected_refusal_exits_1(tmp_path: Path) -> None:
    """A program.set without the PIN: nothing delivered, and the run says why (exit 1)."""
    proc = _sim(tmp_path, _SHORT.replace("PIN}", "}"), "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["delivered_ul"] == 0
    refused = out["commands_refused"]
    assert [(c["command"], c["id"], c["cmd"], c["code"], c["expected"]) for c in refused] == [
        ("command[2]", 3, "program.set", "pin_required", False),
        ("command[3]", 4, "start", "refused", False),
    ]
    assert refused[0]["at_h"] == 0 and "PIN" in refused[0]["reason"]
    assert [c["command"] for c in out["commands_unexpected"]] == ["command[2]", "command[3]"]
    assert "2 commands did not go as the script expects" in proc.stderr
    text = _sim(tmp_path, _SHORT.replace("PIN}", "}"))
    assert text.returncode == 1
    assert "command[2] (3rd [[command]], at_h = 0.0): program.set refused: pin_required" in (
        text.stdout
    )


def test_a_refusal_the_script_expects_is_listed_and_exits_0(tmp_path: Path) -> None:
    good = _SHORT.replace("PIN}", ', "pin": "2468"}') + (
        '[[command]]\nat_h = 0.5\nline = \'{"id": 5, "cmd": "resume"}\'\nexpect = "refused"\n'
    )
    proc = _sim(tmp_path, good, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["delivered_ul"] == pytest.approx(1000, abs=0.1)
    assert [(c["command"], c["expected"]) for c in out["commands_refused"]] == [
        ("command[4]", True)
    ]
    assert out["commands_unexpected"] == []
    # Expected a refusal that did not come: as wrong as one that came unexpected.
    proc = _sim(tmp_path, good.replace('"resume"', '"pause"'), "--json")
    assert proc.returncode == 1
    (bad,) = json.loads(proc.stdout)["commands_unexpected"]
    assert bad["command"] == "command[4]" and bad["expect"] == "refused" and bad["code"] is None


def test_an_unknown_expected_code_is_refused_naming_the_key(tmp_path: Path) -> None:
    text = _SHORT + 'expect = "nope"\n'
    proc = _sim(tmp_path, text)
    assert proc.returncode == 2 and "command.3.expect" in proc.stderr, proc.stderr
    assert "'pin_required'" in proc.stderr  # the codes it takes
