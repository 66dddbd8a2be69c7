"""Alarms on the board with the plant in the loop: the firmware's HX711 driver (PIO) reads the
virtual board's HX711, which the rig sets every 100 ms from the same plant model the emulator
uses (pumphost.sim.plant), moved by the STEP edges the board really made.

Occlusion at 5 mL/h: the alarm within the bound (about 7-10 uL displaced, as the emulator and
`make bench-alarms` say) and the motor stops; syringe removed; load cell open and saturated;
near-empty, then empty at the end of a small fill.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dut import DUT
from rig import PlantLoop, VirtualRig

from pump import mechanics

SYRINGE = "bd-plastipak-10ml"
EN_OFF = 1  # EN is active low
TARGET_UL = 10.0  # issue 7: the occlusion alarm with at most 10 uL displaced


@pytest.fixture
def loop(pump: DUT, rig: VirtualRig) -> Iterator[PlantLoop]:
    """The plant in the loop for the 10 mL syringe the `pump` fixture loaded; afterwards the
    board's devices rest again (no force, cell working, syringe seated)."""
    yield rig.plant(SYRINGE, 10.0)
    rig.idle_plant()


def _stopped(rig: VirtualRig, loop: PlantLoop, s: float = 1.0) -> None:
    """No STEP edge for s seconds and EN off: the motor is stopped and de-energised."""
    t = rig.now_ns()
    loop.run_s(s)
    assert rig.step_times(t) == []
    assert rig.level("en") == EN_OFF


@pytest.mark.rig("pins", "time", "plant")
def test_occlusion_at_5_ml_h_alarms_within_10_ul_and_stops(
    pump: DUT, rig: VirtualRig, loop: PlantLoop, report: list[str]
) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    loop.run_s(15)  # the detector's window (12 uL, 8.6 s at 5 mL/h) is full
    assert pump.eval("pump.status()['alarms']") == []  # 10 mL at 5 mL/h: 2 h left
    assert rig.level("en") != EN_OFF
    t_fault = loop.inject("occlusion")
    t_off = loop.run_until_motor_off(30, since_ns=t_fault)
    assert t_off is not None, "no motor stop within 30 s of the occlusion"
    status = pump.eval("pump.status()")
    assert status["state"] == "paused" and "occlusion" in status["alarms"], status
    steps = loop.steps_between(t_fault, t_off)
    displaced_ul = steps * loop.nl_per_step / 1000
    secs = (t_off - t_fault) / 1e9
    assert 3.0 < displaced_ul <= TARGET_UL, (displaced_ul, status)
    # The back-off: the motor draws the plunger back (DIR reversed), then stops for good.
    pushed = loop.steps_between(loop.t0_ns, t_off)
    loop.run_s(1)
    back = loop.steps_between(t_off)
    assert back > 0 and loop.steps == pushed - back, (back, loop.steps, pushed)
    _stopped(rig, loop)
    status = pump.eval("pump.status()")
    backoff_ul = float(status["backoff_ul"])
    assert backoff_ul == pytest.approx(back * loop.nl_per_step / 1000, abs=0.001)
    assert status["steps"] == loop.steps  # the record follows the plunger back
    # The line opens on the paused pump: what is trapped above the patient's pressure flows.
    p = loop.plant
    bolus_ul = p.trapped_ul - p.compliance * p.back_pressure(p.t)
    report.append(
        f"occlusion at 5 mL/h on the virtual Pico: alarm and motor off {secs:.1f} s after the "
        f"block, {displaced_ul:.2f} uL displaced (target <= {TARGET_UL:g}); back-off "
        f"{backoff_ul:.2f} uL; bolus at release {bolus_ul:.2f} uL (target <= {TARGET_UL:g})"
    )
    assert abs(bolus_ul) <= TARGET_UL
    assert "rate of rise" in status["alarm_text"]["occlusion"], status


@pytest.mark.rig("pins", "time", "plant")
def test_syringe_removed_while_running(pump: DUT, rig: VirtualRig, loop: PlantLoop) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    loop.run_s(1)
    t = loop.inject("syringe_removed")
    t_off = loop.run_until_motor_off(2, since_ns=t)
    assert t_off is not None and t_off - t <= 300_000_000  # the next service step or two
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and "syringe_removed" in status["alarms"], status
    _stopped(rig, loop)


@pytest.mark.rig("pins", "time", "plant")
@pytest.mark.parametrize(
    ("fault", "why", "within_s"),
    [("sensor_open", "no data", 0.9), ("sensor_saturated", "saturated", 0.4)],
)
def test_load_cell_faults_stop_the_pump(
    pump: DUT, rig: VirtualRig, loop: PlantLoop, fault: str, why: str, within_s: float
) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    loop.run_s(1)
    t = loop.inject(fault)
    t_off = loop.run_until_motor_off(3, since_ns=t)
    # open: no sample for 5 periods (0.5 s); saturated: the next sample
    assert t_off is not None and (t_off - t) / 1e9 <= within_s, (t, t_off)
    status = pump.eval("pump.status()")
    assert status["state"] == "stopped" and "sensor_fault" in status["alarms"], status
    assert why in status["alarm_text"]["sensor_fault"]
    _stopped(rig, loop)


@pytest.mark.rig("pins", "time", "plant")
def test_near_empty_then_empty_at_the_end_of_a_small_fill(pump: DUT, rig: VirtualRig) -> None:
    # 0.03 mL at 5 mL/h: 22 s, so near-empty (30 min left) warns at the start; the plant
    # runs on to the stopper's end. (727 steps: fewer than the PIO driver's ring holds, so
    # a run this short does not depend on its end-of-entry IRQ.)
    pump.exec("pump.load('bd-plastipak-10ml', '0.03')")
    loop = rig.plant(SYRINGE, 0.03)
    try:
        pump.exec("pump.rate('5')\npump.start()")
        loop.run_s(1)
        assert pump.eval("pump.status()['alarms']") == ["near_empty"]
        t_off = loop.run_until_motor_off(30)
        assert t_off is not None, "the pump did not stop at the end of the fill"
        status = pump.eval("pump.status()")
        history = pump.eval("[(a['kind'], a['active']) for a in pump.alarms()]")
    finally:
        rig.idle_plant()
    assert status["state"] == "complete", status
    assert status["alarms"] == ["reservoir_empty"], status  # the warning came true: cleared
    # this syringe's alarms, after the cleared ones of earlier syringes
    assert history[-2:] == [("near_empty", False), ("reservoir_empty", True)], history
    vol = mechanics.nl_per_step(mechanics.Syringe(SYRINGE), mechanics.Drive(800, 200, 16))
    # every step of the fill went out, and not one more
    assert (
        len(rig.step_times(loop.t0_ns)) == status["steps"] == mechanics.steps_for_nl(30_000, vol)
    )
