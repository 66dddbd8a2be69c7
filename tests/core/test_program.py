from progrig import PIN, SECOND, Rig, Tracked

from harness import raises
from pump import druglib
from pump import rate as rates
from pump.program import BolusDenied, Program, ProgramError

OCT = {"dose_ug_24h": 1632, "conc_ug_ml": 500}
BOLUS = {"dose_ug": 50, "rate_ml_h": "1", "lockout_min": 30, "max_per_h": 1}


def _spec(**kw):
    d = dict(OCT)
    d.update(kw)
    return d


def _bolus_spec(**kw):
    d = _spec(max_24h_ug=3000, bolus=dict(BOLUS))
    d.update(kw)
    return d


def _start(r, spec):
    r.program(spec)
    r.act(r.pump.start)
    r.runner.started(r.clock.ticks())


def test_bolus_is_exact_to_the_step_and_the_basal_carries_on():
    r = Tracked()
    _start(r, _bolus_spec())
    r.run(1000)
    res = r.act(r.runner.bolus, r.clock.ticks())
    assert res == {"bolus_ml": "0.1", "duration_s": 360}
    assert r.pump.controller.boosting()
    r.run(400)
    assert not r.pump.controller.boosting() and r.pump.state == "running"
    r.run(600)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()
    # The bolus itself: 100 uL over the basal, to the step (2423 steps of 41.28 nL).
    vol = r.pump.controller.vol
    basal = rates.from_dose(1632, 500)
    assert r.st.pulses > 100000 * vol[1] // vol[0]
    assert r.pump.controller.rate == basal


def test_bolus_across_the_tick_wrap_and_a_pause_mid_bolus():
    r = Tracked(start_tick=(1 << 30) - 200 * SECOND)
    _start(r, _bolus_spec())
    r.run(100)
    r.act(r.runner.bolus, r.clock.ticks())
    r.run(120)  # the tick counter wraps during the bolus
    r.act(r.pump.pause)
    assert not r.pump.controller.boosting()
    r.run(30)
    r.act(r.pump.resume)
    assert r.pump.controller.rate == rates.from_dose(1632, 500)  # resumes at the basal
    r.run(600)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()


def test_bolus_denials_say_why_and_change_nothing():
    r = Rig()
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "no_bolus"
    r.program(_bolus_spec())
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "not_running"
    r.pump.start()
    r.runner.started(r.clock.ticks())
    r.run(10)
    r.runner.bolus(r.clock.ticks())
    before = r.snapshot()
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "in_progress"
    assert r.snapshot() == before
    r.run(400)
    before = r.snapshot()
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "lockout" and "next bolus in 23 min" in str(e), str(e)
    assert r.snapshot() == before
    r.run(1500)  # lockout over (30 min after the start), but 1 per hour
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "max_per_hour"
    r.run(1800)
    r.runner.bolus(r.clock.ticks())
    assert r.runner.boluses == 2
    r.run(400)
    # An alarm: no bolus.
    r.pump._alarms.raise_(r.clock.ticks(), "near_empty", "test")
    r.run(3600)
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "alarm"


def test_the_24h_maximum_counts_the_basal_and_every_bolus():
    # 3.264 mL/24 h basal; max 3.5 mL: two 0.1 mL boluses fit in 24 h, a third does not.
    spec = _spec(max_24h_ug=1750)
    spec["bolus"] = {"dose_ug": 50, "rate_ml_h": "1", "lockout_min": 10, "max_per_h": 2}
    r = Rig()
    _start(r, spec)
    r.run(20)
    r.runner.bolus(r.clock.ticks())
    r.run(3700, 5)
    r.runner.bolus(r.clock.ticks())
    r.run(3700, 5)
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "max_24h"
    r.run(86400 - 7400, 20)
    r.runner.bolus(r.clock.ticks())  # the first one left the window


def test_vtbi_then_stop_is_exact_and_signals_the_end():
    r = Rig()
    r.program({"rate_ml_h": "10", "vtbi_ml": "0.5"})
    r.pump.start()
    r.runner.started(r.clock.ticks())
    r.run(200)
    vol = r.pump.controller.vol
    assert r.pump.state == "stopped" and r.runner.ended
    assert r.st.pulses == 500000 * vol[1] // vol[0]
    assert r.pump.status()["alarms"] == []
    names = [rec[2] for rec in r.pump.log.records()]
    assert "infusion_end" in names


