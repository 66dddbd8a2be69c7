# ruff: noqa: UP031 (MicroPython code: %-formatting, as in firmware/)
# Append cost of the flash log on MicroPython (unix port), over a RAM NOR with the same
# interface as drivers.flashlog.RP2Flash. Usage: micropython tests/bench_log.py
import sys
import time

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../firmware")

from pump import events  # noqa: E402
from pump.logring import LogRing  # noqa: E402


class Nor:
    def __init__(self, sectors):
        self.size = sectors * 4096
        self.mem = bytearray(b"\xff" * self.size)

    def readinto(self, off, buf):
        mem = self.mem
        for i in range(len(buf)):
            buf[i] = mem[off + i]

    def program(self, off, buf):
        mem = self.mem
        for i in range(len(buf)):
            mem[off + i] &= buf[i]

    def erase(self, off):
        mem = self.mem
        for i in range(off, off + 4096):
            mem[i] = 0xFF


def bench(n=2000):
    nor = Nor(8)
    ring = LogRing(nor)
    t = time.ticks_us()
    for i in range(n):
        ring.add(i, events.DELIVERED, i * 2266, i)
    us = time.ticks_diff(time.ticks_us(), t)
    t = time.ticks_us()
    LogRing(nor)
    open_us = time.ticks_diff(time.ticks_us(), t)
    print(
        "log append: %d us per record on the unix port (%d records; the RAM flash's byte "
        "loops included, program + read-back)" % (us // n, n)
    )
    print("log open (recovery) over 8 sectors: %d us" % open_us)


bench()
