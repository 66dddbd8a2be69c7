"""The alarm buzzer and LED read from the pins (issue 20), decoded by hil/sigdecode.py against
the IEC 60601-1-8 table in firmware/pump/signals.py: pulses per burst, tone frequency, pulse
widths, spacings, repeat and interburst intervals, the light's colour, flashing frequency and
duty cycle, per priority; acknowledge and the 2-minute silence act on the sound and leave the
light flashing until the alarm is cleared; the sound in the safe states (a software fault in
the service step, a watchdog reset that cut delivery: from _boot.py on).

High and medium come from real alarms of the alarm manager (the syringe taken out while
running, near-empty at the start of a small fill); the pump has no low-priority alarm kind,
so low is played through the driver itself. Each test captures the edges from just before
the alarm, so the first burst is whole.
"""

from __future__ import annotations

import pytest
import sigdecode
from dut import DUT

from pump import signals

NS = 1_000_000_000
SYRINGE = "bd-plastipak-10ml"
SEATED = 0  # boards/pico/board.py SYRINGE_SEATED
SHOW = "from drivers import alarmsignal\nimport board\nalarmsignal.get(board).show(%d, %d)"


def _decode(rig, t0: int) -> tuple[sigdecode.Sound, sigdecode.Light]:
    t1 = rig.now_ns()
    rising, _ = rig.edges("buzzer", t0)
    s = sigdecode.sound(rising, whole_bursts_until=t1)
    red = rig.edges("led_red", t0)
    green = rig.edges("led_green", t0)
    lt = sigdecode.light(red, green, rig.level("led_red"), rig.level("led_green"), t0, t1)
    return s, lt


def _take_syringe_out(pump: DUT, rig) -> int:
    """A running pump, then the syringe taken out: syringe_removed (high). Returns the time
    from just before the alarm."""
    pump.exec("pump.rate('0.136')\npump.start()")
    rig.run_s(0.6)
    t0 = rig.now_ns()
    rig.board.set_input(rig.pins["syringe"], 1 - SEATED)
    rig.run_s(0.6)
    assert pump.eval("pump.status()['alarms']") == ["syringe_removed"]
    return t0


@pytest.fixture
def reseat(rig):
    yield
    rig.board.set_input(rig.pins["syringe"], SEATED)


@pytest.mark.rig("pins", "time")
def test_high_priority_sounds_and_flashes_after_the_table(
    pump: DUT, rig, reseat: None, report: list[str]
) -> None:
    t0 = _take_syringe_out(pump, rig)
    rig.run_s(17.4)  # two whole bursts (8.192 s apart) and the start of a third
    s, lt = _decode(rig, t0)
    assert len(s.bursts) >= 2, [len(b.pulses) for b in s.bursts]
    assert sigdecode.check(s, lt, signals.HIGH) == [], sigdecode.report(s, lt, 3, "virtual")
    assert s.bursts[0].start - t0 < 0.7 * NS  # sounds at the service step that saw it
    report.append(sigdecode.report(s, lt, signals.HIGH, _where(rig)))


@pytest.mark.rig("pins", "time")
def test_medium_priority_sounds_and_flashes_after_the_table(
    pump: DUT, rig, report: list[str]
) -> None:
    # 0.05 mL at 0.136 mL/h: 22 min left, under near-empty's 30: it warns at the start
    pump.exec("pump.load('bd-plastipak-10ml', '0.05')")
    t0 = rig.now_ns()
    pump.exec("pump.rate('0.136')\npump.start()")
    rig.run_s(17.4)
    assert pump.eval("pump.status()['alarms']") == ["near_empty"]
    s, lt = _decode(rig, t0)
    assert len(s.bursts) >= 2, [len(b.pulses) for b in s.bursts]
    assert sigdecode.check(s, lt, signals.MEDIUM) == [], sigdecode.report(s, lt, 2, "virtual")
    report.append(sigdecode.report(s, lt, signals.MEDIUM, _where(rig)))


@pytest.mark.rig("pins", "time")
def test_low_priority_pattern_after_the_table(dut: DUT, rig, report: list[str]) -> None:
    # No alarm kind of the pump is low priority: the driver plays the pattern itself.
    t0 = rig.now_ns()
    dut.exec(SHOW % (signals.LOW, signals.LOW))
    try:
        rig.run_s(20)  # bursts 16.384 s apart: two whole ones
        s, lt = _decode(rig, t0)
    finally:
        dut.exec(SHOW % (0, 0))
    assert len(s.bursts) == 2, [len(b.pulses) for b in s.bursts]
    assert sigdecode.check(s, lt, signals.LOW) == [], sigdecode.report(s, lt, 1, "virtual")
    report.append(sigdecode.report(s, lt, signals.LOW, _where(rig)))