def test_vtbi_then_kvo_goes_on_at_the_kvo_rate():
    r = Rig()
    r.program({"rate_ml_h": "10", "vtbi_ml": "0.5", "then": "kvo", "kvo_ml_h": "0.1"})
    r.pump.start()
    r.runner.started(r.clock.ticks())
    r.run(200)
    assert r.pump.state == "running" and r.runner.ended
    assert r.pump.program_rate == rates.from_ml_per_h(1, 10)
    n = r.st.pulses
    r.run(3600, 5)
    vol = r.pump.controller.vol
    kvo_steps = 100000 * vol[1] // vol[0]
    assert kvo_steps - 2 <= r.st.pulses - n <= kvo_steps + 1


def test_volume_over_duration_is_the_t34_way():
    p = Program({"volume_ml": "9.6", "duration_min": 1440})
    assert p.basal == rates.from_ml_per_h(4, 10) and p.vtbi_nl == 9600000
    assert p.summary()["rate_ml_h"] == "0.4000"


def test_titration_plan_steps_at_its_time_and_stays_under_its_maximum():
    r = Tracked()
    t = {"max_dose_ug_24h": 2500, "steps": [{"at_min": 60, "dose_ug_24h": 2167}]}
    _start(r, _spec(titration=t))
    r.run(3599, 1)
    assert r.pump.program_rate == rates.from_dose(1632, 500)
    r.st.advance(SECOND)
    r.act(r.pump.service)
    assert r.pump.program_rate == rates.from_dose(2167, 500)
    before = r.snapshot()
    e = raises(ProgramError, r.runner.titrate, r.clock.ticks(), rates.from_dose(2600, 500), 2600)
    assert e.code == "out_of_range" and r.snapshot() == before
    r.act(r.runner.titrate, r.clock.ticks(), rates.from_dose(2400, 500), 2400)
    r.run(600)
    r.act(r.pump.pause)
    assert r.st.pulses == r.expected()


def _profile(offset=0):
    return {
        "conc_ug_ml": 500,
        "utc_offset_min": offset,
        "profile": [
            {"start_min": 0, "dose_ug_24h": 1200},
            {"start_min": 480, "dose_ug_24h": 2400},
            {"start_min": 1200, "dose_ug_24h": 1632},
        ],
    }


MIDNIGHT = 1798761600  # 2027-01-01T00:00:00Z


def _set_clock(r, utc):
    r.runner.set_clock(r.clock.ticks(), utc)
    rec = r.pump.log.records()[-1]
    assert rec[2] == "clock" and rec[4] == utc, rec
    r.clocks += 1


def test_profile_follows_local_time_and_a_clock_jump_never_skips_or_repeats():
    r = Rig()
    r.clocks = 0
    r.ok("pin.change", {"new": PIN})
    tok = r.ok("program.validate", {"program": _profile()})["token"]
    e = r.send("program.set", {"token": tok}, PIN)
    assert e["error"]["code"] == "refused" and "clock" in e["error"]["message"]
    _set_clock(r, MIDNIGHT + 7 * 3600 + 1800)  # 07:30 UTC
    r.program(_profile(offset=60))  # 08:30 local: the 08:00 segment
    assert r.runner._seg == 1 and r.pump.program_rate == rates.from_dose(2400, 500)
    r.pump.start()
    r.runner.started(r.clock.ticks())
    r.run(600, 10)
    # Back 2 h (to 06:40 local): the 08:00 segment stays, it is not entered again.
    _set_clock(r, MIDNIGHT + 5 * 3600 + 2400)
    r.run(3600, 10)
    assert r.runner._seg == 1
    # Forward to 19:55 local: still the same segment until 20:00 is crossed.
    _set_clock(r, MIDNIGHT + 18 * 3600 + 3300)
    assert r.runner._seg == 1
    r.run(600, 10)
    assert r.runner._seg == 2 and r.pump.program_rate == rates.from_dose(1632, 500)
    r.run(5 * 3600, 30)  # past midnight: the first segment
    assert r.runner._seg == 0 and r.pump.program_rate == rates.from_dose(1200, 500)
    assert r.clocks == 3


