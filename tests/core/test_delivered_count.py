# Delivered is reported to the step: status(), the per-minute DELIVERED records, the PAUSE
# record and the count kept across a reset say the steps the executor really issued, not
# its count of whole batches (64 steps, over a minute at CSCI rates).
from ramnor import RamNor

from fakestepper import FakeRetained, FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api, events, logrec
from pump.logring import LogRing

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000


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


def _pump(clock, kept=None):
    st = FakeStepper(clock)
    log = LogRing(RamNor(8), clock.ticks())
    p = api.Pump(MECH, st, clock.ticks, retained=kept, log=log)
    p.load("bd-plastipak-10ml", "10")
    return p, st


def test_status_and_the_records_count_every_step_at_csci_rates():
    clock = SimClock(NEAR_WRAP)
    p, st = _pump(clock)
    p.dose(1632, 500)  # 0.136 mL/h: about one step a second
    p.start()
    seen = []
    for _ in range(150):
        st.advance(SECOND // 2)  # the service step's calm period
        p.service()
        s = p.status()
        assert s["steps"] == st.pulses, (s["steps"], st.pulses)
        seen.append(s["steps"])
    assert seen[-1] > 64 and max(seen[i + 1] - seen[i] for i in range(149)) <= 1
    vn, vd = p.controller.vol
    (rn, rd), left = p.controller.rate, p.controller.capacity - st.pulses
    assert s["time_remaining_s"] == left * vn * 3600 * rd // (vd * rn)
    delivered = [(a, b) for code, a, b in _records(p.log) if code == events.DELIVERED]
    assert len(delivered) == 1
    nl, steps = delivered[0]
    # the record is written at the service step at the minute: 120 half-second steps in
    assert steps == seen[119] and 50 < steps < 64 and nl == steps * vn // vd
    st.advance(SECOND // 4)
    p.pause()
    pause = [(a, b) for code, a, b in _records(p.log) if code == events.PAUSE]
    assert pause == [(st.pulses, 0)] and p.status()["steps"] == st.pulses


def test_the_count_kept_across_a_reset_is_to_the_step():
    clock = SimClock(NEAR_WRAP)
    kept = FakeRetained()
    p, st = _pump(clock, kept)
    p.dose(1632, 500)
    p.start()
    for _ in range(90):
        st.advance(SECOND)
        p.service()
    issued = st.pulses
    assert issued % 64 not in (0, 1)  # mid-batch
    p2 = api.Pump(
        MECH, FakeStepper(clock), clock.ticks, retained=kept, cause="a watchdog reset", log=p.log
    )
    text = p2.status()["alarm_text"][api.ALARM_INTERRUPTED]
    assert "(%d steps)" % issued in text, (issued, text)
