"""The README's three screenshots (boards/pico/screens/) are what the bedside scenario draws
today: a UI change that alters them fails here until the pictures are made again with
`pumpctl sim host_tools/scenarios/bedside/octreotide.toml --screens DIR`."""

import subprocess
import sys
from pathlib import Path

import pytest

from pumphost import screen

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "boards" / "pico" / "screens"
SCENARIO = ROOT / "host_tools" / "scenarios" / "bedside" / "octreotide.toml"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("screens")
    run = subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", "sim", str(SCENARIO)]
        + ["--screens", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.parametrize("name", ["home", "titrate-check", "alarm-occlusion"])
def test_readme_screenshot_is_todays_screen(drawn: Path, name: str) -> None:
    made = sorted(drawn.glob(f"*-{name}.png"))
    assert made, f"the scenario no longer takes a shot named {name}"
    assert screen.read_png(SHOTS / f"{name}.png") == screen.read_png(made[0])
    assert (ROOT / "README.md").read_text().count(f"boards/pico/screens/{name}.png") == 1
