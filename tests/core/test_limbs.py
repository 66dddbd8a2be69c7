from harness import drive_vol
from pump import rate
from pump.planner import StepPlanner

SMALL = 1 << 30


def _small(p):
    for name in ("_s_hi", "_s_lo", "_r_hi", "_r_lo", "_a_hi", "_a_lo", "_q", "_pending"):
        v = getattr(p, name)
        assert -SMALL <= v < SMALL, name


def test_limbs_stay_small_at_extreme_rates():
    # rp2 small ints are 31-bit: the per-step state must stay within them.
    for sid in ("bd-plastipak-10ml", "bd-plastipak-30ml"):
        p = StepPlanner(drive_vol(sid))
        for r in (rate.from_ml_per_h(1, 100), rate.from_ml_per_h(100), rate.from_dose(2999, 7)):
            p.start_segment(r[0], r[1], 0, 0)
            out = [0, 0]
            for _ in range(500):
                p.next_batch(out, 3)
                _small(p)
