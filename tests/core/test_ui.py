# The bedside UI (pump/ui.py) driven through its keys, beside the protocol it goes through.
from uirig import PIN, Panel, UIRig

from pump import keys as K
from pump import ui, uiform


def _octreotide_running():
    r = UIRig()
    r.set_pin()
    r.load()
    r.program(1632, 500)
    r.click(K.OK)
    r.click(K.OK)
    r.wait(3000)
    r.menu("start")
    r.click(K.OK)
    assert r.pump.state == "running", r.text()
    return r


def test_octreotide_programmed_from_the_keys_with_a_two_step_confirmation():
    r = UIRig()
    assert "No syringe" in r.text()
    r.set_pin()
    r.load()
    assert r.pump.syringe.id == "bd-plastipak-10ml" and r.pump.fill_nl == 10000000
    r.program(1632, 500)
    text = r.text()
    assert "Check 1/2" in text and "- -> 1632" in text and "- -> 500" in text, text
    assert r.runner.prog is None and r.pump.program_rate is None  # nothing yet
    r.click(K.OK)
    assert r.ui.screen == ui.CONFIRM and "1632 µg/24 h at 500 µg/mL" in r.text(), r.text()
    assert r.runner.prog is None  # still nothing
    r.click(K.OK)
    p = r.runner.prog
    assert p is not None and p.dose == 1632 and p.conc == 500 and p.drug == "octreotide"
    s = r.send("status")["result"]
    assert s["rate_ml_h"] == "0.1360" and s["state"] == "idle"
    r.wait(3000)
    r.menu("start")
    assert "0.1360 mL/h" in r.text()
    r.click(K.OK)
    assert r.pump.state == "running"
    r.run_s(3600)
    text = r.text()
    assert "RUNNING" in text and "octreotide 500 µg/mL" in text and "1632 µg/24 h" in text, text
    assert "0.1360 mL/h" in text and "Given 0.13" in text and "Left 9.864 mL" in text, text


def test_titration_to_2167_shows_old_and_new_and_changes_nothing_until_confirmed():
    r = UIRig()
    r.set_pin()
    r.load()
    r.program(1632, 500, tmax=3000)
    r.click(K.OK)
    r.click(K.OK)
    r.wait(3000)
    r.menu("start")
    r.click(K.OK)
    r.run_s(60)
    before = r.pump.program_rate
    r.menu("titrate")
    r.pin()
    assert r.field().value == 1632
    r.set_value(2167)
    r.click(K.OK)
    assert "1632 -> 2167" in r.text(), r.text()
    r.click(K.OK)
    assert "Titrate to 2167 µg/24 h?" in r.text()
    assert r.pump.program_rate == before
    r.click(K.OK)
    assert uiform.dose_of(r.pump.program_rate, 500) == 2167
    assert r.send("status")["result"]["rate_ml_h"] == "0.1806"
    r.wait(3000)
    assert "2167 µg/24 h" in r.text()


def test_stop_or_back_at_any_step_leaves_everything_as_it_was():
    r = UIRig()
    r.set_pin()
    r.load()
    n = r.pump.log.count
    for where in (ui.EDIT, ui.REVIEW, ui.CONFIRM):
        r.program(1632, 500)
        if where == ui.EDIT:
            r.click(K.BOLUS)  # review -> back to editing
        elif where == ui.CONFIRM:
            r.click(K.OK)
        assert r.ui.screen == where
        r.click(K.STOP)
        assert r.ui.screen == ui.HOME and r.runner.prog is None
    assert r.pump.log.count == n  # nothing logged either (the PIN checks were right)


