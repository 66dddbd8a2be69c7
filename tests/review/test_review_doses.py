"""The simulated cohort's doses: every starting and escalated dose in the clinical range
(1,000-3,000 µg/24 h, README), and the sample mean and SD the seed study's (Shekhda et al.
2025: 1,632 +- 522 starting, 2,166.7 +- 464 escalated), seed after seed. No emulator runs:
the plan alone."""

from __future__ import annotations

import statistics

from pumphost.review import simulate as sim


def test_every_dose_drawn_is_in_the_clinical_range_with_the_study_moments() -> None:
    for seed in range(300):
        plans = sim.plan(18, 3, seed, 0)
        starts = [p.start_dose for p in plans]
        esc = [p for p in plans if p.escalated_dose is not None]
        doses = starts + [p.escalated_dose for p in esc]
        assert min(doses) >= 1000 and max(doses) <= 3000, (seed, sorted(doses))
        assert len(esc) == 12, seed  # 2/3 escalated
        assert all(p.escalated_dose >= p.start_dose + sim.ESC_STEP for p in esc), seed
        # moment-matched before rounding to whole µg: off by the rounding only
        assert abs(statistics.fmean(starts) - 1632) < 1, seed
        assert abs(statistics.stdev(starts) - 522) < 1, seed
        e = [float(p.escalated_dose) for p in esc]  # type: ignore[misc]
        assert abs(statistics.fmean(e) - 2166.7) < 1, seed
        assert abs(statistics.stdev(e) - 464) < 1, seed


def test_small_and_large_cohorts_stay_in_the_range() -> None:
    for n in (1, 2, 3, 7, 60):
        for seed in range(20):
            plans = sim.plan(n, 2, seed, 0)
            for p in plans:
                assert 1000 <= p.start_dose <= 3000, (n, seed, p.start_dose)
                if p.escalated_dose is not None:
                    assert p.start_dose < p.escalated_dose <= 3000, (n, seed, p)


def test_the_cohort_table_says_micrograms() -> None:
    # The study's table as the cohort page and `pumpctl cohort compare` show it: µg, as the
    # patient pages and the log report do, never "ug".
    from pumphost.review import cohort

    shown = list(cohort.STUDY) + list(cohort.table([]).rows())
    assert all("ug" not in k for k in shown), shown
    assert sum("µg/24 h" in k for k in cohort.STUDY) == 2
