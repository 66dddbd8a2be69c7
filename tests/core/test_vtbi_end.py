# After the VTBI: the pump goes on at KVO (or stays stopped) with end_of_infusion, and only a
# new program or an explicit rate changes that. A titration step or a profile segment that
# comes due afterwards is skipped (nothing logged), a titrate is refused and a bolus denied;
# KVO never runs above the rate in force when the VTBI ended.
from progrig import PIN, Rig

from harness import raises
from pump import rate as rates
from pump.program import BolusDenied, ProgramError

MIDNIGHT = 1798761600  # 2027-01-01T00:00:00Z


def _ml_h(s):
    return rates.from_ml_per_h(*rates.parse_decimal(s))


def _go(r, spec):
    r.program(spec)
    r.pump.start()
    r.runner.started(r.clock.ticks())


def _steps(r, rate, seconds):
    """Whole steps `rate` (nL/h fraction) gives in `seconds`."""
    vn, vd = r.pump.controller.vol
    return rate[0] * seconds * vd // (rate[1] * 3600 * vn)


def _runs_at(r, rate, seconds, every=5):
    n = r.st.pulses
    r.run(seconds, every)
    got, want = r.st.pulses - n, _steps(r, rate, seconds)
    assert want - 1 <= got <= want + 1, (got, want)


def _after_end(r):
    """Names of the log records after INFUSION_END, DELIVERED left out."""
    names = [rec[2] for rec in r.pump.log.records()]
    assert "infusion_end" in names
    return [n for n in names[names.index("infusion_end") + 1 :] if n != "delivered"]


def _titrated(**kw):
    # 1 mL/h, the VTBI 0.1 mL (6 min), then KVO 0.1 mL/h; a step to 2 mL/h at 30 min.
    spec = {"rate_ml_h": "1", "vtbi_ml": "0.1", "then": "kvo", "kvo_ml_h": "0.1"}
    spec["titration"] = {"max_rate_ml_h": "2", "steps": [{"at_min": 30, "rate_ml_h": "2"}]}
    spec.update(kw)
    return spec


def test_a_titration_step_after_the_vtbi_does_not_replace_kvo():
    r = Rig()
    _go(r, _titrated())
    r.run(600, 5)
    assert r.runner.ended and r.pump.program_rate == _ml_h("0.1")
    _runs_at(r, _ml_h("0.1"), 3000)  # to 60 min: the step at 30 min is skipped
    assert r.pump.state == "running" and r.pump.program_rate == _ml_h("0.1")
    assert _after_end(r) == []
    st = r.ok("status")
    assert st["end_of_infusion"] and st["titration_step"] == 0 and st["rate_ml_h"] == "0.1000"


def test_a_dose_step_due_while_paused_at_kvo_is_skipped():
    r = Rig()
    spec = {"dose_ug_24h": 1632, "conc_ug_ml": 500, "vtbi_ml": "0.0136", "then": "kvo"}
    spec["kvo_ml_h"] = "0.01"
    spec["titration"] = {
        "max_dose_ug_24h": 2500,
        "steps": [{"at_min": 30, "dose_ug_24h": 2167}],
    }
    _go(r, spec)
    r.run(600, 5)  # 0.0136 mL at 0.136 mL/h: 6 min
    assert r.runner.ended and r.pump.program_rate == _ml_h("0.01")
    r.pump.pause()
    r.run(1800, 5)  # the step comes due at 30 min, paused
    assert r.pump.program_rate == _ml_h("0.01")
    r.pump.resume()
    _runs_at(r, _ml_h("0.01"), 1800, 10)
    assert _after_end(r) == ["pause", "resume"]  # no PROGRAM, no RATE


def _profile(segs, **kw):
    spec = {"utc_offset_min": 0, "profile": [{"start_min": a, "rate_ml_h": v} for a, v in segs]}
    spec.update(kw)
    return spec


def _clocked():
    r = Rig()
    r.runner.set_clock(r.clock.ticks(), MIDNIGHT)
    return r


