# The one assembly: the pump, its program runner and its protocol handler, built from a HAL.
# The board (boardapp.py) and the emulator (pumphost.sim.emulator) both build through build(), so
# what runs in the emulator is what runs on the board.
from pump import protocol, runner
from pump.api import Pump


class HAL:
    """What a target gives the application. mech: the drive (lead_um, full_steps_per_rev,
    microsteps); stepper: the step executor (drivers/pio_stepper.py's interface); clock() ->
    ticks_us; store: the protocol's settings (protocol.FileStore, MemoryStore); retained: what
    survives a soft or watchdog reset (drivers/retained.py's interface) or None; cause: why the
    pump booted ("a soft reset", "a watchdog reset", else a power-on); log: the dose and event
    log (None: in RAM); sensors: the load cell (pump.loadcell.LoadCell's interface) or None;
    uid: the board's unique id; serial: the pump's name; library: the drug library or None;
    rand(n) -> n random bytes (None: no PIN can be set); ceiling: the alarm volume ceiling.
    boot(pump), if given, runs after the pump is made and before the protocol reads its
    settings (the board: a reflash leaves clinical mode). The bedside parts, None where a
    target has none: signal (the alarm buzzer and LED driver), display (the SSD1306 driver),
    keys (the key reader)."""

    def __init__(
        self,
        mech,
        stepper,
        clock,
        store,
        retained=None,
        cause="power_on",
        log=None,
        sensors=None,
        uid=b"",
        serial="",
        library=None,
        rand=None,
        ceiling="medium",
        boot=None,
        signal=None,
        display=None,
        keys=None,
    ):
        self.mech = mech
        self.stepper = stepper
        self.clock = clock
        self.store = store
        self.retained = retained
        self.cause = cause
        self.log = log
        self.sensors = sensors
        self.uid = uid
        self.serial = serial
        self.library = library
        self.rand = rand
        self.ceiling = ceiling
        self.boot = boot
        self.signal = signal
        self.display = display
        self.keys = keys


class App:
    """The built application: pump, runner (pump.program) and proto (None if it could not
    be made: proto_error says why; the pump runs on without its protocol)."""

    def __init__(self, pump, runner, proto, proto_error=None):
        self.pump = pump
        self.runner = runner
        self.proto = proto
        self.proto_error = proto_error


def build(hal):
    """The pump, its program runner and its protocol handler on `hal` (an HAL)."""
    pump = Pump(
        hal.mech,
        hal.stepper,
        hal.clock,
        retained=hal.retained,
        cause=hal.cause,
        log=hal.log,
        sensors=hal.sensors,
        ceiling=hal.ceiling,
        serial=hal.serial,
        uid=hal.uid,
    )
    run = runner.Runner(pump, hal.clock())
    if hal.boot is not None:
        hal.boot(pump)
    try:
        proto = protocol.Protocol(pump, hal.store, library=hal.library, rand=hal.rand, runner=run)
    except Exception as e:  # noqa: BLE001 - the pump runs on without its protocol channel
        return App(pump, run, None, e)
    return App(pump, run, proto)
