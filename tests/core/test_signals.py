# pump.signals: the alarm buzzer and LED patterns after IEC 60601-1-8 (pulse and burst timing,
# the light's flashing), what the annunciator plays for the alarm manager's state
# (acknowledge, 2-minute silence, cleared), and the recorded timeline a host keeps.
import sys

from fakestepper import FakeRetained, FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import alarms as al
from pump import app, events, protocol
from pump import signals as sig
from pump.ticks import ticks_add

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
MIN = 60000000  # us


def _within(v, rng):
    return rng[0] <= v <= rng[1]


def _pin_pulses(buf, slots):
    """Reads a tone buffer as the pin does (bit i = level in 1 ms slot i, LSB first), and
    returns (start_ms, width_ms, half-periods high) per pulse: a pulse is a run of toggling
    with no gap longer than one slot."""
    out = []
    start = last = -10
    highs = 0
    for i in range(slots):
        if buf[i >> 3] >> (i & 7) & 1:
            if i - last > 2:
                if start >= 0:
                    out.append((start, last + 2 - start, highs))
                start, highs = i, 0
            last = i
            highs += 1
    if start >= 0:
        out.append((start, last + 2 - start, highs))
    return out


def test_every_priority_keeps_to_the_iec_table():
    for p in (al.HIGH, al.MEDIUM, al.LOW):
        iec = sig.IEC[p]
        pulses = sig.pulses(p)
        assert iec["pulses"][0] <= len(pulses) <= iec["pulses"][1], (p, pulses)
        for _, w in pulses:
            assert _within(w, iec["td_ms"]), (p, w)
        gaps = [pulses[i + 1][0] - pulses[i][0] - pulses[i][1] for i in range(len(pulses) - 1)]
        end = pulses[-1][0] + pulses[-1][1]
        assert _within(sig.PERIOD_MS[p] - end, iec["tb_ms"]), (p, end)  # interburst
        if p == al.HIGH:  # 3 + 2, pause, 3 + 2: x, x, 2x+td, x, pause, x, x, 2x+td, x
            x = gaps[0]
            td = pulses[0][1]
            assert _within(x, iec["x_ms"])
            assert gaps == [x, x, 2 * x + td, x, gaps[4], x, x, 2 * x + td, x], gaps
            assert _within(gaps[4], iec["pause_ms"])
        else:
            for g in gaps:
                assert _within(g, iec["y_ms"]), (p, gaps)


def test_high_is_ten_pulses_medium_three_low_two():
    assert al.HIGH == 3  # firmware/_boot.py plays 3 without importing pump.alarms
    assert [len(sig.pulses(p)) for p in (al.HIGH, al.MEDIUM, al.LOW)] == [10, 3, 2]
    assert sig.pulses(0) == []


