from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, Oracle, raises
from pump import api
from pump import controller as ctl
from pump import rate as rates

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


def _pump(fill="5"):
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks, "bd-plastipak-10ml", fill)
    return p, st, clock


def _run(p, st, seconds, every=1):
    for _ in range(seconds // every):
        st.advance(every * SECOND)
        p.service()


def test_octreotide_hour_through_the_api_is_exact():
    p, st, clock = _pump()
    oracle = Oracle(p._ctl.vol)
    p.dose(1632, 500)
    p.start()
    oracle.set(rates.from_dose(1632, 500), clock.elapsed)
    _run(p, st, 3600)
    s = p.status()
    assert s["state"] == "running" and s["rate_ml_h"] == "0.1360"
    assert st.enabled
    # Status counts only batches the PIO reported done; the one in flight shows up later.
    assert 0 <= st.pulses - s["steps"] < 64
    assert st.pulses == oracle.steps(clock.elapsed)
    p.pause()
    assert p.status()["steps"] == st.pulses


def test_pause_resume_and_titration_lose_nothing():
    p, st, clock = _pump()
    oracle = Oracle(p._ctl.vol)
    p.rate("5")
    p.start()
    oracle.set(rates.from_ml_per_h(5), clock.elapsed)
    st.advance(1234567)
    p.pause()
    oracle.set(None, clock.elapsed)
    assert not st.enabled and p.status()["state"] == "paused"
    _run(p, st, 100)
    p.resume()
    oracle.set(rates.from_ml_per_h(5), clock.elapsed)
    _run(p, st, 30)
    st.advance(777)
    oracle.set(None, clock.elapsed)  # the change halts the motor until the PIO restarts
    p.dose(2167, 500)
    oracle.set(rates.from_dose(2167, 500), clock.elapsed)
    _run(p, st, 600)
    st.advance(4321)
    p.stop()
    assert st.pulses == oracle.steps(clock.elapsed)
    assert p.status()["state"] == "stopped" and not st.enabled


def test_bad_commands_change_nothing():
    p, st, clock = _pump()
    raises(rates.RateError, p.rate, 0.136)  # a float: refused, give a string
    raises(rates.RateError, p.rate, "1000")
    raises(ctl.TransitionError, p.start)  # no rate yet
    p.rate("1")
    p.start()
    _run(p, st, 10)
    before = p.status()
    raises(rates.RateError, p.rate, "0")
    raises(ctl.TransitionError, p.resume)
    raises(ctl.TransitionError, p.load, "bd-plastipak-20ml", "10")
    assert p.status() == before and st.running


def test_empty_syringe_completes_and_disables_the_motor():
    p, st, clock = _pump(fill="0.05")
    p.rate("10")
    p.start()
    _run(p, st, 60)
    s = p.status()
    assert s["state"] == "complete" and s["alarms"] == [ctl.ALARM_EMPTY]
    assert st.pulses == p._ctl.capacity and not st.enabled
    assert s["remaining_ul"].startswith("0.0")


def test_a_starved_step_ring_stops_with_an_alarm():
    p, st, clock = _pump()
    p.rate("100")
    p.start()
    st.advance(3600 * SECOND)  # service never ran: the queued batches ran out
    p.service()
    s = p.status()
    assert s["state"] == "stopped" and api.ALARM_UNDERRUN in s["alarms"]
    assert not st.running


def test_a_second_syringe_starts_from_zero():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 30)
    p.stop()
    first = st.pulses
    p.load("bd-plastipak-20ml", "15")
    p.rate("5")
    p.start()
    _run(p, st, 30)
    p.stop()
    s = p.status()
    assert s["state"] == "stopped" and s["syringe"] == "bd-plastipak-20ml"
    assert s["steps"] == st.pulses - first > 0
