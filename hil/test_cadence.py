"""The service step at CSCI rates: every 500 ms below 5 steps/s (pump.api.SERVICE_CALM_MS;
100 ms from 5 steps/s, 20 ms above 50), and what that leaves of the alarms' reaction and the
watchdog's margin, on the real image with the plant in the loop (as test_alarms.py does at
5 mL/h, where the step stays at 100 ms).

At 0.136 mL/h (0.9 steps/s) a fault is seen by the next step: syringe removal within 0.5 s,
a saturated cell within a sample and a step, an open cell within 1.5 s (no sample for 0.5 s,
then the step after that): at most 2.5 steps, 0.1 uL, at the 5 steps/s boundary.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dut import DUT
from rig import PlantLoop, VirtualRig

SYRINGE = "bd-plastipak-10ml"
EN_OFF = 1  # EN is active low
OCTREOTIDE = "pump.dose(1632, 500)\npump.start()"  # 0.136 mL/h
TIMER = "repr(__import__('boardapp').service_timer)"


@pytest.fixture
def loop(pump: DUT, rig: VirtualRig) -> Iterator[PlantLoop]:
    yield rig.plant(SYRINGE, 10.0)
    rig.idle_plant()


@pytest.mark.rig("pins", "time")
def test_the_step_is_calm_at_csci_rates_and_quick_again_above(pump: DUT, rig: VirtualRig) -> None:
    pump.exec(OCTREOTIDE)
    assert pump.eval("pump.service_ms()") == 500 and "period=500000)" in pump.eval(TIMER)
    pump.exec("pump.rate('5')")
    assert "period=100000)" in pump.eval(TIMER)
    pump.exec("pump.stop()")
    assert "period=500000)" in pump.eval(TIMER)


@pytest.mark.rig("pins", "time")
def test_a_repl_loop_of_commands_never_starves_the_watchdog(pump: DUT, rig: VirtualRig) -> None:
    """Every command holds the service step off while it runs: a tight loop of them at the
    REPL held off every 500 ms step for the watchdog's 2 s (a reset, the infusion cut). The
    board runs a held-off step again 10 ms later."""
    pump.exec(OCTREOTIDE)
    t = rig.now_ns()
    out = pump.exec(
        "import time\nt0 = time.ticks_ms()\nn = 0\n"
        "while time.ticks_diff(time.ticks_ms(), t0) < 3000:\n"
        "    pump.status()\n    n += 1\nprint(n)",
        timeout=300,
    )
    assert int(out) > 100
    status = pump.eval("pump.status()")
    assert status["state"] == "running" and status["alarms"] == [], status
    assert pump.eval("__import__('machine').reset_cause()") != 3  # WDT_RESET
    assert len(rig.step_times(t)) >= 2  # about one step a second went on meanwhile


@pytest.mark.rig("pins", "time", "plant")
def test_syringe_removed_at_csci_rate_stops_within_a_step(
    pump: DUT, rig: VirtualRig, loop: PlantLoop
) -> None:
    pump.exec(OCTREOTIDE)
    loop.run_s(2)
    t = loop.inject("syringe_removed")
    t_off = loop.run_until_motor_off(3, since_ns=t)
    # the rig flips the switch at the end of its 100 ms chunk; then the next 500 ms step
    assert t_off is not None and t_off - t <= 620_000_000, (t, t_off)
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and "syringe_removed" in status["alarms"], status


@pytest.mark.rig("pins", "time", "plant")
@pytest.mark.parametrize(
    ("fault", "why", "within_s"),
    [("sensor_open", "no data", 1.62), ("sensor_saturated", "saturated", 0.62)],
)
def test_load_cell_faults_at_csci_rate_stop_the_pump(
    pump: DUT, rig: VirtualRig, loop: PlantLoop, fault: str, why: str, within_s: float
) -> None:
    pump.exec(OCTREOTIDE)
    loop.run_s(2)
    t = loop.inject(fault)
    t_off = loop.run_until_motor_off(4)
    # open (the rig opens the cell after its 100 ms chunk): no sample for 0.5 s, then the
    # step after that; saturated: the next sample, then the next step
    assert t_off is not None and (t_off - t) / 1e9 <= within_s, (t, t_off)
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and "sensor_fault" in status["alarms"], status
    assert why in status["alarm_text"]["sensor_fault"]
    assert rig.level("en") == EN_OFF
