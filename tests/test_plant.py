"""The plant model: the physics the emulator and the virtual board's rig push against."""

import math

import pytest

from pumphost import plant

NL_PER_STEP = 16513 / 400  # BD Plastipak 10 mL on the Pico's drive
UM_PER_STEP = 0.25


def _plant(**kw: object) -> plant.Plant:
    args = dict(
        bore_mm=14.5,
        nominal_ml=10,
        um_per_step=UM_PER_STEP,
        nl_per_step=NL_PER_STEP,
        stroke_mm=60.0,
        seed=3,
    )
    args.update(kw)
    return plant.Plant(**args)  # type: ignore[arg-type]


def _run(p: plant.Plant, ml_h: float, until_s: float, dt: float = 0.1) -> None:
    steps_per_s = ml_h * 1e6 / 3600 / NL_PER_STEP
    t = p.t
    while t < until_s - 1e-9:
        t = min(until_s, t + dt)
        p.advance(t, int(t * steps_per_s))


def test_an_occlusion_traps_all_that_is_pushed() -> None:
    p = _plant(faults=[plant.Fault(0.0, "occlusion")])
    _run(p, 1.0, 36.0)  # 10 uL
    pushed = p.steps * NL_PER_STEP / 1000
    # The primed line starts at the tissue's pressure; the blocked line adds pushed / C.
    assert p.pressure() == pytest.approx(p.back_pressure(0.0) + pushed / p.compliance)
    assert p.compliance == pytest.approx(0.35)
    assert pushed == pytest.approx(10, abs=0.05)  # 10 uL: about 28.6 mmHg


def test_an_open_line_settles_at_back_pressure_plus_flow_times_resistance() -> None:
    p = _plant()
    _run(p, 5.0, 60.0, dt=0.05)
    q = 5.0 * 1000 / 3600  # uL/s
    expected = p.back_pressure(60.0) + p.resistance * q
    assert p.pressure() == pytest.approx(expected, rel=0.02)
    assert 5 < p.resistance * q < 12  # the 27 G set at 5 mL/h: about 8 mmHg


def test_a_released_occlusion_lets_the_trapped_volume_out() -> None:
    p = _plant(faults=[plant.Fault(0.0, "occlusion"), plant.Fault(36.0, "occlusion_release")])
    _run(p, 1.0, 36.0)
    trapped = p.trapped_ul
    p.advance(60.0, p.steps)  # the pump stopped at the alarm: the line empties
    assert p.delivered_out_ul > 0.9 * trapped - p.compliance * p.back_pressure(60.0)


def test_friction_varies_along_the_stroke_within_the_reference_band() -> None:
    p = _plant()
    values = [p.friction_profile(x / 10) for x in range(600)]
    assert max(values) <= 1 and min(values) >= -1
    assert max(values) - min(values) > 0.5  # it does vary over 60 mm


def test_force_is_friction_plus_pressure_times_area_and_bottoming_rises() -> None:
    p = _plant(faults=[plant.Fault(0.0, "occlusion")])
    _run(p, 1.0, 36.0)
    forces = [p.sample().force_n for _ in range(400)]
    mean = sum(f for f in forces if f is not None) / len(forces)
    area = math.pi * 14.5**2 / 4
    pressure_n = p.pressure() * plant.MMHG_PA * area * 1e-6
    trapped_n = (p.pressure() - p.back_pressure(0.0)) * plant.MMHG_PA * area * 1e-6
    assert 0.6 < trapped_n < 0.66  # 10 uL into 0.35 uL/mmHg (28.6 mmHg) on 165 mm^2
    assert mean == pytest.approx(3.0 + pressure_n, abs=0.9)  # 3 N +-25 %, offset +-0.3 N
    end, free = _plant(stroke_mm=0.01), _plant()  # same seed: the same friction and noise
    _run(end, 100.0, 1.0, dt=0.01)
    _run(free, 100.0, 1.0, dt=0.01)
    beyond_mm = end.steps * UM_PER_STEP / 1000 - 0.01  # driven into the barrel's end
    rise = end.sample().force_n - free.sample().force_n  # type: ignore[operator]
    assert rise == pytest.approx(plant.BOTTOM_STIFFNESS_N_PER_MM * beyond_mm, abs=0.5)


def test_sensor_faults_and_syringe_removal() -> None:
    p = _plant(faults=[plant.Fault(1.0, "sensor_open"), plant.Fault(2.0, "syringe_removed")])
    _run(p, 1.0, 1.5)
    assert p.sample().force_n is None
    _run(p, 1.0, 2.5)
    assert p.sample().syringe_present is False
    s = _plant(faults=[plant.Fault(0.0, "sensor_saturated")])
    _run(s, 1.0, 0.5)
    assert s.sample().force_n == plant.CELL_FULL_SCALE_N
    with pytest.raises(ValueError, match="unknown fault"):
        plant.Fault(1.0, "gremlins")


def test_the_same_seed_gives_the_same_plant() -> None:
    a, b = _plant(seed=7), _plant(seed=7)
    _run(a, 5.0, 10.0)
    _run(b, 5.0, 10.0)
    assert [a.sample().force_n for _ in range(5)] == [b.sample().force_n for _ in range(5)]
