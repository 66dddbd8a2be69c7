# Who the pump is, for its pulled logs: a serial it keeps (config.set, on flash with the
# settings) and the board's unique id (zeros: none). Runs on CPython and the unix port.
from progrig import PIN, Rig

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, raises
from pump import api, protocol

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


def _pump(**kw):
    clock = SimClock(NEAR_WRAP)
    return api.Pump(MECH, FakeStepper(clock), clock.ticks, **kw)


def test_ident_names_the_serial_and_a_real_unique_id_only():
    assert _pump().ident() == {"serial": "", "uid": ""}
    assert _pump(uid=bytes(8)).ident()["uid"] == ""  # the virtual Pico's zeros: no id
    p = _pump(serial="PUMP-0042", uid=b"\xe6\x61\x41\x03\xe7\x45\x2d\x2f")
    assert p.ident() == {"serial": "PUMP-0042", "uid": "e6614103e7452d2f"}


def test_a_bad_serial_is_refused():
    for bad in ("", "PUMP 0042", "PUMP-00042-XY", "pümp", 42, None):
        raises(ValueError, api.check_serial, bad)
    assert api.check_serial("SIM-1.0_2") == "SIM-1.0_2"
    raises(ValueError, lambda: _pump(serial="a/b"))


def test_config_set_keeps_the_serial_and_status_names_it():
    r = Rig()
    r.ok("pin.change", {"new": PIN})
    assert r.ok("status")["serial"] == "" and r.ok("config.get")["serial"] == ""
    r.ok("config.set", {"serial": "PUMP-0042"}, PIN)
    s = r.ok("status")
    assert s["serial"] == "PUMP-0042" and s["uid"] == ""
    assert r.pump.ident()["serial"] == "PUMP-0042"
    assert r.store.data["serial"] == "PUMP-0042"
    # refused whole: nothing changes
    resp = r.send("config.set", {"serial": "PUMP 7", "pin_tries": 3}, PIN)
    assert resp["error"]["code"] == "out_of_range", resp
    assert r.store.data["serial"] == "PUMP-0042" and "pin_tries" not in r.store.data
    assert r.send("config.set", {"serial": "P-1"})["error"]["code"] == "pin_required"
    # after a reset the pump takes its serial from the settings again
    clock = SimClock(NEAR_WRAP)
    p2 = api.Pump(MECH, FakeStepper(clock), clock.ticks)
    protocol.Protocol(p2, r.store, runner=None)
    assert p2.serial == "PUMP-0042"
    bad = protocol.MemoryStore({"serial": "no good!"})
    p3 = api.Pump(MECH, FakeStepper(clock), clock.ticks)
    protocol.Protocol(p3, bad)
    assert p3.serial == ""
