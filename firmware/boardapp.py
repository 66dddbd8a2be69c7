# The pump application wired to this board's drivers; the frozen _boot.py imports it on every
# reset, so `pump` is at the REPL:
#   mpremote resume exec "pump.load('bd-plastipak-10ml', '10'); pump.dose(1632, 500); pump.start()"
# The step pipeline is serviced by a soft timer, not a foreground loop, so the REPL (and
# mpremote's Ctrl-C) never stops delivery. A watchdog is fed only by a service step that
# ran cleanly: if the service stops running, the board resets into the safe, alarmed state.
import time

import imageid  # frozen by the build: a digest of the image's sources
import protolink
import rp2
from machine import WDT, WDT_RESET, Pin, Timer, disable_irq, enable_irq, reset_cause, unique_id

import board
from drivers.flashlog import FS_BYTES, LOG_BYTES, FlashLog
from drivers.pio_stepper import PIOStepper
from drivers.retained import Retained
from pump import app as pump_app
from pump import protocol
from pump.api import SERVICE_CALM_MS

WATCHDOG_MS = 4 * SERVICE_CALM_MS  # 4 service steps at the slowest period
HX711_SM = 7  # PIO1 SM3: the stepper has PIO0 SM0
_BOOT_MS = 1500  # a hardware reset reaches here well within this; a soft reset rarely does


def _reset_cause():
    # A soft reset leaves the timer running; a hardware reset restarts it at 0.
    if time.ticks_ms() > _BOOT_MS:
        return "a soft reset"
    return "a watchdog reset" if reset_cause() == WDT_RESET else "a reset"


