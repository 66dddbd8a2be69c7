"""The emulator's supply (issue 21): a cell from boards/batteries.py discharging by the
firmware's own energy model (pump/energy.py) at the current the pump draws, its voltage
from the definition's curve less I x R with its own resistance, mains (USB VBUS), and what
the board's sensing reads of them (drivers/supply.py's read()). The true charge is the
model's, not the gauge's: the gauge in the firmware only sees the readings, as on a board.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pumphost.paths import BOARDS

if str(BOARDS) not in sys.path:
    sys.path.append(str(BOARDS))

import batteries  # noqa: E402 - boards/ holds the definitions the firmware freezes

# What a [[power.event]] may do.
EVENTS = (
    "mains_lost",
    "mains_restored",
    "battery_removed",  # off mains: the pump loses power (a power cut)
    "battery_fitted",  # a fresh cell (after battery_removed, or a swap)
    "battery_low",  # the cell is found nearly flat: its charge drops to 10 %
    "high_resistance_cell",  # the cell's resistance becomes 10 times the definition's
)


def rest_mv(curve: tuple[tuple[int, int], ...], pm: int) -> int:
    """The curve's rest voltage at pm permille of charge."""
    prev = curve[0]
    if pm >= prev[1]:
        return prev[0]
    for p in curve:
        if pm >= p[1]:
            return p[0] + (pm - p[1]) * (prev[0] - p[0]) // (prev[1] - p[1])
        prev = p
    return curve[-1][0]


@dataclass
class SimBattery:
    """A cell named `name` at charge_pm permille of capacity_pm permille of its rated
    capacity, with r_times its rated resistance; mains: VBUS present."""

    name: str
    charge_pm: int = 1000
    capacity_pm: int = 1000
    r_times: int = 1
    mains: bool = False
    fitted: bool = True
    ua: int = 0  # the current the pump draws from the cell now
    drawn_uah: int = 0  # charge drawn since the start (all cells)
    _acc: int = 0
    log: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.battery = batteries.get(self.name)  # drivers/supply.py's attribute name
        self.cap_uah = self.battery["capacity_uah"] * self.capacity_pm // 1000
        self.q_uah = self.cap_uah * self.charge_pm // 1000
        self.r_mohm = self.battery["r_int_mohm"] * self.r_times

    def drain(self, ms: int) -> None:
        """ms of the present current (none on mains: VBUS feeds the pump)."""
        if self.mains or not self.fitted:
            return
        self._acc += self.ua * ms
        q, self._acc = divmod(self._acc, 3_600_000)
        self.q_uah = max(0, self.q_uah - q)
        self.drawn_uah += q

    def mv(self) -> int:
        """The cell's voltage now, under the present current (0: no cell)."""
        if not self.fitted:
            return 0
        pm = self.q_uah * 1000 // self.cap_uah
        sag = 0 if self.mains else self.ua * self.r_mohm // 1_000_000
        return max(0, rest_mv(self.battery["curve"], pm) - sag)

    def powered(self, starting: bool = False) -> bool:
        """The pump has a supply: mains, or a cell above its cut-off (starting: above
        hold_mv, the regulator's start-up threshold with its hysteresis, so a flat cell that
        recovers a little once the load is gone does not boot the pump over and over)."""
        floor = self.battery["hold_mv" if starting else "cut_off_mv"]
        return self.mains or (self.fitted and self.mv() >= floor)

    def read(self) -> tuple[int, int, bool]:
        """What the board reads (drivers/supply.py): VSYS mV, the cell pin's mV or -1, VBUS."""
        how, k = self.battery["sense"]
        v = self.mv()
        if how == "divider":
            vsys = 5000 if (self.mains or v >= self.battery["cut_off_mv"]) else v
            return vsys, v // k, self.mains
        return (4750 if self.mains else max(0, v - k)), -1, self.mains

    def apply(self, kind: str, at_s: float) -> None:
        """A [[power.event]] now."""
        if kind == "mains_lost":
            self.mains = False
        elif kind == "mains_restored":
            self.mains = True
        elif kind == "battery_removed":
            self.fitted = False
        elif kind == "battery_fitted":
            self.fitted = True
            self.cap_uah = self.battery["capacity_uah"]
            self.q_uah = self.cap_uah
            self.r_mohm = self.battery["r_int_mohm"]
        elif kind == "battery_low":
            self.q_uah = min(self.q_uah, self.cap_uah // 10)
        elif kind == "high_resistance_cell":
            self.r_mohm = self.battery["r_int_mohm"] * 10
        else:
            raise ValueError(f"unknown power event {kind!r}")
        self.log.append((at_s, kind))
