"""The rig around the board: pins, simulated time, power. The virtual rig drives the emulated
RP2040's control channel; a real bench rig would drive a logic analyser and a relay."""

from __future__ import annotations

from dataclasses import dataclass

from pump import loadcell, mechanics
from pumphost import boards
from pumphost.sim import plant
from pumphost.sim.hal import hx711_counts
from pumphost.vboard.virtual import VirtualBoard

NS_PER_S = 1_000_000_000
CHUNK_NS = 100_000_000  # the plant follows the board every 100 ms: the HX711's sample period
# A spare pump GPIO a test may pulse to mark a moment of its own (a flash program); the
# bench fixture captures it as its MARK input and can cut the power on its edge.
MARK_PIN = 19  # (GP15 is the alarm buzzer's)


@dataclass
class Point:
    """One chunk of the plant in the loop: simulated time (s since the loop started), the
    steps the board made so far, what the load cell was set to read and the line pressure."""

    t_s: float
    steps: int
    force_n: float | None
    pressure_mmhg: float
    present: bool


class PlantLoop:
    """The plant model (pumphost.sim.plant, the emulator's own) in the loop with the virtual
    board: the board runs in 100 ms chunks, the STEP edges it made move the plunger, and the
    plant's force goes to the HX711 model as counts = offset + force x scale, the calibration
    the firmware defaults to. Faults (plant.FAULTS) are injected now: `syringe_removed` opens
    the syringe switch, `sensor_open` holds DOUT high, `sensor_saturated` makes the HX711
    clamp at loadcell.RAW_MAX."""

    def __init__(
        self,
        rig: VirtualRig,
        syringe_id: str,
        fill_ml: float,
        seed: int = 1,
        board: str = "vpico",
        offset: int = loadcell.DEFAULT_OFFSET,
        scale: int = loadcell.DEFAULT_SCALE,
    ) -> None:
        b = boards.load(board)
        drive = mechanics.Drive(b.lead_um, b.full_steps_per_rev, b.microsteps)
        syr = mechanics.Syringe(syringe_id)
        self.plant = plant.for_syringe(syr, drive, round(fill_ml * 1e6), seed)
        self.nl_per_step = self.plant.nl_per_step
        self.rig = rig
        self.board = rig.board
        self.offset = offset
        self.scale = scale
        self.seated = b.syringe_seated
        self.dir_forward = b.dir_forward
        self._step_pin = rig.pins["step"]
        self._dir_pin = rig.pins["dir"]
        self._switch_pin = rig.pins["syringe"]
        self.t0_ns = rig.now_ns()
        self._since = self.t0_ns  # the plant has followed the board up to here
        self._count = self.board.count(self._step_pin)
        # DIR's level up to _dir_until; later flips are taken as edges, never as a level read
        # "now" (on a bench, now has moved on from the edges' end by a round trip)
        self._dir_level = int(self.board.pins()[self._dir_pin]["level"])
        self._dir_until = self.t0_ns
        self.steps = 0
        self._present = True
        self._mode = "ok"
        self.board.set_input(self._switch_pin, self.seated)
        self.board.hx711(counts=self.counts(self.plant.sample().force_n or 0.0), mode="ok")
        self.trace: list[Point] = []
        self.faults: list[tuple[str, int]] = []  # kind, simulated ns injected at

    def counts(self, force_n: float) -> int:
        return hx711_counts(force_n, self.offset, self.scale)  # the emulator's HX711 too

    def inject(self, kind: str) -> int:
        """A plant fault from now on; returns the simulated time (ns) it took effect."""
        # The time first: on a bench a reading after the switch has opened can come after the
        # pump has already stopped, and a wait for that stop from then would never see it.
        t = self.rig.now_ns()
        self.plant.inject(kind)
        self._show_fault(kind)  # the switch and the cell show it now, not at the next chunk
        self.faults.append((kind, t))
        self._follow(t)
        return t

    def _show_fault(self, kind: str) -> None:
        """Sets the syringe switch or the load cell to what a fault shows at once (the plant
        applies it at its next advance; a line fault shows only through the force)."""
        if kind in ("sensor_open", "sensor_saturated"):
            self._mode = kind.removeprefix("sensor_")
            self.board.hx711(mode=self._mode)
        elif kind == "syringe_removed":
            self._present = False
            self.board.set_input(self._switch_pin, 1 - self.seated)

    def step(self) -> Point:
        """Runs the board 100 ms, then moves the plant by the steps it made and sets the load
        cell and the syringe switch to what the plant reads (the steps since the last chunk:
        the board may have run on while the host talked to it)."""
        return self._follow(self.board.run_ns(CHUNK_NS))

    def _follow(self, t: int) -> Point:
        """The plant follows the board to time t: the steps made since the last time, then
        the cell and the switch set to what it reads."""
        n = self._step_count(t)
        new = n - self._count if n >= self._count else n  # a reset clears the count
        self._count = n
        if new:
            self.steps += self._signed(new, self._since, t)
        self._since = t
        p = self.plant
        p.advance((t - self.t0_ns) / NS_PER_S, self.steps)
        s = p.sample()
        if s.syringe_present != self._present:
            self._present = s.syringe_present
            level = self.seated if s.syringe_present else 1 - self.seated
            self.board.set_input(self._switch_pin, level)
        if s.force_n is None:
            if self._mode != "open":
                self._mode = "open"
                self.board.hx711(mode="open")
        elif self._mode != "saturated":
            self.board.hx711(counts=self.counts(s.force_n))
        pt = Point(p.t, self.steps, s.force_n, s.pressure_mmhg, s.syringe_present)
        self.trace.append(pt)
        return pt

    def _step_count(self, t: int) -> int:
        """STEP pulses so far (time stands still on the virtual board: t is now)."""
        return self.board.count(self._step_pin)

    def run_s(self, seconds: float) -> None:
        for _ in range(round(seconds * NS_PER_S / CHUNK_NS)):
            self.step()

    def _signed(self, new: int, since_ns: int, until_ns: int) -> int:
        """The chunk's `new` STEP pulses (up to until_ns, inclusive) as plunger travel: each
        counts forward or back by the DIR level it went out at (a back-off draws the plunger
        back); a flip at a step's own time applies to that step."""
        end = until_ns + 1
        rising, falling = self.board.edges(self._dir_pin, self._dir_until, end)
        flips = sorted([(x, 1) for x in rising] + [(x, 0) for x in falling])
        level = self._dir_level
        self._dir_until = end
        if not flips:
            return new if level == self.dir_forward else -new
        self._dir_level = flips[-1][1]
        total = 0
        i = 0
        for s in self.rig.step_times(since_ns, end)[-new:]:
            while i < len(flips) and flips[i][0] <= s:
                level = flips[i][1]
                i += 1
            total += 1 if level == self.dir_forward else -1
        return total

    def run_until_motor_off(
        self, seconds: float, en_off: int = 1, since_ns: int | None = None
    ) -> int | None:
        """Runs in chunks until the EN pin goes to `en_off` (the driver de-energised) at or
        after since_ns (default: now; give the fault's time: on a bench the pump may have
        stopped before "now" is read) or `seconds` have passed; the time (ns) of that EN edge,
        or None."""
        pin = self.rig.pins["en"]
        since = self.rig.now_ns() if since_ns is None else since_ns
        for _ in range(round(seconds * NS_PER_S / CHUNK_NS)):
            self.step()
            rising, falling = self.board.edges(pin, since)
            edges = rising if en_off else falling
            if edges:
                return edges[0]
        return None

    def steps_between(self, since_ns: int, until_ns: int | None = None) -> int:
        return len(self.rig.step_times(since_ns, until_ns))


