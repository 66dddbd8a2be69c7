"""The emulator's load cell is the board's: the plant's force reaches the firmware's own
pump.loadcell.LoadCell as the HX711's raw words (pumphost.sim.hal.SimHX711), so an open cell and
a saturated one raise sensor_fault when and where they do on the board.

The board here is boardapp.py's wiring run in simulated time: LoadCell(hx.get, ticks_us,
switch, SYRINGE_SEATED, offset, scale, waiting=hx.waiting) on an HX711 whose PIO program pushes
a word every 100 ms into its 8-word RX FIFO (drivers/hx711.py), the pump built through
pump.app.build, and the service step on the soft timer that Pump.follow_period (re)arms."""

from __future__ import annotations

from collections.abc import Callable

from pump import alarms, loadcell
from pump import app as core_app
from pump import protocol as core_protocol
from pumphost import boards
from pumphost.paths import REPO
from pumphost.sim import plant, scenario
from pumphost.sim.emulator import Emulator
from pumphost.sim.hal import SimHX711, VirtualClock
from simhw.stepper import SimClock, StepExecutor

FAULTS = REPO / "host_tools" / "scenarios" / "faults"
BOARD = boards.load("pico")
_24_BITS = 0xFFFFFF


def _word(counts: int) -> int:
    """What the virtual board's HX711 (host_tools/vboard/hx711.mjs) gives for `counts`: the
    chip clamps to its 24-bit two's complement range, the driver hands over the raw word."""
    return max(-0x800000, min(0x7FFFFF, counts)) & _24_BITS


class BoardHX711:
    """drivers/hx711.py's state machine: a conversion every loadcell.PERIOD_US from phase_us
    on, pushed without blocking into the joined RX FIFO (8 words; a full FIFO drops it);
    word(t) -> the conversion at elapsed us t, or None: none finished (DOUT stays high)."""

    def __init__(self, word: Callable[[int], int | None], phase_us: int) -> None:
        self.word = word
        self.next_us = phase_us
        self.fifo: list[int] = []

    def convert_to(self, t_us: int) -> None:
        while self.next_us <= t_us:
            w = self.word(self.next_us)
            if w is not None and len(self.fifo) < 8:
                self.fifo.append(w)
            self.next_us += loadcell.PERIOD_US

    def waiting(self) -> int:
        return len(self.fifo)

    def get(self) -> int:
        return self.fifo.pop(0)

    def load_cell(self, ticks_us: Callable[[], int]) -> loadcell.LoadCell:
        """boardapp._load_cell's LoadCell (no /calib.json: the nominal calibration)."""
        return loadcell.LoadCell(
            self.get,
            ticks_us,
            lambda: BOARD.syringe_seated,  # the switch: a syringe in place
            BOARD.syringe_seated,
            loadcell.DEFAULT_OFFSET,
            loadcell.DEFAULT_SCALE,
            waiting=self.waiting,
        )


def board_run(sc: scenario.Scenario, word: Callable[[int], int | None], phase_us: int) -> float:
    """The scenario's syringe and rate on the board's wiring until sensor_fault is raised;
    returns when (s after the start)."""
    clock = SimClock(sc.start_tick)
    hx = BoardHX711(word, phase_us)
    cell = hx.load_cell(clock.ticks)
    mech = {
        "lead_um": BOARD.lead_um,
        "full_steps_per_rev": BOARD.full_steps_per_rev,
        "microsteps": BOARD.microsteps,
    }
    stepper = StepExecutor(clock)
    pump = core_app.build(
        core_app.HAL(mech, stepper, clock.ticks, core_protocol.MemoryStore(), sensors=cell)
    ).pump
    whole, frac = divmod(sc.fill_nl, 1_000_000)
    pump.load(sc.syringe_id, f"{whole}.{frac:06d}")
    timer = {"period": 0, "next": 0}

    def arm(ms: int) -> None:  # boardapp._period: Timer.init(PERIODIC) from now
        timer["period"] = ms * 1000
        timer["next"] = clock.elapsed + ms * 1000

    pump.follow_period(arm)
    pump.set_rate_nl_h(*sc.rate)
    pump.start()
    while clock.elapsed < sc.duration_us:
        t = min(timer["next"], hx.next_us)
        stepper.run_to(t)
        clock.advance_to(t)
        hx.convert_to(t)
        if t == timer["next"]:
            timer["next"] += timer["period"]
            pump.service()
            if any(a.kind == alarms.SENSOR_FAULT for a in pump.active_alarms()):
                return t / 1e6
    raise AssertionError("no sensor_fault on the board")


