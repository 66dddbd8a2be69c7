# The service step's period follows what the program needs: 20 ms at fast rates (the step
# ring holds under a second), 100 ms from 5 steps/s (the load cell's 10 Hz), 500 ms below
# that (the CSCI rates) and while the motor is off, unless an alarm sounds or a bolus runs.
from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


def _pump():
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks)
    p.load("bd-plastipak-10ml", "10")
    calls = []
    p.follow_period(calls.append)
    return p, st, calls


def test_the_period_follows_the_rate_and_the_state():
    p, st, calls = _pump()
    assert calls == [api.SERVICE_CALM_MS]  # idle: the hook is called at once
    p.dose(1632, 500)  # 0.136 mL/h: about one step a second
    p.start()
    assert p.service_ms() == api.SERVICE_CALM_MS and calls == [api.SERVICE_CALM_MS]
    p.rate("100")  # about 670 steps/s
    assert calls[-1] == api.SERVICE_MS == p.service_ms()
    p.pause()
    assert calls[-1] == api.SERVICE_CALM_MS
    p.resume()
    assert calls[-1] == api.SERVICE_MS
    p.rate("5")  # about 34 steps/s
    assert calls[-1] == api.SERVICE_SLOW_MS == p.service_ms()
    p.stop()
    assert calls[-1] == api.SERVICE_CALM_MS
    assert calls == [500, 20, 500, 20, 100, 500]


def test_the_boundary_is_fifty_steps_a_second():
    p, st, calls = _pump()
    vn, vd = p.controller.vol  # nL per step
    # 50 steps/s exactly is not fast; one nL/h more is.
    p.set_rate_nl_h(180000 * vn, vd)
    p.start()
    assert p.service_ms() == api.SERVICE_SLOW_MS
    p.set_rate_nl_h(180000 * vn + vd, vd)
    assert p.service_ms() == api.SERVICE_MS and calls[-1] == api.SERVICE_MS


def test_the_calm_boundary_is_five_steps_a_second():
    p, st, calls = _pump()
    vn, vd = p.controller.vol
    # Just under 5 steps/s is calm; 5 steps/s exactly is not.
    p.set_rate_nl_h(18000 * vn - vd, vd)
    p.start()
    assert p.service_ms() == api.SERVICE_CALM_MS and calls[-1] == api.SERVICE_CALM_MS
    p.set_rate_nl_h(18000 * vn, vd)
    assert p.service_ms() == api.SERVICE_SLOW_MS and calls[-1] == api.SERVICE_SLOW_MS


def test_a_sounding_alarm_keeps_the_100_ms_step():
    p, st, calls = _pump()
    p.dose(1632, 500)
    p._alarm_text(api.ALARM_NEAR_EMPTY, "test")  # sounding until acknowledged
    p.start()
    assert p.service_ms() == api.SERVICE_SLOW_MS and calls[-1] == api.SERVICE_SLOW_MS
    p.pause()
    assert calls[-1] == api.SERVICE_SLOW_MS  # the motor off, the alarm still sounding
    p.ack()  # acknowledged: quiet; the next command that moves the motor calms the step
    assert calls[-1] == api.SERVICE_SLOW_MS
    p.resume()
    assert calls[-1] == api.SERVICE_CALM_MS == p.service_ms()


def test_a_bolus_keeps_the_100_ms_step():
    p, st, calls = _pump()
    p.dose(1632, 500)
    p.start()
    assert calls[-1] == api.SERVICE_CALM_MS
    vn, vd = p.controller.vol
    p.boost((18000 * vn * 4, vd), 2000000)  # 20 steps/s for 2 s
    assert p.service_ms() == api.SERVICE_SLOW_MS and calls[-1] == api.SERVICE_SLOW_MS


def test_the_service_step_never_calls_the_hook():
    p, st, calls = _pump()
    p.rate("100")
    p.start()
    n = len(calls)
    st.late = True  # the service step stops the motor with an alarm
    p.service()
    assert p.state == "stopped" and len(calls) == n
    p.stop()  # the next command brings the period down
    assert calls[-1] == api.SERVICE_SLOW_MS


def test_a_failing_hook_stops_the_pump():
    p, st, calls = _pump()

    def broken(ms):
        raise OSError("no timer")

    p.follow_period(calls.append)
    p._on_period = broken
    p.rate("100")
    try:
        p.start()
    except OSError:
        pass
    else:
        raise AssertionError("start should have raised")
    assert p.state == "stopped" and not st.enabled
    assert "software_fault" in p.status()["alarms"]


def test_a_service_held_off_by_status_still_counts_for_the_watchdog():
    # A host polling status() in a loop holds off every service step (it comes inside a
    # command), but status() runs the step itself: service() then says a clean step ran, so
    # the board feeds its watchdog. A command that does not run the step does not count.
    p, st, calls = _pump()
    p.dose(1632, 500)
    p.start()
    p._busy += 1  # the timer comes in the middle of a command
    try:
        assert p.service() is False  # no step ran since the last service
        p._busy -= 1
        p.status()  # runs the step cleanly
        p._busy += 1
        assert p.service() is True  # ... and that counts, once
        assert p.service() is False
    finally:
        p._busy -= 1
    assert p.service() is True  # not held off: it runs the step
    p._busy += 1
    try:
        assert p.service() is False  # its own clean step is not counted twice
    finally:
        p._busy -= 1