@pytest.mark.rig("pins", "time")
def test_acknowledge_quiets_the_sound_and_the_light_flashes_until_cleared(
    pump: DUT, rig, reseat: None
) -> None:
    _take_syringe_out(pump, rig)
    pump.exec("pump.ack()")
    t = rig.now_ns()
    rig.run_s(9)
    s, lt = _decode(rig, t)
    assert s.bursts == [] and rig.edges("buzzer", t)[0] == []  # quiet
    assert lt.colour == "red" and sigdecode.check(s, lt, signals.HIGH) == [
        "no whole burst captured"
    ]
    assert 1.4 <= lt.flash_hz <= 2.8, lt
    rig.board.set_input(rig.pins["syringe"], SEATED)
    pump.exec("pump.load('bd-plastipak-10ml', '10')")  # a new syringe clears the alarm
    t = rig.now_ns()
    rig.run_s(2)
    assert rig.edges("led_red", t) == ([], []) and rig.edges("buzzer", t) == ([], [])
    assert rig.level("led_red") == 0 and rig.level("led_green") == 0  # dark, quiet


@pytest.mark.rig("pins", "time")
def test_silence_lasts_two_minutes_then_the_burst_comes_back(
    pump: DUT, rig, reseat: None, report: list[str]
) -> None:
    _take_syringe_out(pump, rig)
    t = rig.now_ns()
    pump.exec("pump.silence()")
    quiet = rig.now_ns()  # the burst under way stopped inside that command
    for _ in range(17):  # 119 s in chunks: one control request each, well under its timeout
        rig.run_s(7)
    assert rig.edges("buzzer", quiet)[0] == [], "sounded while silenced"
    red, _ = rig.edges("led_red", quiet)
    assert len(red) >= 119 * 1.9, len(red)  # flashing all along (1.95 Hz)
    rig.run_s(3)
    rising, _ = rig.edges("buzzer", quiet)
    assert rising, "no sound after the 2-minute silence"
    back_s = (rising[0] - t) / NS
    # the silence's tick is taken inside the exec, after t; the service step sees its end
    # within a calm period (0.5 s)
    assert 120.0 <= back_s <= 121.0, back_s
    report.append(f"silence on the virtual Pico: the high burst came back {back_s:.2f} s later")


@pytest.mark.rig("pins", "time")
def test_a_software_fault_sounds_the_high_alarm(pump: DUT, rig) -> None:
    t0 = rig.now_ns()
    # the next service step raises, once (a fault on every step would stop feeding the
    # watchdog: the board would reset): software_fault, whatever the pump was doing
    pump.exec(
        "def _once(now, r=pump.program):\n"
        "    del r.service\n"
        "    1 // 0\n"
        "pump.program.service = _once"
    )
    rig.run_s(4)
    alarms = pump.eval("pump.status()['alarms']")
    assert alarms == ["software_fault"], alarms
    rising, _ = rig.edges("buzzer", t0)
    s = sigdecode.sound(rising)
    assert len(s.bursts[0].pulses) == 10, [len(b.pulses) for b in s.bursts]
    assert rig.edges("led_red", t0)[0], "the red light does not flash"


@pytest.mark.rig("pins", "time")
def test_a_watchdog_reset_that_cut_delivery_sounds_from_boot(
    pump: DUT, rig, report: list[str]
) -> None:
    pump.exec("pump.rate('5')\npump.start()")
    rig.run_s(1)
    pump.exec("import boardapp\nboardapp.service_timer.deinit()")  # the watchdog will bite
    t = rig.now_ns()
    rig.run_s(9.5)
    last_step = max(rig.step_times(t - NS), default=t)
    status = pump.eval("pump.status()")
    assert status["alarms"] == ["delivery_interrupted"], status
    assert "a watchdog reset" in status["alarm_text"]["delivery_interrupted"]
    rising, _ = rig.edges("buzzer", t)
    assert rising, "no sound after the reset"
    s = sigdecode.sound(rising)
    assert len(s.bursts[0].pulses) == 10
    assert rig.edges("led_red", t)[0], "the red light does not flash"
    # the sound starts in _boot.py, soon after the reset (2 s of watchdog after the last step)
    after = (rising[0] - last_step) / NS
    report.append(
        f"watchdog reset during delivery: the high burst began {after:.2f} s after "
        "the last step (2 s watchdog timeout + boot to _boot.py's signal)"
    )
    assert after < 3.0, after


