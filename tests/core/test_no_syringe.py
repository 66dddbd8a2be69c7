# After any reset the pump has no syringe until someone loads one: no LOAD is logged at
# boot, the status shows no syringe and no remaining volume, and a rate, a program and a
# start are refused with a clear error (REPL API and protocol) that changes nothing.
from progrig import PIN, Rig

from fakestepper import FakeRetained, FakeStepper, SimClock
from harness import NEAR_WRAP, raises
from pump import api, events
from pump import controller as ctl

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


def _codes(p, since=0):
    return [r[2] for r in p.log.records() if r[0] >= since]


def _refused(fn, *args):
    e = raises(ctl.TransitionError, fn, *args)
    assert ctl.NO_SYRINGE in str(e), e


def _run(p, st, seconds):
    for _ in range(seconds):
        st.advance(SECOND)
        p.service()


def test_a_boot_loads_nothing_and_refuses_to_start():
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks)
    assert _codes(p) == ["boot"]  # no made-up LOAD of a full syringe
    s = p.status()
    assert s["state"] == "idle" and s["syringe"] is None and s["remaining_ul"] is None
    assert s["steps"] == 0 and s["time_remaining_s"] is None
    n = p.log.count
    _refused(p.rate, "5")
    _refused(p.dose, 1632, 500)  # and no PROGRAM record for a dose that was refused
    _refused(p.set_rate_nl_h, 136000)
    _refused(p.start)
    _refused(p.resume)
    p.stop()  # never refused
    assert p.log.count == n and p.status()["state"] == "idle" and not st.enabled
    p.load("bd-plastipak-10ml", "5")
    assert _codes(p)[-1] == "load" and p.status()["remaining_ul"] == "5000.000"
    p.rate("5")
    p.start()
    _run(p, st, 2)
    assert p.status()["state"] == "running" and st.pulses > 0


def test_every_reset_comes_back_without_the_syringe():
    clock = SimClock(NEAR_WRAP)
    kept = FakeRetained()
    p = api.Pump(MECH, FakeStepper(clock), clock.ticks, retained=kept)
    p.load("bd-plastipak-10ml", "5")
    log = p.log
    # An idle pump reset (soft, watchdog): no alarm, and still no syringe.
    for cause in ("a soft reset", "a watchdog reset"):
        n = log.count
        p = api.Pump(MECH, FakeStepper(clock), clock.ticks, retained=kept, cause=cause, log=log)
        assert _codes(p, n) == ["boot"]
        s = p.status()
        assert s["syringe"] is None and s["remaining_ul"] is None and s["alarms"] == []
        _refused(p.start)
    # A reset mid-infusion: alarmed as before, and no syringe either.
    p.load("bd-plastipak-10ml", "5")
    p.rate("5")
    st = p._motion._st
    p.start()
    _run(p, st, 30)
    steps = p.status()["steps"]
    n = log.count
    p = api.Pump(
        MECH, FakeStepper(clock), clock.ticks, retained=kept, cause="a soft reset", log=log
    )
    after = [r for r in log.records() if r[0] >= n]
    assert [r[2] for r in after] == ["boot", "stop", "alarm"], after
    assert after[0][3:] == (events.CAUSE_SOFT, steps)
    s = p.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_INTERRUPTED]
    assert s["syringe"] is None and "(%d steps)" % steps in s["alarm_text"][api.ALARM_INTERRUPTED]
    _refused(p.start)
    _refused(p.rate, "5")
    # Reported once: the next reset is not an interruption.
    p = api.Pump(
        MECH, FakeStepper(clock), clock.ticks, retained=kept, cause="a soft reset", log=log
    )
    assert p.status()["alarms"] == []
    p.load("bd-plastipak-10ml", "10")
    p.rate("5")
    p.start()
    assert p.status()["state"] == "running"


def test_the_protocol_refuses_a_program_and_a_start_without_a_syringe():
    r = Rig(fill=None)
    r.ok("pin.change", {"new": PIN})
    before = r.snapshot()
    spec = {"rate_ml_h": "0.136"}
    resp = r.send("program.validate", {"program": spec})
    assert not resp["ok"] and resp["error"]["code"] == "refused", resp
    assert ctl.NO_SYRINGE in resp["error"]["message"]
    resp = r.send("start")
    assert not resp["ok"] and resp["error"]["code"] == "refused", resp
    assert "cannot start: " + ctl.NO_SYRINGE == resp["error"]["message"]
    assert r.snapshot() == before
    st = r.ok("status")
    assert st["syringe"] is None and st["remaining_ul"] is None and st["state"] == "idle"
    r.ok("load", {"syringe": "bd-plastipak-10ml", "fill_ml": "5"}, PIN)
    r.program(spec)
    assert r.ok("start") == {"state": "running"}
    r.run(60)
    st = r.ok("status")
    assert st["syringe"] == "bd-plastipak-10ml" and st["steps"] > 0
