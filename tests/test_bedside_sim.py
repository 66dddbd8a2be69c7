"""The bedside UI on the emulator: [[press]] scenarios and `pumpctl sim --screens`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pump import uiform
from pumphost import screen
from pumphost.cli import cli
from pumphost.paths import REPO
from pumphost.sim.emulator import Emulator
from pumphost.sim.scenario import ScenarioError, load, parse, pin_keys

BEDSIDE = REPO / "host_tools" / "scenarios" / "bedside" / "octreotide.toml"


def test_the_bedside_flow_programs_titrates_and_answers_an_occlusion_from_the_keys(
    tmp_path: Path,
) -> None:
    emu = Emulator(load(BEDSIDE), screens=tmp_path)
    res = emu.run()
    assert emu.proto.pin_set()  # set from the keys
    p = emu.runner.prog
    assert p is not None and p.drug is None and p.conc == 500 and p.dose == 1632
    assert uiform.dose_of(p.tmax, 500) == 3000  # the ceiling the keys set
    assert uiform.dose_of(emu.pump.program_rate, 500) == 2167  # titrated from the keys
    assert res.state == "running"
    occ = [a for a in res.alarms if a["kind"] == "occlusion"]
    assert len(occ) == 1 and occ[0]["cleared_s"] is not None  # acknowledged, resumed
    names = [p.name for p in emu.bedside.written]
    assert "028-alarm-occlusion.png" in names and names[-1].endswith("-end.png")
    end = screen.read_png(tmp_path / names[-1])
    assert end == emu.bedside.panel.shown  # the PNG is the panel, pixel for pixel
    emu.bedside.ui.render()
    assert "2167 µg/24 h" in emu.bedside.ui.lines and emu.bedside.ui.title == "RUNNING"


def test_sim_screens_writes_the_pngs_and_names_them(tmp_path: Path) -> None:
    sc = tmp_path / "keys.toml"
    sc.write_text(
        '[pump]\nboard = "pico"\nsyringe = "bd-plastipak-10ml"\nfill_ml = 5.0\n'
        "[program]\nrate_ml_per_h = 1.0\n[run]\nduration_h = 0.1\n"
        '[[press]]\nat_h = 0.01\nkey = "info"\nshot = "info"\n'
        '[[press]]\nat_h = 0.02\nkey = "stop"\nhold_ms = 1200\n'
    )
    out = CliRunner().invoke(cli, ["sim", str(sc), "--screens", str(tmp_path / "s")])
    assert out.exit_code == 0, out.output
    assert "3 PNGs in" in out.output and "state        paused" in out.output  # Stop held
    names = sorted(p.name for p in (tmp_path / "s").glob("*.png"))
    assert names == ["000-info.png", "001-stop.png", "002-end.png"]


def test_press_entries_are_checked() -> None:
    base = '[pump]\nboard = "pico"\nsyringe = "bd-plastipak-10ml"\nfill_ml = 5.0\n'
    base += "[run]\nduration_h = 1\n"
    with pytest.raises(ScenarioError, match="one of key and pin"):
        parse(base + '[[press]]\nat_h = 0\nkey = "ok"\npin = "1234"\n')
    with pytest.raises(ScenarioError):
        parse(base + '[[press]]\nat_h = 0\nkey = "power"\n')
    with pytest.raises(ScenarioError, match="at or after the end"):
        parse(base + '[[press]]\nat_h = 2\nkey = "ok"\n')
    sc = parse(base + '[[press]]\nat_h = 0\nkey = "up"\ntimes = 3\nhold_ms = 200\n')
    assert sc.presses[0].keys == [("up", 200)] * 3 and sc.presses[0].label == "up"
    assert pin_keys("2468")[-1] == ("ok", 1100)  # held on the last digit: enter
