# A pump with its protocol and bedside UI on a simulated clock, driven through the keys as a
# hand would: levels sampled every 10 ms, the UI stepped every 50 ms, the pump serviced
# every 100 ms. Shared by tests/core/test_ui.py (CPython and the unix port).
import gc
import json

from fakestepper import FakeStepper, SimClock
from harness import NEAR_WRAP
from pump import api, events
from pump import keys as K

gc.collect()
from pump import protocol, runner  # noqa: E402

gc.collect()
from pump import canvas  # noqa: E402

gc.collect()
from pump import ui, uiform  # noqa: E402

MECH = {"lead_um": 800, "full_steps_per_rev": 200, "microsteps": 16}
MS_WRAP = (1 << 30) - 20000  # 20 s before ticks_ms wraps
PIN = "2468"


class Sensors:
    """The syringe switch (present) and a load cell that gives no samples."""

    def __init__(self):
        self.seated = True
        self.fault = 0

    def present(self):
        return self.seated

    def take(self):
        return None


class Panel:
    """A display: show(buf) keeps a copy; answers=False makes it raise as a dead I2C bus."""

    def __init__(self):
        self.answers = True
        self.shown = 0
        self.probes = 0
        self.level = 0x7F  # drivers/ssd1306.py's contrast: the UI's probe sends it again

    def show(self, buf):
        if not self.answers:
            raise OSError(110)  # ETIMEDOUT, as machine.I2C raises on no ACK
        self.shown += 1

    def contrast(self, level):
        if not self.answers:
            raise OSError(110)
        self.probes += 1


def library():
    from pump import druglib

    with open("firmware/druglib.json") as f:
        return druglib.Library(json.load(f))


class UIRig:
    def __init__(self, lib=True, display=None):
        self.clock = SimClock(NEAR_WRAP)
        self.st = FakeStepper(self.clock)
        self.sensors = Sensors()
        self.pump = api.Pump(
            MECH, self.st, self.clock.ticks, log=events.EventLog(128), sensors=self.sensors
        )
        self.runner = runner.Runner(self.pump, self.clock.ticks())
        self.store = protocol.MemoryStore()
        self.proto = protocol.Protocol(
            self.pump,
            self.store,
            library=library() if lib else None,
            rand=lambda n: bytes(range(n)),
            runner=self.runner,
        )
        self.ms = MS_WRAP
        self.panel = display
        self.ui = ui.UI(self.pump, self.proto, canvas.Canvas(), display, now=self.ms)
        self.mask = 0
        self._n = 0
        self.ids = 0
        self.ui.step(self.ms)

    # --- time ---

    def wait(self, ms):
        for _ in range(ms // 10):
            self.ms = (self.ms + 10) & 0x3FFFFFFF
            self.st.advance(10000)
            self.ui.sample(self.mask, self.ms)
            self._n += 1
            if self._n % 5 == 0:
                self.ui.step(self.ms)
            if self._n % 10 == 0:
                self.pump.service()

    def run_s(self, s):
        for _ in range(s):
            self.st.advance(1000000)
            self.ms = (self.ms + 1000) & 0x3FFFFFFF
            self.pump.service()
            self.ui.step(self.ms)

    # --- keys ---

    def press(self, k):
        self.mask |= 1 << k

    def release(self, k=None):
        self.mask = 0 if k is None else self.mask & ~(1 << k)

    def click(self, k, n=1):
        for _ in range(n):
            self.press(k)
            self.wait(100)
            self.release(k)
            self.wait(100)

    def hold(self, k, ms):
        self.press(k)
        self.wait(ms)
        self.release(k)
        self.wait(100)

    def pin(self, pin=PIN, enter=True):
        """Types pin on the PIN screen: each digit up from 0, OK to the next; OK held
        enters."""
        for i in range(len(pin)):
            d = int(pin[i])
            if d <= 5:
                self.click(K.UP, d)
            else:
                self.click(K.DOWN, 10 - d)
            if i < len(pin) - 1:
                self.click(K.OK)
        if enter:
            self.hold(K.OK, 1100)

    def field(self):
        return self.ui.form.fields[self.ui.fi]

    def set_value(self, target):
        """Brings the field being edited to target as a hand would: holds Up or Down while
        far off (the figures speed up), lets go, then single presses."""
        f = self.field()
        if f.kind == uiform.F_CHOICE:
            for _ in range(len(f.choices)):
                if f.value == target:
                    return
                self.click(K.DOWN)
            raise AssertionError("%r not among %r" % (target, f.choices))
        for _ in range(100):
            d = target - f.value
            if d == 0:
                return
            k = K.UP if d > 0 else K.DOWN
            near = 150 if d > 1500 or d < -1500 else 12
            if d >= near or d <= -near:
                self.press(k)
                for _ in range(3000):
                    self.wait(10)
                    e = target - f.value
                    if -near < e < near or (e > 0) != (d > 0):
                        break
                self.release(k)
                self.wait(100)
            else:
                self.click(k)
        raise AssertionError("could not reach %r (at %r)" % (target, f.value))

    def menu(self, item):
        """Opens the menu from home and chooses `item` (its key, e.g. "load")."""
        if self.ui.screen != ui.MENU:
            self.click(K.OK)
        keys = [m[0] for m in self.ui.menu_items]
        assert item in keys, (item, keys)
        for _ in range(len(keys)):
            if self.ui.menu_items[self.ui.mi][0] == item:
                break
            self.click(K.DOWN)
        self.click(K.OK)

    def text(self):
        self.ui.render()
        return " ".join([self.ui.title] + self.ui.lines)

    # --- the protocol, beside the keys ---

    def send(self, cmd, args=None, pin=None):
        self.ids += 1
        req = {"id": self.ids, "cmd": cmd}
        if args is not None:
            req["args"] = args
        if pin is not None:
            req["pin"] = pin
        return json.loads(self.proto.handle_line(json.dumps(req).encode()))

    # --- whole flows ---

    def set_pin(self):
        self.menu("pin")
        self.pin()
        self.pin()
        assert self.ui.screen == ui.CONFIRM, self.text()
        self.click(K.OK)
        assert self.proto.pin_set()
        self.wait(3000)

    def load(self, syringe="bd-plastipak-10ml", tenths=100):
        self.menu("load")
        self.pin()
        self.set_value(syringe)
        self.click(K.OK)
        self.set_value(tenths)
        self.click(K.OK)
        assert self.ui.screen == ui.REVIEW, self.text()
        self.click(K.OK)
        assert self.ui.screen == ui.CONFIRM, self.text()
        self.click(K.OK)
        self.wait(3000)

    def program(self, dose=1632, conc=500, tmax=None):
        self.menu("program")
        self.pin()
        self.set_value("octreotide")
        self.click(K.OK)  # drug: the concentration next (the unit is the drug's)
        self.set_value(conc)
        self.click(K.OK)
        self.set_value(dose)
        self.click(K.OK)
        if tmax is not None:
            self.set_value(tmax)
        self.click(K.OK)  # the titration maximum
        assert self.ui.screen == ui.REVIEW, self.text()
