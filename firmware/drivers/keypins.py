# The bedside keys on the board's pins (board.PINS key_ok ... key_bolus: momentary switches to
# GND on inputs with pull-ups, so pressed reads 0; the bench fixture presses them open drain).
# read() gives pump.keys the mask of keys pressed, bit k for key k; debounce, long presses
# and chords are pump.keys' (pure logic, tested on every target).
from machine import Pin

from pump import keys


class KeyPins:
    def __init__(self, pins):
        # In pump.keys' order: NAMES[k] is the key of bit k.
        self._pins = [Pin(pins["key_" + n], Pin.IN, Pin.PULL_UP) for n in keys.NAMES]

    def read(self):
        """The mask of keys pressed now (no allocation: a timer calls it every 10 ms)."""
        m = 0
        k = 0
        for p in self._pins:
            if not p.value():
                m |= 1 << k
            k += 1
        return m

    def irq(self, handler):
        """handler(pin) on every edge of every key (scheduled, not hard), or None: off."""
        for p in self._pins:
            if handler is None:
                p.irq(None)
            else:
                p.irq(handler, Pin.IRQ_FALLING | Pin.IRQ_RISING)
