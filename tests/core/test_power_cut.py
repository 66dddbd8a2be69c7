# A power cut loses RAM and the watchdog's scratch registers: only the flash log survives.
# The pump must not come back idle as if nothing had happened: the log says a program was
# running (or paused), so it comes back stopped, alarmed, with what was delivered.

from ramnor import RamNor

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api, events, logrec
from pump.logring import LogRing

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


def _boot(nor, clock):
    st = FakeStepper(clock)
    st.enabled = True  # whatever the pins did at the cut
    log = LogRing(nor, clock.ticks())
    p = api.Pump(MECH, st, clock.ticks, log=log)
    return p, st


def _loaded(nor, clock):
    p, st = _boot(nor, clock)
    p.load("bd-plastipak-10ml", "10")
    return p, st


def _run(p, st, seconds):
    for _ in range(seconds):
        st.advance(SECOND)
        p.service()


def test_a_power_cut_while_running_comes_back_stopped_and_alarmed():
    nor, clock = RamNor(8), SimClock(NEAR_WRAP)
    p, st = _loaded(nor, clock)
    p.rate("5")
    p.start()
    _run(p, st, 150)  # two DELIVERED records
    steps = p.status()["steps"]
    p2, st2 = _boot(nor, clock)  # the cut: nothing but the flash survives
    s = p2.status()
    assert s["state"] == "stopped" and s["alarms"] == [api.ALARM_INTERRUPTED], s
    text = s["alarm_text"][api.ALARM_INTERRUPTED]
    assert "power" in text and "running" in text
    # At least what the last DELIVERED record says: within a minute of the truth.
    logged = int(text.split("(")[1].split()[0])
    assert 0 < logged <= steps and steps - logged <= 5 * 60 * 10, (logged, steps)
    assert not st2.enabled and not st2.running
    p2.load("bd-plastipak-10ml", "10")  # a new program clears it
    assert p2.status()["alarms"] == []
    # Once reported, the next boot does not report it again.
    p3, _ = _boot(nor, clock)
    assert p3.status()["alarms"] == []


def test_a_power_cut_while_paused_is_reported_and_an_idle_one_is_not():
    nor, clock = RamNor(8), SimClock(NEAR_WRAP)
    p, st = _loaded(nor, clock)
    p.rate("5")
    p.start()
    _run(p, st, 10)
    p.pause()
    p2, _ = _boot(nor, clock)
    s = p2.status()
    assert (
        s["alarms"] == [api.ALARM_INTERRUPTED]
        and "paused" in s["alarm_text"][api.ALARM_INTERRUPTED]
    )
    nor2 = RamNor(8)
    q, st = _loaded(nor2, clock)
    q.rate("5")
    q.start()
    _run(q, st, 10)
    q.stop()
    q2, _ = _boot(nor2, clock)
    assert q2.status()["alarms"] == [] and q2.state == "idle"


def test_the_boot_record_says_it_was_a_power_cut_mid_program():
    nor, clock = RamNor(8), SimClock(NEAR_WRAP)
    p, st = _loaded(nor, clock)
    p.rate("5")
    p.start()
    _run(p, st, 70)
    p2, _ = _boot(nor, clock)
    boots = [r for r in _records(p2.log) if r[0] == events.BOOT]
    assert boots[-1][1] == events.CAUSE_POWER_ON and boots[-1][2] > 0


def _records(log):
    out = []
    seq = 0
    while True:
        page = log.read(seq, 64)
        if not page:
            return out
        for off in range(0, len(page), 20):
            code, _, a, b = logrec.unpack(page, off + 4)
            out.append((code, a, b))
        seq = int.from_bytes(page[-20:-16], "little") + 1
