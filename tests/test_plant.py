"""The plant model: the physics the emulator and the virtual board's rig push against."""

import math
import re
import typing
from pathlib import Path

import numpy as np
import pytest

from pump import mechanics
from pumphost import boards
from pumphost.sim import plant, scenario
from pumphost.sim.emulator import Emulator

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


def _steps_with_rests(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample times (s, 10 Hz) and plunger steps: slow steps, a rest, fast steps (past the
    breakaway), a short rest, steady steps."""
    rng = np.random.default_rng(1)
    d = np.concatenate(
        [
            rng.poisson(0.3, 5000),
            np.zeros(300, np.int64),
            rng.poisson(3.5, 5000),
            np.zeros(10, np.int64),
            np.full(3000, 4),
            rng.poisson(0.8, n - 13310),
        ]
    )
    return np.arange(1, len(d) + 1) * 100_000 / 1e6, np.cumsum(d)


@pytest.mark.parametrize(
    "faults",
    [(), ((700.0, "occlusion"), (900.0, "occlusion_release"), (1200.0, "partial_occlusion"))],
)
def test_the_bulk_plant_is_the_plant_model_sample_by_sample(
    faults: tuple[tuple[float, str], ...],
) -> None:
    # Each sample's force as Plant.advance() + sample() give it, the same noise drawn in order.
    t, steps = _steps_with_rests(20000)
    line = [plant.Fault(at, kind) for at, kind in faults]
    ref_plant = _plant(stroke_mm=30.0, seed=7, faults=line)
    fast_plant = _plant(stroke_mm=30.0, seed=7, faults=line)
    ref = []
    for ti, si in zip(t.tolist(), steps.tolist(), strict=True):
        ref_plant.advance(ti, si)
        ref.append(ref_plant.sample().force_n)
    # no rng: the plant's own noise stream
    fast = np.concatenate(
        [fast_plant.run(t[:7000], steps[:7000]), fast_plant.run(t[7000:], steps[7000:])]
    )
    assert np.abs(fast - np.array(ref)).max() < 1e-9
    assert abs(fast_plant.trapped_ul - ref_plant.trapped_ul) < 1e-9


@pytest.mark.parametrize("cut", [5150, 10_320, 13_000])  # at rest, just moving, broken away
def test_a_bulk_run_leaves_the_plant_where_advance_would(cut: int) -> None:
    # One plant throughout: run() up to a sample (truncated back to it from further on),
    # then sample by sample, against a plant that went sample by sample all the way.
    t, steps = _steps_with_rests(14_000)
    faults = [plant.Fault(700.0, "occlusion"), plant.Fault(1350.0, "occlusion_release")]
    ref, one = _plant(seed=5, faults=faults), _plant(seed=5, faults=faults)
    for ti, si in zip(t[:cut].tolist(), steps[:cut].tolist(), strict=True):
        ref.advance(ti, si)
        ref.sample()
    one.run(t[: cut + 500], steps[: cut + 500])
    one.truncate(cut - 1)
    assert (one.t, one.steps, one.steps_since_rest) == (ref.t, ref.steps, ref.steps_since_rest)
    assert one.moved_since_rest_mm == pytest.approx(ref.moved_since_rest_mm, abs=1e-12)
    assert one.trapped_ul == pytest.approx(ref.trapped_ul, abs=1e-9)
    assert one.delivered_out_ul == pytest.approx(ref.delivered_out_ul, abs=1e-9)
    assert (one.occluded, one.partial) == (ref.occluded, ref.partial)
    one._rng.setstate(ref._rng.getstate())  # noqa: SLF001 (the run drew past the cut)
    for ti, si in zip(t[cut:].tolist(), steps[cut:].tolist(), strict=True):
        ref.advance(ti, si)
        one.advance(ti, si)
        a, b = ref.sample(), one.sample()
        assert a.force_n == pytest.approx(b.force_n, abs=1e-9), ti
    assert one.delivered_out_ul == pytest.approx(ref.delivered_out_ul, abs=1e-9)


def test_the_bulk_run_refuses_what_it_does_not_model() -> None:
    t, steps = _steps_with_rests(14_000)
    with pytest.raises(ValueError, match="line faults only"):
        _plant(faults=[plant.Fault(5.0, "sensor_open")]).run(t, steps)
    with pytest.raises(ValueError, match="only go forward"):
        _plant().run(t, steps[::-1].copy())


def test_one_builder_makes_the_plant_for_a_syringe() -> None:
    # The emulator's plant (and the rig's and the false-alarm replay's) is for_syringe's.
    b = boards.load("pico")
    drive = mechanics.Drive(b.lead_um, b.full_steps_per_rev, b.microsteps)
    syr = mechanics.Syringe("bd-plastipak-30ml")
    faults = [(180.0, "occlusion")]
    built = plant.for_syringe(syr, drive, 5_000_000, seed=42, faults=faults)
    text = scenario.plant_scenario(
        "bd-plastipak-30ml", "5.0", "1.0", 0.1, 42, "low", [(0.05, "occlusion")]
    )
    emu = Emulator(scenario.parse(text, "built"))
    assert emu.plant == built
    num, den = mechanics.nl_per_step(syr, drive)
    assert built.nl_per_step == num / den and built.um_per_step == b.lead_um / drive.steps_per_rev
    assert built.stroke_mm == 5_000_000 / syr.nl_per_mm  # the stopper bottoms out at the fill
    assert (built.bore_mm, built.nominal_ml) == (syr.diameter_um / 1000, 30)


def test_a_scenario_takes_its_fault_kinds_from_the_plant() -> None:
    kind = scenario._Fault.model_fields["kind"].annotation  # noqa: SLF001
    assert typing.get_args(kind) == plant.FAULTS == tuple(plant.FAULT_EFFECTS)
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    listed = re.search(r"`kind`: ((?:`\w+`(?:, )?)+)", readme)
    assert listed and tuple(re.findall(r"`(\w+)`", listed.group(1))) == plant.FAULTS
