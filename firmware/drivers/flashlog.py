# The dose and event log's flash on the Pico: a raw region carved from the end of the
# storage area, not a file on littlefs (pump/LOG-FORMAT.md, "Where the log lives", says why).
#
#   0x000000-0x09FFFF  the MicroPython image (640 KB, the port's layout)
#   0x0A0000-0x13FFFF  littlefs, mounted at / by _boot.py (640 KB, FS_BYTES)
#   0x140000-0x1FFFFF  the log ring (768 KB, LOG_BYTES: 192 sectors of 254 records)
#
# The board application builds it (drivers are handed their hardware):
#   import rp2, time
#   from drivers.flashlog import FS_BYTES, LOG_BYTES, FlashLog
#   log = FlashLog(rp2.Flash(start=FS_BYTES, len=LOG_BYTES), time.ticks_us())
from micropython import const

from pump.logring import LogRing

FS_BYTES = const(655360)  # littlefs: the first 640 KB of the storage area (as in _boot.py)
LOG_BYTES = const(786432)  # the log: the last 768 KB
_ERASE = const(6)  # the block device ioctl that erases one 4 KB block
_COUNT = const(4)  # ... and the one that gives the number of blocks


class RP2Flash:
    """pump.logring's NOR interface over an rp2.Flash region: reads come from the XIP window;
    writeblocks with an offset programs without erasing; ioctl 6 erases one sector. Each
    program or erase holds the CPU with interrupts off until the chip is done (0.4 ms per
    page, 45 ms per sector typical): the PIO FIFO keeps stepping meanwhile."""

    def __init__(self, bdev):
        self._b = bdev
        self.size = bdev.ioctl(_COUNT, 0) * 4096

    def readinto(self, off, buf):
        self._b.readblocks(0, buf, off)

    def program(self, off, buf):
        self._b.writeblocks(0, buf, off)

    def erase(self, off):
        self._b.ioctl(_ERASE, off >> 12)


class FlashLog(LogRing):
    """The log ring on the Pico's flash. log_id: for a new log only (default: random)."""

    def __init__(self, bdev, tick, uptime=0, key=None, log_id=None, seal_every=64):
        if log_id is None:
            import os

            log_id = int.from_bytes(os.urandom(4), "little") & 0x3FFFFFFF
        super().__init__(RP2Flash(bdev), tick, uptime, key, log_id, 0, seal_every)
