# pump.app.build: the one assembly the board and the emulator share.
import json

from fakestepper import FakeRetained, FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import app, events, protocol

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}


def _hal(store=None, **kw):
    clock = SimClock(NEAR_WRAP)
    return app.HAL(
        MECH,
        FakeStepper(clock),
        clock.ticks,
        store if store is not None else protocol.MemoryStore(),
        log=events.EventLog(64),
        **kw,
    )


def test_build_wires_pump_runner_and_protocol_together():
    a = app.build(_hal(serial="ICU-7", uid=b"\x01\x02"))
    assert a.pump.program is a.runner  # the pump's service step runs the program
    assert a.proto.runner is a.runner and a.proto.pump is a.pump
    assert a.proto_error is None
    assert a.pump.serial == "ICU-7"
    resp = json.loads(a.proto.handle_line(b'{"id": 1, "cmd": "status"}'))
    assert resp["ok"] is True and resp["result"]["state"] == "idle"


def test_boot_runs_after_the_pump_booted_and_before_the_protocol_reads_its_settings():
    store = protocol.MemoryStore()
    seen = []

    def boot(pump):
        seen.append([r[2] for r in pump.log.records()])
        store.save({"serial": "BOOTED"})  # as a reflash leaving clinical mode writes them

    a = app.build(_hal(store, boot=boot))
    assert seen == [["boot"]]
    assert a.proto.settings == {"serial": "BOOTED"} and a.pump.serial == "BOOTED"


def test_retained_state_and_reset_cause_reach_the_pump():
    kept = FakeRetained()
    kept.load(625, 4)  # nL per step of the syringe loaded then
    kept.save(2, 1234)  # running, 1234 steps out, when the watchdog reset came
    a = app.build(_hal(retained=kept, cause="a watchdog reset"))
    boot = a.pump.log.records()[0]
    assert boot[2] == "boot" and boot[3] == events.CAUSE_WATCHDOG and boot[4] == 1234
    assert a.pump.state == "stopped"


class _BrokenStore:
    def load(self):
        raise OSError("flash gone")


def test_a_protocol_that_cannot_be_built_leaves_the_pump_running_without_it():
    a = app.build(_hal(_BrokenStore()))
    assert a.proto is None and isinstance(a.proto_error, OSError)
    assert a.pump.program is a.runner
    assert a.pump.state == "idle"
