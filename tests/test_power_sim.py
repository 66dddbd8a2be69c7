"""Issue 21 on the emulator: the battery model discharging by the firmware's energy model,
the gauge's alarms against the true run-down, mains and cell events (pumphost.sim.battery,
scenario [power])."""

from pathlib import Path

import pytest

from pump import events, logrec, power
from pumphost.sim.emulator import Emulator
from pumphost.sim.scenario import ScenarioError, load, parse

_BASE = """
[pump]
board = "pico"
syringe = "bd-plastipak-30ml"
fill_ml = 30.0

[program]
rate_ml_per_h = {rate}

[power]
battery = "{battery}"
charge_pct = {pct}
resistance_x = {rx}
{extra}
[run]
duration_h = {hours}
"""


def _run(battery, pct, rate=0.136, rx=1, hours=12, extra="", log=False):
    text = _BASE.format(battery=battery, pct=pct, rate=rate, rx=rx, hours=hours, extra=extra)
    emu = Emulator(parse(text, "power"), log=log)
    return emu, emu.run()


def _supply_records(emu):
    out, seq = [], 0
    while page := emu.log.read(seq, 128):
        for i in range(0, len(page), 20):
            seq = int.from_bytes(page[i : i + 4], "little")
            code, _x, a, _b = logrec.unpack(page, i + 4)
            if code == events.SUPPLY:
                out.append(a)
        seq += 1
    return out


def _raised(res, kind):
    return [a["raised_s"] for a in res.alarms if a["kind"] == kind]


@pytest.mark.parametrize(
    ("battery", "pct", "rate", "rx"),
    [
        ("6lr61", 25, 0.136, 1),
        ("6lr61", 60, 5.0, 1),
        ("6lr61", 100, 5.0, 10),  # a high-resistance cell: it fails early, and says so in time
        ("li-ion-1s", 8, 0.136, 1),
        ("li-ion-1s", 10, 5.0, 3),
    ],
)
def test_low_battery_at_least_30_min_before_the_depleted_stop(battery, pct, rate, rx):
    emu, res = _run(battery, pct, rate, rx)
    low, dep = _raised(res, power.ALARM_LOW), _raised(res, power.ALARM_DEPLETED)
    assert low and dep, res.alarms
    assert 30 * 60 <= dep[0] - low[0] <= 60 * 60, (low, dep)  # in time, and not early
    # Stopped while the cell holds: the high alarm sounds 3 min or more before the supply
    # fails (IEC 60601-2-24), the log written meanwhile.
    assert res.state == "stopped"
    assert all(cut >= dep[0] + 180 for cut in emu.power_cuts), (dep, emu.power_cuts)


def test_a_fresh_high_resistance_cell_raises_no_alarm_while_it_has_hours():
    emu, res = _run("6lr61", 100, 0.136, rx=5, hours=3)
    assert res.alarms == [] and res.state == "running"


def test_mains_and_a_cell_swapped_on_mains_are_logged_and_delivery_goes_on():
    events = "".join(
        f'[[power.event]]\nat_h = {at}\nkind = "{k}"\n'
        for at, k in (
            (0.5, "mains_lost"),
            (1.0, "mains_restored"),
            (1.5, "battery_removed"),
            (1.51, "battery_fitted"),
        )
    )
    emu, res = _run("6lr61", 50, 1.0, hours=2, extra="mains = true\n" + events, log=True)
    assert res.alarms == [] and res.state == "running"
    whats = _supply_records(emu)
    assert whats == [power.MAINS_LOST, power.MAINS_RESTORED, power.CELL_REMOVED, power.CELL_NEW]
    assert emu.pump.power.supply.gauge.permille() > 950  # the new cell was read again


def test_a_cell_removed_off_mains_is_a_power_cut_and_the_pump_does_not_restart():
    extra = '[[power.event]]\nat_h = 0.5\nkind = "battery_removed"\n'
    extra += '[[power.event]]\nat_h = 0.6\nkind = "battery_fitted"\n'
    emu, res = _run("li-ion-1s", 80, 1.0, hours=1, extra=extra)
    assert res.state == "idle"  # booted again with no syringe: nothing restarts by itself
    assert res.steps < 1.0 * 0.6 * 1e6 / 41.28  # the steps stopped at the cut


def test_power_table_is_checked():
    with pytest.raises(ScenarioError, match="battery"):
        parse(_BASE.format(battery="aa", pct=1, rate=1, rx=1, hours=1, extra=""), "x")
    with pytest.raises(ScenarioError, match="kind"):
        extra = '[[power.event]]\nat_h = 0.5\nkind = "lightning"\n'
        parse(_BASE.format(battery="6lr61", pct=1, rate=1, rx=1, hours=1, extra=extra), "x")


_FILES = Path(__file__).resolve().parents[1] / "host_tools" / "scenarios" / "power"


@pytest.mark.parametrize("path", sorted(_FILES.glob("*.toml")), ids=lambda p: p.stem)
def test_the_power_example_scenarios_do_what_they_say(path):
    res = Emulator(load(path)).run()
    kinds = res.alarm_kinds
    if "rundown" in path.stem:
        low, dep = _raised(res, power.ALARM_LOW), _raised(res, power.ALARM_DEPLETED)
        assert kinds == [power.ALARM_LOW, power.ALARM_DEPLETED] and dep[0] - low[0] >= 1800
        assert res.state == "stopped"
    else:
        assert kinds == [] and res.state == "running", kinds