def test_refusals_are_the_protocols_word_for_word():
    r = UIRig()
    r.set_pin()
    r.load()
    # Start with no program: the protocol's refusal, from the key.
    r.menu("start")
    r.click(K.OK)
    want = r.send("start")["error"]["message"]
    assert r.ui.refused == want == "set a program first" and r.pump.state == "idle"
    r.wait(3000)
    # A dose above the titration maximum: the keys let the figure be entered, the protocol
    # refuses it.
    r.program(1632, 500, tmax=2000)
    r.click(K.OK)
    r.click(K.OK)
    r.wait(3000)
    r.menu("titrate")
    r.pin()
    r.set_value(2167)
    r.click(K.OK)
    r.click(K.OK)
    r.click(K.OK)
    want = r.send("titrate", {"dose_ug_24h": 2167}, PIN)["error"]["message"]
    assert r.ui.refused == want and "above the titration maximum" in want
    assert uiform.dose_of(r.pump.program_rate, 500) == 1632
    r.wait(3000)
    # A bolus: none programmed.
    r.click(K.BOLUS)
    assert "No bolus programmed" in r.text()
    r.click(K.BOLUS)
    # Wrong PINs count towards the protocol's lockout, shared with the protocol channel.
    for i in range(5):
        r.menu("program")
        r.pin("1111")
        assert r.ui.refused == "wrong PIN (%d of 5)" % (i + 1), r.ui.refused
        r.click(K.STOP)
        r.click(K.STOP)
    e = r.send("titrate", {"dose_ug_24h": 1700}, PIN)["error"]
    assert e["code"] == "pin_locked"
    r.menu("program")
    r.pin()
    assert r.ui.refused == e["message"] and r.ui.screen == ui.MSG
    r.wait(3000)
    assert r.ui.screen == ui.HOME  # not back to the PIN: locked out


def test_an_alarm_takes_the_screen_in_the_words_of_pump_alarms_and_keys_act_on_it():
    r = _octreotide_running()
    r.run_s(30)
    r.sensors.seated = False  # the syringe comes out of its holder
    r.run_s(1)
    assert r.pump.state == "stopped"
    assert r.ui.screen == ui.ALARM
    a = [x for x in r.pump.alarms() if x["active"]][-1]
    text = r.text()
    assert a["kind"] == "syringe_removed" and "HIGH ALARM" in text
    assert "syringe removed" in text and "To restart:" in text
    assert "To restart: " + a["to_restart"] in text, text
    assert r.pump.sounding() == 3
    r.click(K.OK)  # silence 2 min
    assert r.pump.sounding() == 0 and r.ui.screen == ui.ALARM
    r.click(K.UP)
    r.click(K.DOWN)
    r.click(K.STOP)  # acknowledge
    assert [x["acknowledged"] for x in r.pump.alarms() if x["active"]] == [True]
    assert "(ack)" in r.text()
    r.click(K.OK)  # silence again: nothing sounds; the protocol's refusal, on the screen
    assert r.ui.refused == r.send("alarm.silence")["error"]["message"]
    r.wait(3000)
    r.click(K.BOLUS)  # back: home, the alarm still shown there
    assert r.ui.screen == ui.HOME and "syringe_removed" in r.text()
    r.click(K.BOLUS)  # the bolus screen: no bolus (none programmed)
    assert r.ui.screen == ui.BOLUS


def test_a_new_alarm_drops_a_change_under_way_uncommitted():
    r = _octreotide_running()
    r.menu("titrate")
    r.pin()
    r.click(K.UP, 3)
    r.sensors.seated = False
    r.run_s(1)
    assert r.ui.screen == ui.ALARM and uiform.dose_of(r.pump.program_rate, 500) == 1632


def test_keypad_lock():
    r = _octreotide_running()
    r.hold(K.INFO, 3100)
    assert r.ui.locked
    r.wait(3000)
    assert "LOCKED" in r.text()
    r.click(K.OK)  # no menu while locked
    assert r.ui.screen == ui.MSG and "Keypad locked" in r.text()
    r.wait(3000)
    r.click(K.BOLUS)
    assert r.ui.screen != ui.BOLUS
    r.wait(3000)
    r.click(K.INFO)  # info is allowed
    assert r.ui.screen == ui.INFO
    r.click(K.BOLUS)
    assert r.ui.screen == ui.HOME
    r.hold(K.STOP, 1200)  # stop is never locked out
    assert r.pump.state == "paused"
    r.hold(K.INFO, 3100)
    assert not r.ui.locked
    r.wait(3000)
    r.menu("resume")
    r.click(K.OK)
    assert r.pump.state == "running"


