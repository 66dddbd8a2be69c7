# Pump firmware entry point (frozen into the image). Builds the pump from the board
# definition and leaves `pump` in the REPL's globals:
#   mpremote exec "pump.dose(1632, 500); pump.start()"
#   mpremote exec "print(pump.status())"
# The step pipeline is serviced by a soft timer, not a foreground loop, so the REPL (and
# mpremote's Ctrl-C) never stops delivery.
import time

from machine import Pin, Timer

import board
from drivers.pio_stepper import PIOStepper
from pump.api import Pump

SERVICE_MS = 20

stepper = PIOStepper(
    0,
    Pin(board.PINS["step"]),
    Pin(board.PINS["dir"], Pin.OUT, value=0),
    Pin(board.PINS["en"], Pin.OUT, value=1 if board.EN_ACTIVE_LOW else 0),
    board.EN_ACTIVE_LOW,
    board.DIR_FORWARD,
)
pump = Pump(board.MECHANICS, stepper, time.ticks_us)
_service = pump.service  # bound once; the timer calls it every SERVICE_MS


def _tick(_t):
    _service()


service_timer = Timer(-1, mode=Timer.PERIODIC, period=SERVICE_MS, callback=_tick)
print("pump ready on", board.NAME)