def test_an_open_cell_raises_sensor_fault_after_the_same_time_on_both() -> None:
    sc = scenario.load(FAULTS / "sensor-open.toml")
    ((at_s, kind),) = sc.faults
    assert kind == "sensor_open"
    emu = Emulator(sc)
    res = emu.run()
    assert res.alarm_kinds == [alarms.SENSOR_FAULT]
    assert emu.sensors is not None and emu.sensors.fault == loadcell.NO_DATA
    emulator_s = float(res.alarms[0]["raised_s"])  # type: ignore[arg-type]
    # The board's cell reads a steady 3 N until the wire breaks. Its conversions land at the
    # emulator's sample instants, on the timer's ticks and just before the step there.
    counts = loadcell.DEFAULT_OFFSET + 3 * loadcell.DEFAULT_SCALE
    board_s = board_run(
        sc, lambda t: None if t >= at_s * 1e6 else _word(counts), loadcell.PERIOD_US
    )
    assert board_s == emulator_s
    # the board's rule: more than 0.5 s without a sample, seen at a service step (0.1 s apart)
    assert at_s + 0.4 < board_s <= at_s + 0.6


def test_a_sample_or_two_missing_is_no_fault() -> None:
    # Two conversions that never finished, then samples again: no fault, as on the board
    # (the emulator's own rule raised one at the first empty sample).
    sc = scenario.load(FAULTS / "sensor-open.toml")
    emu = Emulator(sc)
    assert emu.hx711 is not None
    sample = emu.hx711.sample

    def gap(t_s: float, steps: int) -> None:
        sample(t_s, steps)
        if 600.0 < t_s < 600.25:
            emu.hx711.clear()  # these two conversions never finished

    emu.hx711.sample = gap  # type: ignore[method-assign]
    res = emu.run()
    assert float(res.alarms[0]["raised_s"]) > 900  # type: ignore[arg-type]


class _Ramp:
    """A plant that reads the given forces in turn (the load cell's side of plant.Plant)."""

    saturated = False

    def __init__(self, forces: list[float]) -> None:
        self.forces = forces

    def advance(self, t_s: float, steps: int) -> None:
        pass

    def sample(self) -> plant.Sample:
        return plant.Sample(self.forces.pop(0), 0.0, True)


def test_saturation_is_the_hx711_clamp_on_both() -> None:
    # Forces up to and past where the nominal calibration reaches the HX711's clamp (191.65 N):
    # 50 N (the emulator's old limit, the cell's full scale) is a force like any other.
    scale = loadcell.DEFAULT_SCALE
    top = (loadcell.RAW_MAX - loadcell.DEFAULT_OFFSET) / scale
    forces = [0.0, 50.0, 100.0, top - 1 / scale, top, top + 1.0, 500.0, -500.0]
    clock = VirtualClock(0)
    hx = SimHX711(_Ramp(list(forces)), BOARD.syringe_seated)
    emulator = hx.load_cell(clock.ticks)
    board_words = [_word(loadcell.DEFAULT_OFFSET + round(f * scale)) for f in forces]
    board_hx = BoardHX711(lambda t: board_words[t // loadcell.PERIOD_US - 1], loadcell.PERIOD_US)
    board = board_hx.load_cell(clock.ticks)
    seen = []
    for i, _ in enumerate(forces):
        t = (i + 1) * loadcell.PERIOD_US
        clock.advance_to(t)
        hx.sample(t / 1e6, 0)
        board_hx.convert_to(t)
        got = (emulator.take(), emulator.fault, emulator.counts)
        assert got == (board.take(), board.fault, board.counts), forces[i]
        seen.append(got[1])
    ok, sat = loadcell.OK, loadcell.SATURATED
    assert seen == [ok, ok, ok, ok, sat, sat, sat, sat]
    assert emulator.counts == loadcell.RAW_MAX - 1  # the last good word: one below the clamp


def test_a_saturated_cell_in_a_run_is_the_clamped_word() -> None:
    sc = scenario.load(FAULTS / "sensor-saturated.toml")
    emu = Emulator(sc)
    res = emu.run()
    assert res.alarm_kinds == [alarms.SENSOR_FAULT]
    assert emu.sensors is not None and emu.sensors.fault == loadcell.SATURATED
    (at_s, _) = sc.faults[0]
    assert at_s <= float(res.alarms[0]["raised_s"]) <= at_s + 0.2  # type: ignore[arg-type]