def test_stop_held_pauses_at_once_and_a_short_stop_does_not():
    r = _octreotide_running()
    r.click(K.STOP)
    assert r.pump.state == "running" and "Hold STOP" in r.text()
    r.hold(K.STOP, 1100)
    assert r.pump.state == "paused"


def test_power_off_asks_first_and_needs_a_stopped_pump():
    r = UIRig()
    r.hold(K.STOP, 3100)
    assert r.ui.screen == ui.ASK and "Power off?" in r.text()
    r.click(K.OK)
    assert r.ui.screen == ui.OFF
    r.click(K.OK)
    assert r.ui.screen == ui.OFF
    r.hold(K.STOP, 3100)
    assert r.ui.screen == ui.HOME


def test_a_display_that_does_not_answer_raises_a_medium_alarm_and_delivery_goes_on():
    panel = Panel()
    r = UIRig(display=panel)
    r.set_pin()
    r.load()
    r.program(1632, 500)
    r.click(K.OK)
    r.click(K.OK)
    r.wait(3000)
    r.menu("start")
    r.click(K.OK)
    assert panel.shown > 0 and r.pump.state == "running"
    panel.answers = False
    r.run_s(5)
    act = [a for a in r.pump.alarms() if a["active"]]
    assert [a["kind"] for a in act] == ["display_fault"] and act[0]["priority"] == "medium"
    assert r.pump.state == "running" and r.pump.sounding() == 2
    r.hold(K.STOP, 1100)  # stop works blind
    assert r.pump.state == "paused"


def test_build_makes_the_ui_where_the_target_has_a_display_or_keys():
    from fakestepper import FakeStepper, SimClock
    from harness import NEAR_WRAP
    from pump import app, events, protocol

    class Keypad:
        mask = 0

        def read(self):
            return self.mask

    class Display(Panel):
        def __init__(self):
            Panel.__init__(self)
            self.buf = bytearray(1024)
            self.got = None

        def show(self, buf):
            Panel.show(self, buf)
            self.got = buf

    def hal(**kw):
        clock = SimClock(NEAR_WRAP)
        mech = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
        return app.HAL(
            mech,
            FakeStepper(clock),
            clock.ticks,
            protocol.MemoryStore(),
            log=events.EventLog(64),
            **kw,
        )

    assert app.build(hal()).ui is None  # no display, no keys: no UI
    d, k = Display(), Keypad()
    a = app.build(hal(display=d, keys=k, image_id="abc123"))
    assert a.ui is not None and a.ui.proto is a.proto and a.ui_error is None
    t = 1000
    a.ui.step(t)
    assert d.got is d.buf and any(d.buf)  # drawn into the display's own buffer
    k.mask = 1 << K.INFO
    for _ in range(10):
        t += 10
        a.ui.poll(t)
    k.mask = 0
    for _ in range(10):
        t += 10
        a.ui.poll(t)
    a.ui.step(t)
    assert a.ui.screen == ui.INFO and "Image abc123" in a.ui.lines


def test_a_soft_limit_is_shown_and_needs_its_own_ok():
    r = UIRig()
    r.set_pin()
    r.load()
    # octreotide: soft maximum 3,000 ug/24 h (firmware/druglib.json)
    r.program(3200, 500, tmax=3200)
    r.click(K.OK)
    r.click(K.OK)
    assert r.ui.screen == ui.SOFT and "soft maximum" in r.text(), r.text()
    assert r.runner.prog is None  # not yet
    r.click(K.OK)
    assert r.runner.prog is not None and r.runner.prog.dose == 3200 and r.runner.prog.confirm
