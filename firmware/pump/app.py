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
    target has none: signal (the alarm buzzer and LED driver), display (the SSD1306 driver:
    show(buf), and buf, its picture), keys (the key reader: read() -> the mask of keys
    pressed, pump.keys' numbering); image_id: the image's digest (the info screen)."""

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
        image_id="",
        supply=None,
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
        self.image_id = image_id
        # The supply's sensing (drivers/supply.py's interface: battery, its definition;
        # read() -> (vsys_mv, aux_mv, vbus)) or None: a pump that does not know its supply.
        self.supply = supply


class App:
    """The built application: pump, runner (pump.program) and proto (None if it could not
    be made: proto_error says why; the pump runs on without its protocol)."""

    def __init__(self, pump, runner, proto, proto_error=None, ui=None, ui_error=None):
        self.pump = pump
        self.runner = runner
        self.proto = proto
        self.proto_error = proto_error
        # The bedside interface (pump.ui.UI) where the target has a display or keys: the
        # target calls ui.poll(ticks_ms) every 5-10 ms and ui.step(ticks_ms) every 50 ms.
        self.ui = ui
        self.ui_error = ui_error  # why there is none, if making it failed


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
    if hal.signal is not None:
        pump.attach_signal(hal.signal)  # before anything else can fail: alarms sound
    run = runner.Runner(pump, hal.clock())
    if hal.supply is not None:  # the gauge and battery alarms (pump/power.py, issue 21)
        from pump import power

        pump.power = power.PumpPower(pump, hal.supply)  # serviced after each service step
    if hal.boot is not None:
        hal.boot(pump)
    try:
        proto = protocol.Protocol(pump, hal.store, library=hal.library, rand=hal.rand, runner=run)
    except Exception as e:  # noqa: BLE001 - the pump runs on without its protocol channel
        return App(pump, run, None, e)
    face = err = None
    if hal.display is not None or hal.keys is not None:
        try:
            face = bedside(pump, proto, hal)
        except Exception as e:  # noqa: BLE001 - the pump runs on without its bedside UI
            err = e
    return App(pump, run, proto, ui=face, ui_error=err)


def bedside(pump, proto, hal):
    """The bedside interface over proto's commands (pump/ui.py), drawing straight into the
    display's own picture buffer when it has one (no copy per frame)."""
    from pump import canvas, ui

    buf = getattr(hal.display, "buf", None)
    return ui.UI(
        pump,
        proto,
        canvas.Canvas(buf) if buf is not None else canvas.Canvas(),
        hal.display,
        image_id=hal.image_id,
        reader=hal.keys,
    )
