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


def _tick(_t, service=pump.service):
    # No global lookups here: these globals are the REPL's, and rp2.asm_pio clears them
    # while it assembles a program typed at the REPL, even with the pump running.
    service()


service_timer = Timer(-1, mode=Timer.PERIODIC, period=SERVICE_MS, callback=_tick)
print("pump ready on", board.NAME)