stepper = PIOStepper(
    0,
    Pin(board.PINS["step"]),
    Pin(board.PINS["dir"], Pin.OUT, value=0),
    Pin(board.PINS["en"], Pin.OUT, value=1 if board.EN_ACTIVE_LOW else 0),
    board.EN_ACTIVE_LOW,
    board.DIR_FORWARD,
)
# The dose and event log on its raw flash region (pump/LOG-FORMAT.md); opening it finds the
# head after a power cut (LOG_OPEN_MS: how long that took).
_t = time.ticks_us()
log = FlashLog(rp2.Flash(start=FS_BYTES, len=LOG_BYTES), _t, uptime=time.ticks_ms() // 1000)
LOG_OPEN_MS = time.ticks_diff(time.ticks_us(), _t) // 1000


def _load_cell():
    # The HX711 on the pusher and the syringe switch (pump/loadcell.py); the calibration
    # from /calib.json, else the nominal one. A bad file is reported and not used.
    from drivers.hx711 import HX711
    from pump import loadcell

    try:
        offset, scale, stored = loadcell.load_calibration()
    except ValueError as e:
        print("load cell: %s is bad (%s): nominal calibration" % (loadcell.CALIB_PATH, e))
        offset, scale, stored = loadcell.DEFAULT_OFFSET, loadcell.DEFAULT_SCALE, False
    if not stored:
        print("load cell: not calibrated (no %s): nominal figures" % loadcell.CALIB_PATH)
    hx = HX711(
        HX711_SM,
        Pin(board.PINS["hx711_dout"], Pin.IN, Pin.PULL_UP),
        Pin(board.PINS["hx711_sck"], Pin.OUT, value=0),
    )
    switch = Pin(board.PINS["syringe"], Pin.IN, Pin.PULL_UP)
    return hx, loadcell.LoadCell(
        hx.get, time.ticks_us, switch, board.SYRINGE_SEATED, offset, scale, waiting=hx.waiting
    )


def _follow_image(_pump):
    # After the pump's BOOT record and before the protocol reads the settings: a reflash
    # leaves clinical mode (protolink.follow_image).
    try:
        protolink.follow_image(imageid.ID, log, time.ticks_us())
    except OSError as e:  # the filesystem: the stored mode then stands as it is
        print("image id: not checked:", repr(e))


def _drug_library():
    try:
        return protolink.library()
    except Exception as e:  # noqa: BLE001 - the protocol runs on without a library
        print("protocol: drug library not read:", repr(e))
        return None


def _alarm_signal():
    # The buzzer and LED _boot.py started (drivers/alarmsignal.py); the pump runs on without.
    from drivers import alarmsignal

    try:
        return alarmsignal.get(board)
    except Exception as e:  # noqa: BLE001 - delivery does not depend on it
        print("alarm signal: not started:", repr(e))
        return None


def _bedside_parts():
    # The SSD1306 panel on I2C0 and the six keys (drivers/ssd1306.py, drivers/keypins.py); the
    # pump runs on without either. A panel that does not answer is found by the UI's first
    # write: the display_fault alarm (pump/ui.py).
    display = keys = None
    try:
        from drivers import ssd1306

        display = ssd1306.open_board(board.PINS)
    except Exception as e:  # noqa: BLE001 - delivery does not depend on it
        print("display: not started:", repr(e))
    try:
        from drivers.keypins import KeyPins

        keys = KeyPins(board.PINS)
    except Exception as e:  # noqa: BLE001 - delivery does not depend on it
        print("keys: not started:", repr(e))
    return display, keys


def _supply():
    # The supply's sensing (drivers/supply.py: ADC3, GP24, the cell's divider) for the gauge
    # and the battery alarms (pump/power.py); the pump runs on without.
    from drivers import supply

    try:
        return supply.get(board)
    except Exception as e:  # noqa: BLE001 - delivery does not depend on it
        print("supply: not read:", repr(e))
        return None


hx711, cell = _load_cell() if getattr(board, "LOAD_CELL", False) else (None, None)
_display, _keys = _bedside_parts()
# The same assembly as the emulator's (pump/app.py): pump, program runner, protocol handler.
app = pump_app.build(
    pump_app.HAL(
        board.MECHANICS,
        stepper,
        time.ticks_us,
        protocol.FileStore(protolink.SETTINGS),
        retained=Retained(),
        cause=_reset_cause(),
        log=log,
        sensors=cell,
        uid=unique_id(),  # the flash chip's 64-bit id: names the pump's pulled logs (zeros: none)
        library=_drug_library(),
        rand=protolink.urandom,
        boot=_follow_image,
        signal=_alarm_signal(),
        supply=_supply(),
        display=_display,
        keys=_keys,
        image_id=imageid.ID,
    )
)
pump, runner, proto = app.pump, app.runner, app.proto
ui = app.ui  # the bedside interface (pump/ui.py), or None
watchdog = WDT(timeout=WATCHDOG_MS)


service_timer = Timer(-1)


def _tick(_t, service=pump.service, feed=watchdog.feed, off=disable_irq, on=enable_irq):
    # Defaults, not globals (rp2.asm_pio at the REPL clears the globals) nor a closure (one
    # with over 4 cells allocates). Interrupts off so a Ctrl-C never cuts the step half way;
    # one already pending is raised by the `if` below, before the step, and dropped.
    s = off()
    try:
        try:
            if _t:
                pass
        except KeyboardInterrupt:
            pass
        # False when a command held this step off (status() then ran it): no feed.
        if service():
            feed()
    except BaseException:  # service() catches its own; never leave interrupts off
        on(s)
        raise
    on(s)


def _period(ms):
    # ms: the period the service step needs now (pump.api.Pump.service_ms).
    service_timer.init(mode=Timer.PERIODIC, period=ms, callback=_tick)


pump.follow_period(_period)

UI_POLL_MS = 10  # while a key is down the keys are sampled this often (pump.keys: 20 ms)
UI_STEP_POLLS = 5  # and the UI steps every 5th poll: 50 ms
UI_IDLE_MS = 250  # no key down: the UI steps this often; a key's edge (a pin IRQ) speeds up
ui_timer = Timer(-1)


class _Bedside:
    # The UI's timer: fast from a key's edge until every key is up, else slow, so an idle
    # pump wakes 4 times a second, not 100. No globals in the callbacks: see _tick.

    def __init__(self, face, timer):
        self.face = face
        self.timer = timer
        self.fast = False
        self.periodic = Timer.PERIODIC
        self.cb = self.tick  # bound once: re-arming the timer allocates nothing

    def rate(self, fast, poll=UI_POLL_MS, idle=UI_IDLE_MS):
        self.fast = fast
        self.timer.init(mode=self.periodic, period=poll if fast else idle, callback=self.cb)

    def edge(self, _pin):
        if not self.fast:
            self.rate(True)

    def tick(self, _t, ms=time.ticks_ms, off=disable_irq, on=enable_irq, every=UI_STEP_POLLS):
        # The keys; then (every `every` polls when fast) the UI's step with interrupts off
        # (its commands, as the protocol's, must not be cut half way by a Ctrl-C; a few ms)
        # and the drawing with them on (the canvas and the 1 KB I2C write take tens of ms;
        # the PIO steps on from its FIFO meanwhile).
        face = self.face
        try:
            now = ms()
            face.poll(now)
            if self.fast and face.polls % every:
                return
            s = off()
            try:
                try:
                    if _t:
                        pass
                except KeyboardInterrupt:
                    pass
                face.step(now, False)
            finally:
                on(s)
            face.flush()
            if self.fast == face.keys.idle():  # (a key the IRQ missed: the slow poll saw it)
                self.rate(not self.fast)
        except KeyboardInterrupt:
            pass  # meant for the REPL's code, landed in the drawing: the next step draws again
        except MemoryError:
            pass  # no heap now (locked, or full): the next tick tries again; print would fail
        except Exception as e:  # noqa: BLE001 - a fault in the UI must not stop the timer
            face.faults += 1
            print("bedside UI:", repr(e))


_bedside = _Bedside(ui, ui_timer) if ui is not None else None


def bedside(on=True):
    """The bedside UI's timer (and its key IRQs) on or off (a HIL test that draws on the
    panel itself first turns it off)."""
    if _bedside is None:
        return
    if on:
        if _keys is not None:
            _keys.irq(_bedside.edge)
        _bedside.rate(False)
    else:
        if _keys is not None:
            _keys.irq(None)
        ui_timer.deinit()


if ui is None:
    if app.ui_error is not None:
        print("bedside UI: not started:", repr(app.ui_error))
else:
    bedside(True)
# The pump protocol on UART1 (protolink.py); in clinical mode the REPL goes off for good.
link = None
if proto is None:
    print("protocol: not started:", repr(app.proto_error))
else:
    try:
        link = protolink.start(proto)
    except Exception as e:  # noqa: BLE001 - the pump runs on without its protocol channel
        print("protocol: not started:", repr(e))
print("pump ready on", board.NAME)
# No gc.collect() here: with it the virtual Pico's PIO countdown skip misfires
# (hil/test_pio_skip.py; an emulator fault, issue 12).
if protolink.stored_mode() == protolink.CLINICAL:
    protolink.lock_repl()  # never returns: the protocol is the only way in
