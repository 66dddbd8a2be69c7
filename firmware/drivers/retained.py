# State that survives a soft reset and a watchdog reset: the RP2040 watchdog's scratch
# registers 0-3 (pico-sdk keeps 4-7 for its reboot magic). A power cut or the RUN pin clears
# them, so after one of those there is nothing to read.
from machine import mem32
from micropython import const

_STATE = const(0x4005800C)  # magic | state code
_STEPS = const(0x40058010)  # steps delivered from the loaded syringe
_VOL_NUM = const(0x40058014)  # nL per step of that syringe, as num / den
_VOL_DEN = const(0x40058018)
_MAGIC = const(0x2A5A0000)  # below 2**30: reads back as a small int, no allocation
_CODE_MASK = const(0xFF)


class Retained:
    def read(self):
        """(state code, steps, vol num, vol den) as last saved, or None after a power-up."""
        word = mem32[_STATE]
        if word & ~_CODE_MASK != _MAGIC:
            return None
        return word & _CODE_MASK, mem32[_STEPS], mem32[_VOL_NUM], mem32[_VOL_DEN]

    def load(self, vol_num, vol_den):
        mem32[_VOL_NUM] = vol_num
        mem32[_VOL_DEN] = vol_den

    def save(self, code, steps):
        mem32[_STEPS] = steps
        mem32[_STATE] = _MAGIC | code
