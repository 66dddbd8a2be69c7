# A bolus that ends other than at its end (a pause, a stop): the rate the program goes on at
# afterwards is the program's current one, a titration step that came due during the bolus
# included, and the log's last RATE record is always that rate.
from progrig import Tracked

from harness import Oracle, raises
from pump import rate as rates
from pump.program import BolusDenied

BASAL = rates.from_dose(1632, 500)
STEP = rates.from_dose(2167, 500)


def _spec(steps=True):
    spec = {
        "dose_ug_24h": 1632,
        "conc_ug_ml": 500,
        "max_24h_ug": 3000,
        "bolus": {"dose_ug": 50, "rate_ml_h": "1", "lockout_min": 30, "max_per_h": 1},
    }
    if steps:  # a step to 2,167 ug/24 h at 62 min: 2 min into a bolus given at 60 min
        step = {"at_min": 62, "dose_ug_24h": 2167}
        spec["titration"] = {"max_dose_ug_24h": 2500, "steps": [step]}
    return spec


def _start(r, spec):
    r.program(spec)
    r.act(r.pump.start)
    r.runner.started(r.clock.ticks())


def _recs(r, name):
    return [rec for rec in r.pump.log.records() if rec[2] == name]


def _logged_rate(r):
    rec = _recs(r, "rate")[-1]
    return rec[3], rec[4]


def _bolus_then(r, seconds):
    """Run to 60 min, give the bolus (6 min long), run `seconds` into it."""
    r.run(3600, 5)
    r.act(r.runner.bolus, r.clock.ticks())
    r.run(seconds)
    assert r.pump.controller.boosting()


def test_a_step_due_during_a_bolus_is_in_force_after_a_pause_cuts_it():
    r = Tracked()
    _start(r, _spec())
    _bolus_then(r, 180)  # the step came due at 62 min: logged, its rate waits for the end
    assert _recs(r, "program")[-1][3] == 2167
    r.act(r.pump.pause)  # at 63 min: the bolus is over
    last = r.pump.log.records()[-2:]
    assert [rec[2] for rec in last] == ["pause", "rate"], last
    assert _logged_rate(r) == STEP and r.pump.program_rate == STEP
    r.run(600, 5)
    r.act(r.pump.resume)
    assert r.pump.program_rate == STEP and _logged_rate(r) == STEP
    # The bolus's lockout still counts from its start (30 min): the pause did not end it.
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "lockout", e.reason
    r.run(1800, 5)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()  # it ran at 2,167 ug/24 h from the resume
    assert _logged_rate(r) == STEP


def test_a_pause_during_a_bolus_logs_the_rate_resume_runs_at():
    r = Tracked()
    _start(r, _spec(steps=False))
    _bolus_then(r, 60)
    boosted = _logged_rate(r)
    assert boosted != BASAL
    r.act(r.pump.pause)
    assert [rec[2] for rec in r.pump.log.records()[-2:]] == ["pause", "rate"]
    assert _logged_rate(r) == BASAL
    r.act(r.pump.resume)
    assert r.pump.program_rate == BASAL and _logged_rate(r) == BASAL
    r.run(600, 5)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()


def test_a_step_due_while_paused_after_a_cut_bolus_is_applied_there():
    r = Tracked()
    _start(r, _spec())
    _bolus_then(r, 30)
    r.act(r.pump.pause)  # at 60.5 min; the step comes due at 62 min, paused
    assert _logged_rate(r) == BASAL
    r.run(180, 5)
    assert _recs(r, "program")[-1][3] == 2167
    assert r.pump.program_rate == STEP and _logged_rate(r) == STEP
    r.act(r.pump.resume)
    r.run(600, 5)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()


def test_a_stop_during_a_bolus_leaves_nothing_for_the_next_syringe():
    r = Tracked()
    _start(r, _spec())
    _bolus_then(r, 180)
    r.act(r.pump.stop)  # nothing runs any more: no rate is claimed after the stop
    assert r.pump.log.records()[-1][2] == "stop"
    assert r.pump.state == "stopped"
    r.run(1)
    assert r.runner.bolus_due_in_us() == -1
    r.ok("load", {"syringe": "bd-plastipak-10ml", "fill_ml": "10"}, "4321")
    r.oracle, n0 = Oracle(r.pump.controller.vol), r.st.pulses  # the stop dropped a part step
    _start(r, _spec(steps=False))
    r.run(3600, 5)  # the limits span syringes: 1 bolus an hour
    r.act(r.runner.bolus, r.clock.ticks())
    r.run(400)  # this bolus ends normally: the new program's basal, no step left over
    assert not r.pump.controller.boosting()
    assert r.pump.program_rate == BASAL and _logged_rate(r) == BASAL
    r.act(r.pump.pause)
    assert r.st.pulses - n0 == r.expected()
