from fakestepper import FakeRetained, FakeStepper, SimClock
from harness import NEAR_WRAP, Oracle, raises
from pump import api
from pump import controller as ctl
from pump import rate as rates

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


def _pump(fill="5"):
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks)
    p.load("bd-plastipak-10ml", fill)
    return p, st, clock


def _run(p, st, seconds, every=1):
    for _ in range(seconds // every):
        st.advance(every * SECOND)
        p.service()


def test_octreotide_hour_through_the_api_is_exact():
    p, st, clock = _pump()
    oracle = Oracle(p.controller.vol)
    p.dose(1632, 500)
    p.start()
    oracle.set(rates.from_dose(1632, 500), clock.elapsed)
    _run(p, st, 3600)
    s = p.status()
    assert s["state"] == "running" and s["rate_ml_h"] == "0.1360"
    assert st.enabled
    assert s["steps"] == st.pulses  # to the step: the batch under way included
    assert st.pulses == oracle.steps(clock.elapsed)
    p.pause()
    assert p.status()["steps"] == st.pulses


def test_pause_resume_and_titration_lose_nothing():
    p, st, clock = _pump()
    oracle = Oracle(p.controller.vol)
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
    assert st.pulses == p.controller.capacity and not st.enabled
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


def test_stop_is_never_refused():
    p, st, clock = _pump()
    for _ in range(2):
        p.stop()  # idle, then stopped: accepted, motor off
        assert p.status()["state"] == "idle" and not st.enabled and not st.running


def test_stop_after_the_executor_fell_behind_says_so():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 2)
    clock.elapsed += SECOND  # the executor issued nothing for a second (a stalled PIO)
    st._t += SECOND
    p.stop()
    s = p.status()
    assert s["state"] == "stopped" and ctl.ALARM_LATE in s["alarms"]
    assert not st.enabled and not st.running


def test_a_rate_change_on_a_late_executor_faults_safely():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 2)
    clock.elapsed += SECOND
    st._t += SECOND
    raises(ctl.PumpFault, p.rate, "20")
    s = p.status()
    assert s["state"] == "stopped" and ctl.ALARM_LATE in s["alarms"]
    assert not st.enabled and not st.running
    p.stop()  # and stop still works


def test_the_late_flag_stops_the_motor():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 1)
    st.late = True  # the PIO stalled on an empty FIFO
    assert p.service() is True
    s = p.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_LATE]
    assert not st.enabled and not st.running


def test_an_executor_ahead_of_its_plan_stops_the_motor():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 3)
    st.last_tick = clock.ticks() + 5000  # claims a step 5 ms in the future: a fast clock
    p.service()
    s = p.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_EARLY]
    assert not st.enabled


def test_an_exception_in_the_service_step_stops_the_motor_first():
    p, st, clock = _pump()
    p.rate("5")
    p.start()
    _run(p, st, 3)

    def broken(max_count=64):
        raise ZeroDivisionError("bug")

    p.controller.next_batch = broken
    st.advance(SECOND)  # room in the ring: the service step plans more
    assert p.service() is False  # the board does not feed its watchdog for this step
    s = p.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_SOFTWARE]
    assert "ZeroDivisionError" in s["alarm_text"][api.ALARM_SOFTWARE]
    assert not st.enabled and not st.running
    assert p.service() is True  # safe and alarmed: the service step is healthy again


def test_a_reset_mid_infusion_comes_back_stopped_and_alarmed():
    clock = SimClock(NEAR_WRAP)
    kept = FakeRetained()
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks, kept)
    p.load("bd-plastipak-10ml", "5")
    p.rate("5")
    p.start()
    _run(p, st, 30)
    delivered = p.status()["delivered_ul"]
    # A soft reset: RAM is gone, the pins keep their state, the scratch registers survive.
    st2 = FakeStepper(clock)
    st2.enabled = True
    p2 = api.Pump(MECH, st2, clock.ticks, kept, "a soft reset")
    s = p2.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_INTERRUPTED]
    text = s["alarm_text"][api.ALARM_INTERRUPTED]
    assert "a soft reset" in text and delivered in text
    assert not st2.enabled and not st2.running
    raises(ctl.TransitionError, p2.start)  # no automatic or one-command restart
    p2.load("bd-plastipak-10ml", "5")  # a new program clears the alarm
    assert p2.status()["alarms"] == []
    # An idle pump reset is not an interruption.
    p3 = api.Pump(MECH, FakeStepper(clock), clock.ticks, kept)
    assert p3.status()["alarms"] == []