def test_a_profile_segment_after_the_vtbi_does_not_replace_kvo():
    # The VTBI ends at 6 min, in the 1 mL/h segment; the 2 mL/h one starts at 01:00.
    r = _clocked()
    spec = _profile([(0, "1"), (60, "2")], vtbi_ml="0.1", then="kvo", kvo_ml_h="0.1")
    _go(r, spec)
    r.run(600, 5)
    assert r.runner.ended and r.pump.program_rate == _ml_h("0.1")
    _runs_at(r, _ml_h("0.1"), 3600)  # across 01:00
    assert r.pump.program_rate == _ml_h("0.1") and _after_end(r) == []
    assert r.ok("status")["profile_segment"] == 0


def test_kvo_never_runs_above_the_rate_in_force_when_the_vtbi_ends():
    # KVO 1 mL/h is within the profile's highest rate (2 mL/h), but the VTBI ends in the
    # 0.5 mL/h segment: the pump goes on at 0.5 mL/h, the lower of the two.
    r = _clocked()
    spec = _profile([(0, "0.5"), (60, "2")], vtbi_ml="0.05", then="kvo", kvo_ml_h="1")
    _go(r, spec)
    r.run(600, 5)
    assert r.runner.ended and r.pump.program_rate == _ml_h("0.5")
    _runs_at(r, _ml_h("0.5"), 600)
    rec = [rec for rec in r.pump.log.records() if rec[2] in ("rate", "infusion_end")][-2:]
    assert [x[2] for x in rec] == ["rate", "infusion_end"] and rec[1][4] == 1
    assert (rec[0][3], rec[0][4]) == _ml_h("0.5")
    # A titration step down below KVO before the end: the same.
    r = Rig()
    t = {"max_rate_ml_h": "1", "steps": [{"at_min": 2, "rate_ml_h": "0.05"}]}
    _go(r, _titrated(titration=t))
    r.run(2400, 5)  # 2 min at 1 mL/h, then 0.0667 mL at 0.05 mL/h: 80 min
    assert not r.runner.ended
    r.run(3000, 10)
    assert r.runner.ended and r.pump.program_rate == _ml_h("0.05")


def test_after_the_vtbi_a_titrate_is_refused_and_a_bolus_denied():
    r = Rig()
    spec = _titrated(max_24h_ml="50")
    spec["bolus"] = {"volume_ml": "0.1", "rate_ml_h": "2", "lockout_min": 10, "max_per_h": 2}
    _go(r, spec)
    r.run(600, 5)
    assert r.runner.ended
    before = r.snapshot()
    n = r.pump.log.count
    for args in ({"rate_ml_h": "2"}, {"next": True}):
        e = r.send("titrate", args, PIN)["error"]
        assert e["code"] == "refused" and "ended" in e["message"], e
    e = raises(ProgramError, r.runner.titrate, r.clock.ticks(), _ml_h("0.5"), 0)
    assert e.code == "refused"
    assert r.pump.log.count == n  # nothing logged, nothing changed
    e = r.send("bolus")["error"]
    assert e["code"] == "bolus_denied" and e["reason"] == "infusion_ended", e
    e = raises(BolusDenied, r.runner.bolus, r.clock.ticks())
    assert e.reason == "infusion_ended"
    denied = [rec for rec in r.pump.log.records() if rec[2] == "bolus_denied"]
    assert len(denied) == 2 and denied[-1][3] == 8
    assert r.snapshot() == before
    st = r.ok("status")
    assert not st["bolus_allowed"] and st["bolus_denied"] == "infusion_ended"


def test_a_new_program_or_an_explicit_rate_after_the_vtbi_is_obeyed():
    r = Rig()
    _go(r, _titrated())
    r.run(600, 5)
    r.pump.rate("0.5")  # the REPL's explicit rate (engineering): the clinician's own
    assert r.pump.program_rate == _ml_h("0.5")
    r.pump.pause()
    r.program({"rate_ml_h": "1"})  # a new program, while paused: the end is over
    assert not r.runner.ended and not r.ok("status")["end_of_infusion"]
    r.pump.resume()
    _runs_at(r, _ml_h("1"), 600)
