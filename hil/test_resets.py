"""Resets and host connections: the pump always comes back defined, with the motor off, and
alarmed if a reset cut a running program. The README's mpremote commands run exactly as shown.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from dut import DUT
from rig import VirtualRig

REPO = Path(__file__).resolve().parents[1]
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def readme_commands() -> list[str]:
    """The mpremote lines of the README's Pico section, comments stripped."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The Pico") : text.index("## The virtual Pico")]
    return [
        line.split("  #")[0].strip()
        for line in section.splitlines()
        if line.startswith("mpremote ")
    ]


def mpremote(url: str, command: str) -> str:
    """Run a README command against the board at `url` (mpremote picks the device itself
    on a desk; here `connect URL` comes first, as mpremote's own syntax allows)."""
    args = shlex.split(command)
    assert args[0] == "mpremote"
    proc = subprocess.run(
        [MPREMOTE, "connect", url, *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc.stdout


@pytest.mark.rig("pins", "time")
def test_the_readme_commands_keep_the_pump_running(pump: DUT, rig: VirtualRig) -> None:
    cmds = readme_commands()
    assert len(cmds) == 3 and all(c.startswith("mpremote resume exec ") for c in cmds), cmds
    start, status, pause = cmds
    mpremote(pump.url, start)
    rig.run_s(2)
    shown = mpremote(pump.url, status)
    assert re.search(r"'state': 'running'", shown), shown
    assert "'rate_ml_h': '0.1360'" in shown and "'alarms': []" in shown
    assert rig.level("en") == 0  # still driving
    mpremote(pump.url, pause)
    assert pump.eval("pump.status()['state']") == "paused"
    assert rig.level("en") == 1


@pytest.mark.rig("pins", "time")
def test_plain_mpremote_exec_on_a_running_pump(pump: DUT, rig: VirtualRig) -> None:
    """mpremote without `resume` soft-resets the board on connect: the raw REPL's reset runs
    no main.py, but _boot.py brings the pump back, motor off, alarmed, not restarting."""
    t0 = rig.now_ns()
    pump.exec("pump.rate('5')\npump.start()")
    rig.run_s(3)
    steps = len(rig.step_times(t0))
    out = mpremote(pump.url, 'mpremote exec "print(pump.status())"')
    assert "'state': 'stopped'" in out and "'alarms': ['delivery_interrupted']" in out, out
    text = pump.eval("pump.status()['alarm_text']['delivery_interrupted']")
    assert "a soft reset" in text and "steps" in text
    reported = int(re.search(r"\((\d+) steps\)", text).group(1))
    assert 0 < reported <= steps and steps - reported <= 64  # at most the entry in flight
    assert rig.level("en") == 1
    t = rig.now_ns()
    rig.run_s(2)
    assert rig.step_times(t) == []
    with pytest.raises(AssertionError, match="cannot start"):
        pump.exec("pump.start()")  # no one-command restart: load and program again
    pump.exec("pump.load('bd-plastipak-10ml', '10')")
    assert pump.eval("pump.status()['alarms']") == []


@pytest.mark.rig("time", "power")
def test_a_reset_loads_no_syringe_and_refuses_to_start(pump: DUT, rig: VirtualRig) -> None:
    """After a reset there is no syringe, and no LOAD, until someone loads one: a boot must
    not invent a full syringe and start on it."""
    pump.exec("pump.load('bd-plastipak-10ml', '5')")
    assert pump.eval("pump.status()['remaining_ul']") == "5000.000"
    n = pump.eval("pump.log.count")
    since = f"[r[2] for r in pump.log.records(16) if r[0] >= {n}]"
    rig.reset()
    new = pump.eval(since)
    assert "boot" in new and "load" not in new, new
    status = pump.eval("pump.status()")
    assert status["state"] == "idle" and status["alarms"] == [], status
    assert status["syringe"] is None and status["remaining_ul"] is None, status
    with pytest.raises(AssertionError, match="cannot start: no syringe loaded"):
        pump.exec("pump.start()")
    with pytest.raises(AssertionError, match="no syringe loaded"):
        pump.exec("pump.rate('5')")
    assert pump.eval(since) == new  # refused: nothing logged, nothing changed
    assert rig.level("en") == 1


@pytest.mark.rig("pins", "time")
def test_a_stalled_service_step_trips_the_watchdog(pump: DUT, rig: VirtualRig) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    rig.run_s(1)
    pump.exec(
        "import boardapp\nboardapp.service_timer.deinit()"
    )  # nothing services the pump or feeds the watchdog
    rig.run_s(4)  # 2 s watchdog, then the board boots again
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and status["alarms"] == ["delivery_interrupted"]
    assert "a watchdog reset" in status["alarm_text"]["delivery_interrupted"]
    assert pump.eval("__import__('machine').reset_cause() == __import__('machine').WDT_RESET")
    assert rig.level("en") == 1
    t = rig.now_ns()
    rig.run_s(3)  # the new service step feeds the new watchdog: no further reset
    assert rig.step_times(t) == []
    assert pump.eval("pump.status()['alarms']") == ["delivery_interrupted"]