def test_the_tone_buffer_plays_the_pulses_at_the_tone_frequency():
    assert _within(sig.TONE_HZ, sig.IEC_TONE_HZ)
    for p in (al.HIGH, al.MEDIUM, al.LOW):
        n = sig.PERIOD_MS[p]
        buf = bytearray(n // 8)
        sig.tone_bits(p, buf)
        got = _pin_pulses(buf, n)
        assert [(s, w) for s, w, _ in got] == sig.pulses(p), p
        for _, w, highs in got:  # one high half-period per cycle: w ms at TONE_HZ
            assert highs * 1000 == w * sig.TONE_HZ, (w, highs)
    buf = bytearray(b"\xff" * 16)
    sig.tone_bits(0, buf)
    assert buf == bytearray(16)  # quiet: the pin stays low


def test_a_tone_buffer_of_the_wrong_size_is_refused():
    try:
        sig.tone_bits(al.HIGH, bytearray(100))
    except ValueError:
        return
    raise AssertionError("a short buffer was filled")


def test_periods_are_powers_of_two_slots_for_the_dma_ring():
    for p in (al.HIGH, al.MEDIUM, al.LOW):
        n = sig.PERIOD_MS[p] // 8  # bytes
        assert n & (n - 1) == 0 and n <= 32768, p
        m = sig.light_bytes(p)
        assert m & (m - 1) == 0 and m >= 4, p


def _light(p):
    buf = bytearray(sig.light_bytes(p))
    sig.light_bits(p, buf)
    slots = len(buf) * 4  # 2 bits per slot
    return [buf[i >> 2] >> (2 * (i & 3)) & 3 for i in range(slots)]


def test_the_light_flashes_red_for_high_yellow_for_medium_steady_for_low():
    both = sig.RED | sig.GREEN
    for p, colour in ((al.HIGH, sig.RED), (al.MEDIUM, both)):
        levels = _light(p)
        assert set(levels) == {0, colour}, (p, set(levels))
        on = levels.count(colour)
        period_ms = len(levels) * sig.LIGHT_SLOT_MS
        mhz = 1000000 // period_ms
        assert _within(mhz, sig.IEC[p]["flash_mhz"]), (p, mhz)
        duty = 100 * on // len(levels)
        assert _within(duty, sig.IEC_DUTY_PCT), (p, duty)
        # one flash per period: on, then off
        assert levels[:on] == [colour] * on
    assert set(_light(al.LOW)) == {both}  # steady yellow
    assert set(_light(0)) == {0}


class _Driver:
    def __init__(self):
        self.shown = []

    def show(self, sound, light):
        self.shown.append((sound, light))


def test_the_annunciator_follows_ack_silence_and_clear():
    log = events.EventLog()
    m = al.AlarmManager(log)
    d = _Driver()
    t = NEAR_WRAP
    a = sig.Annunciator(m, d, t)
    assert d.shown == [(0, 0)]  # quiet and dark from the start
    m.raise_(t, al.OCCLUSION)
    assert d.shown[-1] == (al.HIGH, al.HIGH)  # at once, not at the next service step
    m.silence(t)
    assert d.shown[-1] == (0, al.HIGH)  # the light keeps flashing while silenced
    a.update(ticks_add(t, 2 * MIN - 1))
    assert d.shown[-1] == (0, al.HIGH)
    a.update(ticks_add(t, 2 * MIN))  # across the tick wrap: sounds again after 2 min
    assert d.shown[-1] == (al.HIGH, al.HIGH)
    m.acknowledge(ticks_add(t, 2 * MIN))
    assert d.shown[-1] == (0, al.HIGH)  # acknowledged: quiet, still flashing red
    m.raise_(t, al.NEAR_EMPTY)
    assert d.shown[-1] == (al.MEDIUM, al.HIGH)  # the medium one sounds; the light shows high
    n = len(d.shown)
    a.update(t)
    assert len(d.shown) == n  # no change, no call
    m.clear(t, al.OCCLUSION)
    assert d.shown[-1] == (al.MEDIUM, al.MEDIUM)
    m.clear(t)
    assert d.shown[-1] == (0, 0)


class _Broken:
    def show(self, sound, light):
        raise OSError("no PIO")


def test_a_broken_driver_never_stops_an_alarm_being_raised():
    m = al.AlarmManager(events.EventLog())
    a = sig.Annunciator(m, _Broken(), 0)
    m.raise_(0, al.OCCLUSION)  # raised and logged, whatever the driver did
    assert m.sounding(0) == al.HIGH
    assert a.errors == 2 and "no PIO" in str(a.error)
    a.update(0)  # the service step tries again
    assert a.errors == 3


class _Flaky:
    def __init__(self):
        self.fail = True
        self.shown = []

    def show(self, sound, light):
        if self.fail:
            self.fail = False
            raise MemoryError
        self.shown.append((sound, light))


def test_a_driver_that_failed_once_plays_at_the_next_update():
    m = al.AlarmManager(events.EventLog())
    d = _Flaky()
    a = sig.Annunciator(m, d, 0)  # the first show fails
    assert d.shown == [] and a.errors == 1
    a.update(0)
    assert d.shown == [(0, 0)]
    m.raise_(0, al.OCCLUSION)
    assert d.shown[-1] == (al.HIGH, al.HIGH)


def test_the_update_does_not_allocate():
    if sys.implementation.name != "micropython":
        return  # CPython cannot lock its heap
    import micropython

    m = al.AlarmManager(events.EventLog())
    d = _Driver()
    a = sig.Annunciator(m, d, 0)
    m.raise_(0, al.OCCLUSION)
    m.raise_(0, al.NEAR_EMPTY)
    m.silence(0)
    t = 0
    micropython.heap_lock()
    try:
        while t < 2 * MIN:
            a.update(t)  # the service step's call: silenced, no change
            t += MIN // 4
    finally:
        micropython.heap_unlock()
    assert d.shown[-1] == (0, al.HIGH)


def _hal(clock, **kw):
    return app.HAL(
        MECH,
        FakeStepper(clock),
        clock.ticks,
        protocol.MemoryStore(),
        log=events.EventLog(64),
        **kw,
    )


def test_the_pump_sounds_a_delivery_interrupted_at_boot():
    clock = SimClock(NEAR_WRAP)
    kept = FakeRetained()
    kept.load(625, 4)
    kept.save(2, 1234)  # running when the watchdog reset came
    rec = sig.Recorder(clock.ticks)
    a = app.build(_hal(clock, retained=kept, cause="a watchdog reset", signal=rec))
    assert rec.timeline[-1][1:] == (al.HIGH, al.HIGH)
    a.pump.ack()
    assert rec.timeline[-1][1:] == (0, al.HIGH)


def test_the_pump_sounds_a_software_fault_of_its_service_step():
    clock = SimClock(NEAR_WRAP)
    rec = sig.Recorder(clock.ticks)
    a = app.build(_hal(clock, signal=rec))
    p = a.pump
    assert rec.timeline == [(NEAR_WRAP, 0, 0)]
    p.load("bd-plastipak-10ml", "10")

    def broken(now):
        raise RuntimeError("bug")

    a.runner.service = broken
    clock.elapsed += 100000
    assert p.service() is False
    assert rec.timeline[-1] == (clock.ticks(), al.HIGH, al.HIGH)
    p.silence()
    clock.elapsed += 2 * MIN
    p.service()  # the service step brings the sound back after 2 minutes
    assert rec.timeline[-1] == (clock.ticks(), al.HIGH, al.HIGH)
    assert [s for _, s, _ in rec.timeline] == [0, al.HIGH, 0, al.HIGH]


def test_the_recorded_timeline_expands_to_pulses():
    rec = sig.Recorder(lambda: 0)
    rec.timeline[:] = [(0, al.MEDIUM, al.MEDIUM), (20000000, 0, al.MEDIUM)]
    got = sig.expand(rec.timeline, 20000000)  # 20 s: two whole bursts and one started
    starts = [s for s, _ in sig.pulses(al.MEDIUM)]
    period = sig.PERIOD_MS[al.MEDIUM] * 1000
    want = [
        (k * period + s * 1000, w * 1000)
        for k in range(3)
        for s, w in sig.pulses(al.MEDIUM)
        if k * period + s * 1000 < 20000000
    ]
    assert got == want and len(got) == 9, got
    assert starts[0] == 0
