from harness import NEAR_WRAP, Rig, drive_vol, raises
from pump import rate
from pump.planner import PlanError, StepPlanner

VOL = drive_vol()


def _lcg(seed):
    # Deterministic pseudo-random sequence, identical on every runtime.
    while True:
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        yield seed


def test_steps_equal_floor_of_programmed_volume_at_every_check():
    r = Rig(VOL)
    r.start(rate.from_dose(1632, 500))
    rnd = _lcg(1)
    for _ in range(200):
        r.run(next(rnd) % 5000000 + 1)
        assert r.steps == r.expected_steps()


def test_no_drift_over_72_hours_at_octreotide_rate():
    r = Rig(VOL)
    r.start(rate.from_dose(2167, 500))
    for _ in range(72):
        r.run(3600000000)
        assert r.steps == r.expected_steps()


def test_high_rate_one_hour_exact():
    r = Rig(VOL, start_tick=NEAR_WRAP)
    r.start(rate.from_ml_per_h(100))
    r.run(3600000000)
    assert r.steps == r.expected_steps()
    assert r.steps > 2000000


def test_pause_resume_loses_and_adds_nothing():
    r = Rig(VOL)
    r.start(rate.from_ml_per_h(136, 1000))
    rnd = _lcg(7)
    for _ in range(30):
        r.run(next(rnd) % 3000000)
        r.pause()
        before = r.steps
        r.run(next(rnd) % 2000000000)
        assert r.steps == before
        r.resume()
        assert r.steps == r.expected_steps()
    r.run(10000000)
    assert r.steps == r.expected_steps()


def test_rate_changes_mid_interval_stay_exact():
    # Titration: dose steps at one concentration, mixed with mL/h changes.
    r = Rig(VOL)
    r.start(rate.from_ml_per_h(5))
    rnd = _lcg(3)
    for i in range(40):
        r.run(next(rnd) % 700000 + 1)
        if i % 3:
            r.set_rate(rate.from_dose(next(rnd) % 3000 + 500, 300))
        else:
            r.set_rate(rate.from_ml_per_h(next(rnd) % 9000 + 100, 1000))
        r.run(next(rnd) % 9000000)
        assert r.steps == r.expected_steps()


def test_unrelated_concentrations_never_over_deliver():
    r = Rig(VOL)
    r.start(rate.from_ml_per_h(5))
    rnd = _lcg(5)
    for _ in range(40):
        r.run(next(rnd) % 700000 + 1)
        r.set_rate(rate.from_dose(next(rnd) % 3000 + 500, 300 + next(rnd) % 700))
        r.run(next(rnd) % 9000000)
        assert r.expected_steps() - 1 <= r.steps <= r.expected_steps()


def test_batches_are_equal_interval_runs():
    p = StepPlanner(VOL)
    p.start_segment(*rate.from_ml_per_h(10))
    out = [0, 0]
    total = 0
    t = 0
    for _ in range(100):
        n = p.next_batch(out, 50)
        assert 1 <= n <= 50
        total += n
        t += n * out[1]
    # steps issued by the end of the last batch = floor(t * steps per µs)
    rn, rd = rate.from_ml_per_h(10)
    assert total == t * rn * VOL[1] // (rd * 3600000000 * VOL[0])


def test_halted_planner_plans_nothing():
    p = StepPlanner(VOL)
    p.start_segment(0, 1)
    assert p.next_batch([0, 0], 10) == 0


def test_executor_claiming_too_much_time_is_refused_and_changes_nothing():
    p = StepPlanner(VOL)
    p.start_segment(*rate.from_ml_per_h(1))
    out = [0, 0]
    p.next_batch(out, 1)
    raises(PlanError, p.start_segment, 1000000, 1, 0, out[1])  # the step was due by then
    assert p.planned == 1
    p.start_segment(1000000, 1, 0, out[1] - 1)  # just before it is fine


def test_rates_outside_the_drive_are_refused():
    p = StepPlanner(VOL)
    raises(PlanError, p.start_segment, 1, 10**9)  # one step every few years
    raises(PlanError, p.start_segment, 10**15, 1)  # faster than the driver can pulse
    raises(PlanError, p.start_segment, -5, 1)
