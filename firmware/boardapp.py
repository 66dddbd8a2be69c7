# The pump application wired to this board's drivers; the frozen _boot.py imports it on every
# reset, so `pump` is at the REPL:
#   mpremote resume exec "pump.dose(1632, 500); pump.start()"
# The step pipeline is serviced by a soft timer, not a foreground loop, so the REPL (and
# mpremote's Ctrl-C) never stops delivery. A watchdog is fed only by a service step that
# ran cleanly: if the service stops running, the board resets into the safe, alarmed state.
import time

import rp2
from machine import WDT, WDT_RESET, Pin, Timer, reset_cause

import board
from drivers.flashlog import FS_BYTES, LOG_BYTES, FlashLog
from drivers.pio_stepper import PIOStepper
from drivers.retained import Retained
from pump.api import Pump

SERVICE_MS = 20
WATCHDOG_MS = 2000  # 100 missed service steps
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
pump = Pump(
    board.MECHANICS,
    stepper,
    time.ticks_us,
    retained=Retained(),
    cause=_reset_cause(),
    log=log,
)
watchdog = WDT(timeout=WATCHDOG_MS)


def _tick(_t, service=pump.service, feed=watchdog.feed):
    # No global lookups here: these globals are the REPL's, and rp2.asm_pio clears them
    # while it assembles a program typed at the REPL, even with the pump running.
    if service():
        feed()


service_timer = Timer(-1, mode=Timer.PERIODIC, period=SERVICE_MS, callback=_tick)
print("pump ready on", board.NAME)
