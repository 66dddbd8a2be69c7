# A cell for the core tests of pump/power.py: true charge counted down by the current drawn,
# rest voltage from the definition's curve, I x R sag with its own resistance (a factor of the
# definition's: a high-resistance cell). Integers only. The emulator's richer model is
# pumphost.sim.battery.
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
if _HERE + "/../../boards" not in sys.path:
    sys.path.append(_HERE + "/../../boards")

import batteries  # noqa: E402 - boards/ is not a package on the firmware's path


def rest_mv(curve, pm):
    """The curve's rest voltage at pm permille of charge."""
    prev = curve[0]
    if pm >= prev[1]:
        return prev[0]
    for p in curve:
        if pm >= p[1]:
            return p[0] + (pm - p[1]) * (prev[0] - p[0]) // (prev[1] - p[1])
        prev = p
    return curve[-1][0]


class Cell:
    def __init__(self, name, pm=1000, r_times=1, cap_pm=1000):
        self.d = batteries.get(name)
        self.cap = self.d["capacity_uah"] * cap_pm // 1000  # a weaker cell: cap_pm < 1000
        self.q = self.cap * pm // 1000
        self.r = self.d["r_int_mohm"] * r_times
        self._acc = 0
        self.ua = 0  # the current it supplies now

    def drain(self, ms):
        self._acc += self.ua * ms
        q = self._acc // 3600000
        self._acc -= q * 3600000
        self.q = max(0, self.q - q)

    def mv(self):
        pm = self.q * 1000 // self.cap
        return max(0, rest_mv(self.d["curve"], pm) - self.ua * self.r // 1000000)


class Sense:
    """The board's readings of `cell` (drivers/supply.py's read()): VSYS, the ADC2 pin, VBUS."""

    def __init__(self, cell, mains=False):
        self.cell = cell
        self.battery = cell.d  # the definition, as drivers/supply.py gives it
        self.mains = mains
        self.fitted = True

    def read(self):
        c = self.cell
        how, k = c.d["sense"]
        v = c.mv() if self.fitted else 0
        if how == "divider":
            vsys = 5000 if (self.mains or v >= c.d["cut_off_mv"]) else v
            return vsys, v // k, self.mains
        return (4750 if self.mains else max(0, v - k)), -1, self.mains


class Sink:
    """What the pump does with the supply's decisions, recorded."""

    def __init__(self):
        self.records = []
        self.alarms = []
        self.cleared = []
        self.stopped = []

    def record(self, what, b):
        self.records.append((what, b))

    def warn(self, kind, text):
        self.alarms.append(kind)

    def clear(self, kind):
        self.cleared.append(kind)

    def deplete(self, kind, text):
        self.stopped.append(kind)
