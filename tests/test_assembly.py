"""The board and the emulator build the pump through the one assembly, pump.app.build: the
protocol and the program runner are there in every emulator run, not only in scripted ones."""

import ast
import json
from pathlib import Path

from pump import events
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "host_tools" / "scenarios" / "intermediate-5ml-h-2h.toml"


def _calls(path: Path) -> set[str]:
    """The names called in a source file (`f(...)` and `x.f(...)` both as f)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            out.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return out


def test_the_board_builds_through_pump_app_and_nowhere_else() -> None:
    board = _calls(ROOT / "firmware" / "boardapp.py")
    assert "build" in board
    for name in ("boardapp.py", "protolink.py"):
        made = _calls(ROOT / "firmware" / name) & {"Pump", "Runner", "Protocol"}
        assert not made, f"{name} builds {made} itself"


def test_an_unscripted_emulator_run_has_the_boards_protocol_and_runner() -> None:
    emu = Emulator(scenario.load(SCENARIO))
    assert not emu.sc.commands
    assert emu.pump.program is emu.runner and emu.proto.runner is emu.runner
    res = emu.run()
    resp = json.loads(emu.proto.handle_line(b'{"id": 1, "cmd": "status"}'))
    assert resp["ok"] is True
    assert resp["result"]["state"] == res.state


def _running_for(seconds: int, log: bool = False) -> Emulator:
    emu = Emulator(scenario.load(SCENARIO), log=log)
    emu.pump.set_rate_nl_h(*emu.sc.rate)
    emu.pump.start()
    emu.run_until(seconds * 1_000_000)
    return emu


def test_a_watchdog_reset_keeps_what_the_scratch_registers_keep() -> None:
    emu = _running_for(60, log=True)
    kept = emu.retained.read()
    assert kept is not None and kept[0] == 2 and kept[1] > 0  # running, steps out
    emu.reset("a watchdog reset")
    st = emu.pump.status()
    assert st["state"] == "stopped" and st["alarms"] == ["delivery_interrupted"]
    assert "by a watchdog reset" in str(st["alarm_text"])
    assert f"({kept[1]} steps)" in str(st["alarm_text"])
    assert emu.pump.program is emu.runner and emu.proto.pump is emu.pump
    assert not emu.stepper.running and not emu.stepper.enabled
    # The flash log goes on across the reset: its BOOT record names the cause and the steps.
    assert emu.log is not None
    boots = [r for r in emu.log.records() if r[2] == "boot"]
    assert len(boots) == 2 and boots[-1][3:5] == (events.CAUSE_WATCHDOG, kept[1])


def test_a_reset_by_the_run_pin_clears_the_scratch_registers() -> None:
    emu = _running_for(60)
    emu.reset("a reset")
    assert emu.retained.read() == (1, 0, 0, 0)  # the new pump's: idle, no syringe
    st = emu.pump.status()
    assert st["state"] == "idle" and st["alarms"] == []
