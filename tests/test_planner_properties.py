"""Property tests (CPython only): exact step counts for arbitrary programs."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness import Rig, drive_vol
from pump import rate
from pump.ticks import PERIOD

SYRINGES = ["bd-plastipak-10ml", "bd-plastipak-20ml", "bd-plastipak-30ml", "bbraun-omnifix-10ml"]
# 0.01-100 mL/h in steps of 0.001 mL/h, plus doses at a fixed concentration.
ml_rates = st.integers(10, 100_000).map(lambda n: rate.from_ml_per_h(n, 1000))
start_ticks = st.integers(0, 20_000_000).map(lambda d: (PERIOD - d) % PERIOD)
durations = st.integers(1, 2 * 3_600_000_000)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(SYRINGES), ml_rates, start_ticks, st.lists(durations, min_size=1, max_size=5)
)
def test_steps_are_floor_of_programmed_volume(syringe, r, tick, checks):
    rig = Rig(drive_vol(syringe), start_tick=tick)
    rig.start(r)
    for dt in checks:
        rig.run(dt // 20 if r[0] > 20_000_000 * r[1] else dt)  # keep fast rates quick
        assert rig.steps == rig.expected_steps()


def _dose_rate(dose: int) -> tuple[int, int]:
    return rate.from_dose(dose, 500)


program_ops = st.lists(
    st.one_of(
        st.tuples(st.just("run"), st.integers(0, 600_000_000)),
        st.tuples(st.just("pause"), st.integers(0, 0)),
        st.tuples(st.just("rate"), st.integers(200, 3000)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(start_ticks, st.integers(200, 3000), program_ops)
def test_pause_resume_and_rate_changes_stay_exact(tick, dose, ops):
    rig = Rig(drive_vol(), start_tick=tick)
    rig.start(_dose_rate(dose))
    for op, arg in ops:
        if op == "run":
            rig.run(arg)
        elif op == "pause":
            if rig.pump.state == "running":
                rig.pause()
            else:
                rig.resume()
        else:
            rig.set_rate(_dose_rate(arg))
        assert rig.steps == rig.expected_steps()
