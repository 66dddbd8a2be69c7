# The service step's period follows what the program needs: 20 ms at fast rates (the step
# ring holds under a second), 100 ms idle and at subcutaneous rates (the load cell's 10 Hz).
from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


def _pump():
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks, "bd-plastipak-10ml", "10")
    calls = []
    p.follow_period(calls.append)
    return p, st, calls


def test_the_period_follows_the_rate_and_the_state():
    p, st, calls = _pump()
    assert calls == [api.SERVICE_SLOW_MS]  # idle: the hook is called at once
    p.dose(1632, 500)  # 0.136 mL/h: about one step a second
    p.start()
    assert p.service_ms() == api.SERVICE_SLOW_MS and calls == [api.SERVICE_SLOW_MS]
    p.rate("100")  # about 670 steps/s
    assert calls[-1] == api.SERVICE_MS == p.service_ms()
    p.pause()
    assert calls[-1] == api.SERVICE_SLOW_MS
    p.resume()
    assert calls[-1] == api.SERVICE_MS
    p.stop()
    assert calls[-1] == api.SERVICE_SLOW_MS
    assert calls == [100, 20, 100, 20, 100]


def test_the_boundary_is_fifty_steps_a_second():
    p, st, calls = _pump()
    vn, vd = p._ctl.vol  # nL per step
    # 50 steps/s exactly is not fast; one nL/h more is.
    p.set_rate_nl_h(180000 * vn, vd)
    p.start()
    assert p.service_ms() == api.SERVICE_SLOW_MS
    p.set_rate_nl_h(180000 * vn + vd, vd)
    assert p.service_ms() == api.SERVICE_MS and calls[-1] == api.SERVICE_MS


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