def test_program_validation_names_the_problem():
    bad = [
        ({}, "bad_arg"),
        ({"rate_ml_h": 0.5}, "bad_arg"),  # floats are refused: decimal strings
        ({"rate_ml_h": "500"}, "out_of_range"),
        ({"rate_ml_h": "1", "dose_ug_24h": 5}, "bad_arg"),
        ({"dose_ug_24h": 1632}, "bad_arg"),  # no concentration
        ({"rate_ml_h": "1", "colour": "red"}, "bad_arg"),
        ({"rate_ml_h": "1", "bolus": {"volume_ml": "0.1", "rate_ml_h": "1"}}, "bad_arg"),
        (_bolus_spec(bolus=dict(BOLUS, rate_ml_h="0.5")), "out_of_range"),  # > 8 min
        (_spec(titration={"max_dose_ug_24h": 1000}), "out_of_range"),
        ({"rate_ml_h": "1", "then": "kvo"}, "bad_arg"),
        ({"rate_ml_h": "1", "vtbi_ml": "1", "then": "kvo", "kvo_ml_h": "2"}, "out_of_range"),
        (_spec(max_24h_ug=1000), "out_of_range"),
        (
            {"profile": [{"start_min": 0, "rate_ml_h": "1"}, {"start_min": 5, "rate_ml_h": "1"}]},
            "out_of_range",
        ),
        ({"rate_ml_h": True}, "bad_arg"),
        ({"dose_ug_24h": 1632, "conc_ug_ml": "500"}, "bad_arg"),
    ]
    for spec, code in bad:
        e = raises(ProgramError, Program, spec)
        assert e.code == code, (spec, e.code, str(e))


def _library():
    with open("firmware/druglib.json") as f:
        import json

        return druglib.Library(json.load(f))


def test_drug_library_hard_limits_reject_and_soft_limits_need_confirm():
    lib = _library()
    assert "EXAMPLE" in lib.note
    ok = Program(_spec(drug="octreotide"))
    assert lib.check(ok) == []
    soft = Program(_spec(drug="octreotide", dose_ug_24h=3200))
    assert len(lib.check(soft)) == 1 and "soft maximum" in lib.check(soft)[0]
    for spec in (
        _spec(drug="octreotide", dose_ug_24h=5000),  # above the hard maximum
        _spec(drug="octreotide", conc_ug_ml=300),  # not an allowed concentration
        {"drug": "octreotide", "rate_ml_h": "0.136"},  # mL/h for a ug drug
        _spec(drug="morphine"),
        _spec(),  # no drug named
        _bolus_spec(drug="octreotide", bolus=dict(BOLUS, dose_ug=300, rate_ml_h="10")),
    ):
        e = raises(ProgramError, lib.check, Program(spec))
        assert e.code == "hard_limit", spec
    g = Program({"drug": "generic-ml-h", "rate_ml_h": "6"})
    assert len(lib.check(g)) == 1
    raises(ProgramError, lib.check, Program({"drug": "generic-ml-h", "rate_ml_h": "25"}))


def test_a_broken_library_is_refused():
    for data in (
        {},
        {"version": 1, "drugs": []},
        {"version": 1, "drugs": [{"id": "x", "unit": "ug"}]},
        {"version": 1, "drugs": [{"id": "x", "unit": "ml", "continuous": {"hard_max": 1.5}}]},
        {
            "version": 1,
            "drugs": [{"id": "x", "unit": "ml", "bolus": {"soft_max": "3", "hard_max": "2"}}],
        },
    ):
        raises(druglib.LibraryError, druglib.Library, data)


def test_pin_constant_is_digits():
    assert PIN.isdigit()


def test_the_service_step_keeps_the_runner_s_clock_with_no_program():
    # Runner.service keeps elapsed time (utc(), lockouts) on every step, program or not,
    # across the tick wrap, at any service period.
    r = Rig()
    r.runner.utc_base = 1767225600  # as clock.set leaves it at elapsed 0
    assert r.runner.prog is None
    for _ in range(7):
        r.st.advance(SECOND // 2)  # the slowest service period (pump.api.SERVICE_CALM_MS)
        r.pump.service()
    assert (r.runner.s, r.runner.us) == (3, SECOND // 2)
    assert r.runner.utc() == 1767225603
    r.runner.service(r.runner._last)  # no time passed: nothing changes
    assert (r.runner.s, r.runner.us) == (3, SECOND // 2)
