from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, raises
from pump import alarms as al
from pump import api, events
from pump.ticks import ticks_add

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


def _records(log):
    return [(r[2], r[3], r[4]) for r in log.records() if r[2] == "alarm"]


def test_raise_latches_once_and_records_it():
    log = events.EventLog()
    m = al.AlarmManager(log)
    a = m.raise_(NEAR_WRAP, "occlusion", "line blocked")
    assert m.raise_(NEAR_WRAP + 5, "occlusion") is a  # the same alarm, still latched
    assert a.priority == al.HIGH and m.stops_motor()
    assert _records(log) == [("alarm", al.KINDS["occlusion"][0], al.RAISED)]
    raises(al.AlarmError, m.raise_, NEAR_WRAP, "not_an_alarm")


def test_silence_lasts_at_most_two_minutes_across_the_tick_wrap():
    log = events.EventLog()
    m = al.AlarmManager(log)
    m.raise_(NEAR_WRAP, "near_empty")
    assert m.sounding(NEAR_WRAP) == al.MEDIUM
    m.silence(NEAR_WRAP)
    assert m.sounding(ticks_add(NEAR_WRAP, al.SILENCE_US - 1)) == 0
    assert m.sounding(ticks_add(NEAR_WRAP, al.SILENCE_US)) == al.MEDIUM  # sounds again
    assert not m.stops_motor()  # a medium alarm warns, it does not stop delivery


def test_acknowledge_stops_the_sound_but_keeps_the_alarm():
    log = events.EventLog()
    m = al.AlarmManager(log)
    raises(al.AlarmError, m.acknowledge, 0)  # nothing to acknowledge: says so
    m.raise_(0, "near_empty")
    m.raise_(10, "occlusion")
    assert m.sounding(20) == al.HIGH
    assert m.acknowledge(30) == 2
    assert m.sounding(40) == 0 and len(m.active()) == 2 and m.stops_motor()
    raises(al.AlarmError, m.silence, 50)  # nothing sounding
    m.clear(60, "occlusion")
    assert [a.kind for a in m.active()] == ["near_empty"] and not m.stops_motor()
    codes = [b for _, a, b in _records(log)]
    assert codes == [al.RAISED, al.RAISED, al.ACKNOWLEDGED, al.ACKNOWLEDGED, al.CLEARED]


def test_a_new_alarm_sounds_even_while_silenced():
    m = al.AlarmManager(events.EventLog())
    m.raise_(0, "near_empty")
    m.silence(0)
    m.raise_(1000, "occlusion")
    assert m.sounding(2000) == al.HIGH


def test_history_keeps_active_alarms_and_the_newest_cleared():
    m = al.AlarmManager(events.EventLog(), keep=3)
    for i in range(5):
        m.raise_(i, "occlusion")
        m.clear(i)
    m.raise_(9, "near_empty")
    assert len(m.history) == 3 and m.active()[0].kind == "near_empty"


def test_the_pump_reports_acknowledges_and_silences():
    clock = SimClock(NEAR_WRAP)
    st = FakeStepper(clock)
    p = api.Pump(MECH, st, clock.ticks)
    p.load("bd-plastipak-10ml", "0.05")
    p.rate("10")
    p.start()
    for _ in range(60):
        st.advance(SECOND)
        p.service()
    assert p.status()["alarms"] == ["reservoir_empty"]
    near, empty = p.alarms()  # 50 uL at 10 mL/h: under 30 min left from the start
    assert near["kind"] == "near_empty" and near["priority"] == "medium"
    assert not near["active"]  # the warning came true: the empty alarm replaces it
    assert empty["priority"] == "high" and empty["active"] and not empty["acknowledged"]
    assert empty["to_restart"] == "load a new syringe"
    assert p.sounding() == al.HIGH
    p.silence()
    assert p.sounding() == 0
    assert p.ack() == 1 and p.alarms()[1]["acknowledged"]
    p.load("bd-plastipak-10ml", "5")  # the restart condition: a new syringe
    assert p.status()["alarms"] == [] and p.alarms()[1]["active"] is False
