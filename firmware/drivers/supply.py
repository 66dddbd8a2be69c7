# The supply's sensing on the Pico (issue 21; pins in board.py, wiring in
# boards/pico/WIRING.md): VSYS/3 on ADC3 (GP29), VBUS present on GP24, and a 9 V cell through
# its divider on ADC2 (GP28) where the battery definition says so. read() is what
# pump/power.py's Supply asks for each service step; battery is the definition.
from machine import ADC, Pin

# The ADC's reference is the Pico's 3V3 (ADC_VREF through 200 ohm: Pico datasheet); read_u16
# scales the 12-bit result to 16 bits. mV at the pin = raw16 x 3300 / 65535.
VREF_MV = 3300
_SAMPLES = 4  # averaged: the RP2040 ADC's noise is a few LSB (RP2040 datasheet, ENOB 8.7)


class Supply:
    def __init__(self, battery, vsys_pin, vbus_pin, cell_pin=None):
        self.battery = battery
        self._vsys = ADC(Pin(vsys_pin))
        self._vbus = Pin(vbus_pin, Pin.IN)
        self._cell = None
        if cell_pin is not None and battery["sense"][0] == "divider":
            self._cell = ADC(Pin(cell_pin))

    @staticmethod
    def _mv(adc):
        n = 0
        for _ in range(_SAMPLES):
            n += adc.read_u16()
        return n * VREF_MV // (65535 * _SAMPLES)

    def read(self):
        """(VSYS mV, the cell pin's mV or -1, VBUS present)."""
        aux = self._mv(self._cell) if self._cell is not None else -1
        return self._mv(self._vsys) * 3, aux, self._vbus.value()


def get(board):
    """The board's supply sensing, or None where it names no battery."""
    name = getattr(board, "BATTERY", None)
    if not name:
        return None
    import batteries

    p = board.PINS
    return Supply(batteries.get(name), p["vsys_adc"], p["vbus_sense"], p.get("cell_adc"))
