# When a program's schedule starts: its titration steps count from the moment delivery of
# that program begins (the start after a set while idle, the resume after a set while paused),
# whichever way the pump is started or resumed; a pause after that does not restart it. A
# profile follows local time from its set, in every state the program can start from.
from progrig import Rig

from pump import rate as rates

MIDNIGHT = 1798761600  # 2027-01-01T00:00:00Z


def _ml_h(s):
    return rates.from_ml_per_h(*rates.parse_decimal(s))


def _stepped(at_min=5, basal="0.5", to="2"):
    t = {"max_rate_ml_h": to, "steps": [{"at_min": at_min, "rate_ml_h": to}]}
    return {"rate_ml_h": basal, "titration": t}


def _steps_at(r, seconds, basal="0.5", to="2"):
    """The step is due `seconds` from now, to the service step (1 s)."""
    r.run(seconds - 1)
    assert r.pump.program_rate == _ml_h(basal) and r.ok("status")["titration_step"] == 0
    r.run(1)
    assert r.pump.program_rate == _ml_h(to) and r.ok("status")["titration_step"] == 1


def test_a_program_set_while_paused_steps_from_the_resume():
    r = Rig()
    r.program({"rate_ml_h": "1"})
    r.ok("start")
    r.run(600)
    r.ok("pause")
    r.run(120)
    r.program(_stepped())
    r.run(600)  # paused past the step's 5 min: the new program has not begun
    st = r.ok("status")
    assert st["state"] == "paused" and st["titration_step"] == 0
    assert r.pump.program_rate == _ml_h("0.5")
    r.ok("resume")
    _steps_at(r, 300)


def test_the_documented_way_on_after_the_vtbi_runs_the_new_program_s_steps():
    # pause, program.set, resume (PROTOCOL.md, End of infusion).
    r = Rig()
    r.program({"rate_ml_h": "1", "vtbi_ml": "0.1", "then": "kvo", "kvo_ml_h": "0.1"})
    r.ok("start")
    r.run(600, 5)
    assert r.runner.ended
    r.ok("pause")
    r.program(_stepped(at_min=10))
    r.run(60)
    r.ok("resume")
    _steps_at(r, 600)


def test_a_start_or_resume_at_the_repl_begins_the_schedule_too():
    r = Rig()
    r.program(_stepped())
    r.run(900)  # idle: the schedule counts from the start, not from the set
    r.pump.start()
    _steps_at(r, 300)
    r.pump.pause()
    r.program(_stepped(basal="0.25", to="1"))
    r.run(30)
    r.pump.resume()
    _steps_at(r, 300, "0.25", "1")


def test_a_pause_after_the_start_does_not_restart_the_schedule():
    r = Rig()
    r.program(_stepped())
    r.ok("start")
    r.run(100)
    r.ok("pause")
    r.run(100)
    r.ok("resume")  # the same program: its schedule runs on from its start
    _steps_at(r, 100)


def _profile():
    # 00:00 1 mL/h, 01:00 2 mL/h, 02:00 0.5 mL/h (UTC).
    segs = ((0, "1"), (60, "2"), (120, "0.5"))
    return {"utc_offset_min": 0, "profile": [{"start_min": a, "rate_ml_h": v} for a, v in segs]}


def test_a_profile_set_while_idle_starts_in_the_segment_of_the_start():
    r = Rig()
    r.runner.set_clock(r.clock.ticks(), MIDNIGHT + 1800)  # 00:30
    r.program(_profile())
    assert r.runner._seg == 0
    r.run(7200, 5)  # idle to 02:30: past 01:00 and 02:00
    r.ok("start")
    r.run(60)
    assert r.runner._seg == 2 and r.pump.program_rate == _ml_h("0.5")
    assert r.ok("status")["profile_segment"] == 2


def test_a_profile_set_while_paused_resumes_in_the_segment_in_force():
    r = Rig()
    r.runner.set_clock(r.clock.ticks(), MIDNIGHT + 1800)
    r.program({"rate_ml_h": "1"})
    r.ok("start")
    r.run(60)
    r.ok("pause")
    r.program(_profile())
    r.run(5400, 5)  # paused to 02:01
    r.ok("resume")
    r.run(60)
    assert r.runner._seg == 2 and r.pump.program_rate == _ml_h("0.5")


def test_a_program_is_set_only_while_idle_or_paused():
    r = Rig()
    r.program({"rate_ml_h": "1"})
    r.ok("start")
    for stop in (False, True):
        if stop:
            r.ok("stop")
        e = r.send("program.validate", {"program": _stepped()})["error"]
        assert e["code"] == "refused" and "idle or paused" in e["message"], e
    assert r.pump.state == "stopped" and r.ok("status")["program"]["rate_ml_h"] == "1.0000"
