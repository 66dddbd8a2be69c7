import sys

from harness import NEAR_WRAP, Rig, drive_vol, raises
from pump import controller as ctl
from pump import rate
from pump.controller import Controller, TransitionError

VOL = drive_vol()
OCTREOTIDE = rate.from_dose(1632, 500)


def _snapshot(p):
    return (p.state, p.rate, p.delivered, list(p.alarms), p.log.count)


def test_invalid_transitions_are_refused_and_change_nothing():
    p = Controller(VOL, 1000)
    for action in (p.pause, p.resume):
        before = _snapshot(p)
        e = raises(TransitionError, action, 0)
        assert "idle" in str(e)
        assert _snapshot(p) == before
    p.stop(0)  # stop is never refused; on an idle pump it changes nothing
    assert _snapshot(p) == before
    e = raises(TransitionError, p.start, 0)
    assert "without a rate" in str(e)
    p.set_rate(OCTREOTIDE, 0)
    p.start(0)
    before = _snapshot(p)
    raises(TransitionError, p.start, 5)
    raises(TransitionError, p.resume, 5)
    assert _snapshot(p) == before
    p.stop(10)
    for action in (p.start, p.pause, p.resume):
        raises(TransitionError, action, 20)
    before = _snapshot(p)
    p.stop(20)
    assert _snapshot(p) == before
    raises(TransitionError, p.set_rate, OCTREOTIDE, 20)
    assert p.state == ctl.STOPPED


def test_state_machine_walks_through_the_normal_path():
    r = Rig(VOL)
    r.start(OCTREOTIDE)
    assert r.pump.state == ctl.RUNNING
    r.run(60000000)
    r.pause()
    assert r.pump.state == ctl.PAUSED
    assert r.pump.next_batch() is None
    r.resume()
    r.run(60000000)
    r.pump.stop(r.tick)
    assert r.pump.state == ctl.STOPPED
    names = [rec[2] for rec in r.pump.log.records()]
    assert names == ["rate", "start", "pause", "resume", "stop"]


def test_empty_syringe_completes_with_an_alarm_and_no_extra_step():
    r = Rig(VOL, capacity=500)
    r.start(rate.from_ml_per_h(50))
    r.run(3600000000)
    assert r.steps == 500
    assert r.pump.state == ctl.COMPLETE
    assert r.pump.alarms == [ctl.ALARM_EMPTY]
    assert r.pump.next_batch() is None


def test_time_going_backwards_is_refused():
    p = Controller(VOL, 1000)
    p.set_rate(OCTREOTIDE, NEAR_WRAP)
    p.start(NEAR_WRAP)
    raises(TransitionError, p.pause, NEAR_WRAP - 10)
    assert p.state == ctl.RUNNING


def test_invalid_rate_is_refused_before_anything_changes():
    p = Controller(VOL, 1000)
    raises(ValueError, p.set_rate, (10**15, 1), 0)
    assert p.rate is None and p.log.count == 0


def _steps_under_heap_lock(r):
    import micropython

    p = Controller(VOL, 1 << 24)
    p.set_rate(r, 0)
    p.start(0)
    p.next_batch()
    total = 0
    micropython.heap_lock()
    try:
        for _ in range(300):
            b = p.next_batch(16)
            p.executed(b[0], 0)
            total += b[0]
    finally:
        micropython.heap_unlock()
    return total


def test_step_path_does_not_allocate():
    # On MicroPython, lock the heap around the per-step work: any allocation raises. The HIL
    # suite runs this on the rp2 image, where small ints are 31-bit.
    if sys.implementation.name != "micropython":
        return  # CPython cannot lock its heap; test_limbs_stay_small covers the int sizes
    for r in (rate.from_dose(1633, 300), rate.from_ml_per_h(100), rate.from_ml_per_h(1, 100)):
        assert _steps_under_heap_lock(r) >= 300