def adc_raw(mv: int) -> int:
    """The RP2040 ADC's 12-bit result for mv at the pin (3V3 reference; board.mjs's adcRaw)."""
    return max(0, min(4095, round(mv * 4095 / 3300)))


class VirtualRig:
    capabilities = frozenset({"pins", "time", "power", "plant", "supply"})

    def __init__(self, board: VirtualBoard, pins: dict[str, int]) -> None:
        self.board = board
        self.pins = {**pins, "mark": MARK_PIN}

    def now_ns(self) -> int:
        return self.board.now_ns()

    def run_s(self, seconds: float) -> int:
        return self.board.run_ns(int(seconds * NS_PER_S))

    def step_times(self, since_ns: int, until_ns: int | None = None) -> list[int]:
        """Rising STEP edges (simulated ns) in [since_ns, until_ns)."""
        rising, _ = self.board.edges(self.pins["step"], since_ns, until_ns)
        return rising

    def level(self, name: str) -> int:
        return int(self.board.pins()[self.pins[name]]["level"])

    def edges(self, name: str, since_ns: int = 0) -> tuple[list[int], list[int]]:
        return self.board.edges(self.pins[name], since_ns)

    def power_cycle(self, off_s: float = 0.0) -> None:
        self.board.power_cut()
        self.run_s(max(off_s, 1.0))  # boot to the REPL

    def reset(self) -> None:
        self.board.reset()
        self.run_s(1.0)

    def cut_on_mark(self, delay_ns: int, timeout_s: float = 1.0) -> tuple[int, int]:
        """Cuts the power delay_ns after the next rising edge of the mark pin, then boots for
        1 s; returns the times (ns) of that edge and of the cut. The board runs in steps no
        longer than the delay until the edge comes, so the cut is never late."""
        pin = self.pins["mark"]
        step = max(1_000, min(20_000, delay_ns))
        since = self.now_ns()
        while True:
            rising, _ = self.board.edges(pin, since)
            if rising:
                break
            if self.now_ns() - since > timeout_s * NS_PER_S:
                raise AssertionError(f"no rising edge on GPIO {pin} within {timeout_s:g} s")
            self.board.run_ns(step)
        rise = rising[0]
        cut = self.board.power_cut(at_ns=max(rise + delay_ns, self.now_ns()))
        self.run_s(1.0)
        return rise, cut

    def plant(self, syringe_id: str, fill_ml: float, seed: int = 1) -> PlantLoop:
        """The plant in the loop from now, for the syringe the pump has loaded."""
        return PlantLoop(self, syringe_id, fill_ml, seed)

    def supply(self, vsys_mv: int, cell_pin_mv: int, vbus: bool) -> None:
        """The Pico's supply sensing (issue 21, drivers/supply.py): VSYS on ADC3 (through
        the board's 1/3 divider), the cell's divider on ADC2 (-1: leave it), VBUS on GP24."""
        b = self.board
        b.set_adc(3, adc_raw(vsys_mv // 3))
        if cell_pin_mv >= 0:
            b.set_adc(2, adc_raw(cell_pin_mv))
        b.set_input(self.pins["vbus_sense"], int(vbus))

    def idle_supply(self) -> None:
        """Back to the board's resting supply: USB present, a fresh 9 V cell (board.mjs)."""
        self.supply(4750, 9500 // 4, True)

    def idle_plant(self) -> None:
        """Back to the board's resting devices: zero force, a working cell, syringe seated."""
        self.board.hx711(counts=loadcell.DEFAULT_OFFSET, mode="ok")
        self.board.set_input(self.pins["syringe"], boards.load("vpico").syringe_seated)
