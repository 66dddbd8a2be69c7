# A pump with a program runner and the protocol on a simulated clock, and an exact oracle of
# what the program allowed (shared by tests/core/test_program.py, test_protocol.py and the
# hypothesis machine). Plain integers: runs on CPython and the MicroPython unix port.
import gc
import json

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP, Oracle
from pump import api, events

gc.collect()  # compiling from source on a device-sized heap: keep it unfragmented
from pump import runner  # noqa: E402

gc.collect()
from pump import protocol  # noqa: E402

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
SECOND = 1000000
PIN = "4321"


def add(a, b):
    return a[0] * b[1] + b[0] * a[1], a[1] * b[1]


class Rig:
    def __init__(self, fill="10", start_tick=NEAR_WRAP, library=None, syringe="bd-plastipak-10ml"):
        self.clock = SimClock(start_tick)
        self.st = FakeStepper(self.clock)
        self.pump = api.Pump(MECH, self.st, self.clock.ticks, log=events.EventLog(128))
        if fill is not None:  # None: as after a reset, no syringe loaded
            self.pump.load(syringe, fill)
        self.runner = runner.Runner(self.pump, self.clock.ticks())
        self.store = protocol.MemoryStore()
        self._n = 0
        self.proto = protocol.Protocol(
            self.pump, self.store, library=library, rand=self._rand, runner=self.runner
        )
        self.ids = 0

    def _rand(self, n):
        self._n += 1
        return bytes((self._n * 37 + i * 11) & 255 for i in range(n))

    # --- protocol ---

    def send(self, cmd, args=None, pin=None, rid=None):
        if rid is None:
            self.ids += 1
            rid = self.ids
        req = {"id": rid, "cmd": cmd}
        if args is not None:
            req["args"] = args
        if pin is not None:
            req["pin"] = pin
        return json.loads(self.proto.handle_line(json.dumps(req).encode()))

    def ok(self, cmd, args=None, pin=None):
        r = self.send(cmd, args, pin)
        assert r["ok"], r
        return r["result"]

    def program(self, spec, pin=PIN):
        if not self.proto.settings.get("pin_hash"):
            self.ok("pin.change", {"new": PIN})
        tok = self.ok("program.validate", {"program": spec})["token"]
        return self.ok("program.set", {"token": tok}, pin)

    # --- time ---

    def run(self, seconds, every=1):
        for _ in range(seconds // every):
            self.st.advance(every * SECOND)
            self.pump.service()

    def act(self, fn, *args):
        return fn(*args)

    def snapshot(self):
        s = self.pump.status()
        return (
            s["state"],
            s["rate_ml_h"],
            self.st.pulses,
            self.runner.boluses,
            tuple(s["alarms"]),
            self.pump.controller.target,
            self.runner.prog,
        )


class Tracked(Rig):
    """A Rig whose oracle follows the rate in force exactly, from outside the core: a
    command's new rate from the executor's restart (the clock after the command), a bolus
    (basal + bolus rate) for exactly its duration from there."""

    def __init__(self, *a, **k):
        Rig.__init__(self, *a, **k)
        self.oracle = Oracle(self.pump.controller.vol)
        self._boost_end = None

    def act(self, fn, *args):
        before = self.clock.elapsed
        out = fn(*args)
        self._follow(before)
        return out

    def _follow(self, before):
        c = self.pump.controller
        running = c.state == "running"
        self.oracle.set(None, before)
        if running and c.boosting():
            p = self.runner.prog
            self._boost_end = self.clock.elapsed + p.bolus_us
            self.oracle.set(_boost_rate(c, p), self.clock.elapsed)
        elif running and not c.held():
            self.oracle.set(c.rate, self.clock.elapsed)

    def run(self, seconds, every=1):
        for _ in range(seconds // every):
            self.st.advance(every * SECOND)
            was = self.pump.controller.boosting()
            self.pump.service()
            if was and not self.pump.controller.boosting():
                self.oracle.set(None, self._boost_end)
                self._follow(self.clock.elapsed)

    def expected(self):
        return self.oracle.steps(self.clock.elapsed)


def _boost_rate(c, p):
    return add(c.rate, p.bolus_rate)
