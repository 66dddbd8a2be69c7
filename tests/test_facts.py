"""One home for each fact. The alarm kinds live in pump.alarms, the service periods in
pump.api, the HX711's clamps in pump.loadcell; what people read (README.md) and the copy that
another language needs (the virtual board's HX711 model) are held to them here."""

import ast
import re
from pathlib import Path

from pump import alarms, api, loadcell

REPO = Path(__file__).resolve().parents[1]
README = " ".join((REPO / "README.md").read_text().split())


def test_the_firmware_names_alarm_kinds_only_in_pump_alarms() -> None:
    found = []
    for path in sorted((REPO / "firmware").rglob("*.py")):
        if path == REPO / "firmware" / "pump" / "alarms.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in alarms.KINDS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == [], "use the names in pump.alarms:\n" + "\n".join(found)


def test_readme_lists_every_alarm_kind_with_its_priority() -> None:
    section = README.split("## Alarms", 1)[1].split("## ", 1)[0]
    rows = re.findall(r"\| ((?:`\w+`(?:, )?)+) \| (high|medium|low) \|", section)
    listed = {k: prio for kinds, prio in rows for k in re.findall(r"`(\w+)`", kinds)}
    want = {k: alarms.PRIORITY_NAMES[prio] for k, (_, prio, _) in alarms.KINDS.items()}
    assert listed == want


def test_readme_states_the_service_periods_of_pump_api() -> None:
    m = re.search(
        r"every (\d+) ms above (\d+) steps/s, (\d+) ms from (\d+) steps/s or while an alarm "
        r"sounds, else (\d+) ms, `Pump.service_ms`",
        README,
    )
    assert m, "README's sentence on the service step's periods is gone"
    fast, fast_steps_s, slow, calm_steps_s, calm = map(int, m.groups())
    assert (fast, slow, calm) == (api.SERVICE_MS, api.SERVICE_SLOW_MS, api.SERVICE_CALM_MS)
    assert (fast_steps_s, calm_steps_s) == (api._FAST_STEPS_H // 3600, api._CALM_STEPS_H // 3600)


def test_the_slow_service_period_is_the_load_cells_sample_period() -> None:
    assert api.SERVICE_SLOW_MS * 1000 == loadcell.PERIOD_US


def test_the_virtual_hx711_clamps_where_the_firmware_says_the_chip_does() -> None:
    js = (REPO / "host_tools" / "vboard" / "hx711.mjs").read_text()
    clamps = dict(re.findall(r"export const (RAW_MAX|RAW_MIN) = (-?0x[0-9a-f]+);", js))
    assert {k: int(v, 16) for k, v in clamps.items()} == {
        "RAW_MAX": loadcell.RAW_MAX,
        "RAW_MIN": loadcell.RAW_MIN,
    }
    control = (REPO / "host_tools" / "vboard" / "control.mjs").read_text()
    assert "0x7fffff" not in control.lower() and "0x800000" not in control.lower()