@pytest.mark.rig("pins", "time")
def test_a_soft_reset_that_cut_delivery_sounds_a_clean_burst(pump: DUT, rig) -> None:
    # The medium pattern plays when mpremote's soft reset cuts the delivery: the new boot's
    # high burst must come alone, with no word of the old boot's DMA ring in it.
    pump.exec("pump.rate('5')\npump.start()\n" + SHOW % (signals.MEDIUM, signals.MEDIUM))
    rig.run_s(1.5)  # its burst (1 s) is over, its ring runs on: the next one is 8.192 s in
    t = rig.now_ns()
    pump.soft_reset()
    rig.run_s(5)
    assert pump.eval("pump.status()['alarms']") == ["delivery_interrupted"]
    rising, _ = rig.edges("buzzer", t)
    s = sigdecode.sound(rising)
    b = s.bursts[0]
    assert [p.cycles for p in b.pulses] == [75] * 10, [p.cycles for p in b.pulses]
    periods = {rising[i + 1] - rising[i] for i in range(len(rising) - 1)}
    assert min(periods) == 2_000_000, sorted(periods)[:3]
    assert [round(g) for g in b.spacings_ms()] == [100, 100, 350, 100, 500, 100, 100, 350, 100]


@pytest.mark.rig("pins", "time", "power")
def test_a_pump_that_fails_to_come_up_sounds_the_high_alarm(dut: DUT, rig) -> None:
    # A boardapp.py on the flash shadows the frozen one (make deploy): a broken one raises in
    # _boot.py, which sounds the high alarm before it lets the exception through.
    dut.exec("f = open('/boardapp.py', 'w')\nf.write('raise RuntimeError(1)\\n')\nf.close()")
    try:
        t = rig.now_ns()
        rig.reset()  # boots for 1 s
        rig.run_s(3.4)
        came_up = dut.eval("'pump' in globals()")
        rising, _ = rig.edges("buzzer", t)
        red, _ = rig.edges("led_red", t)
    finally:
        dut.exec("import os\nos.remove('/boardapp.py')")
        rig.reset()
    assert not came_up
    s = sigdecode.sound(rising)
    assert s.bursts and len(s.bursts[0].pulses) == 10, [len(b.pulses) for b in s.bursts]
    assert red, "the red light does not flash"
    assert dut.eval("'pump' in globals()")  # back to the frozen boardapp


@pytest.mark.rig("pins", "time")
def test_the_burst_keeps_its_timing_while_python_is_busy(dut: DUT, rig) -> None:
    # A REPL command that holds the CPU 1 s, 0.3 s of it with interrupts off (as a flash
    # erase does for 45 ms): no soft timer could run the burst meanwhile; PIO and DMA do.
    t0 = rig.now_ns()
    dut.exec(
        SHOW % (signals.HIGH, signals.HIGH) + "\n"
        "import machine, time\n"
        "t = time.ticks_ms()\n"
        "s = machine.disable_irq()\n"
        "while time.ticks_diff(time.ticks_ms(), t) < 300:\n"
        "    pass\n"
        "machine.enable_irq(s)\n"
        "while time.ticks_diff(time.ticks_ms(), t) < 1000:\n"
        "    pass",
        timeout=120,  # a busy loop runs at about a quarter of real time on the virtual Pico
    )
    try:
        rig.run_s(3)  # the rest of the burst (3.3 s)
        rising, _ = rig.edges("buzzer", t0)
    finally:
        dut.exec(SHOW % (0, 0))
    s = sigdecode.sound(rising)
    b = s.bursts[0]
    assert len(b.pulses) == 10 and b.start - t0 < 1.5 * NS
    assert [p.cycles for p in b.pulses] == [75] * 10  # 150 ms of 500 Hz each
    periods = {rising[i + 1] - rising[i] for i in range(len(rising) - 1)}
    assert min(periods) == 2_000_000, sorted(periods)[:3]  # every cycle exactly 2 ms
    assert [round(g) for g in b.spacings_ms()] == [100, 100, 350, 100, 500, 100, 100, 350, 100]


def _where(rig) -> str:
    return "virtual Pico" if type(rig).__name__ == "VirtualRig" else "bench fixture"
