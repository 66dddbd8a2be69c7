# A small honest NOR flash in RAM for the log ring's tests: erase sets a sector to 0xFF,
# programming only clears bits, and the power can be cut after any number of bytes.


class PowerCut(Exception):
    pass


class RamNor:
    # Pages of 256 bytes, kept only once programmed (an absent page reads as erased): the
    # unix port's 192 KB heap, fragmented by the other core tests, has no large blocks.
    def __init__(self, sectors=4):
        self.size = sectors * 4096
        self.pages = {}
        self.budget = -1  # bytes the power lasts for; -1: forever
        self.erases = [0] * sectors
        self.programs = 0

    def _spend(self):
        if self.budget == 0:
            raise PowerCut()
        if self.budget > 0:
            self.budget -= 1

    def readinto(self, off, buf):
        page = self.pages.get(off // 256)
        o = off % 256
        assert o + len(buf) <= 256
        for i in range(len(buf)):
            buf[i] = page[o + i] if page is not None else 0xFF

    def program(self, off, buf):
        assert off % 256 == 0 and len(buf) == 256
        self.programs += 1
        page = self.pages.get(off // 256)
        if page is None:
            page = self.pages[off // 256] = bytearray(b"\xff" * 256)
        for i in range(256):
            self._spend()
            page[i] &= buf[i]

    def erase(self, off):
        assert off % 4096 == 0
        self.erases[off // 4096] += 1
        # Every page takes its time, erased already or not: a cut can land in any of them.
        for p in range(off // 256, off // 256 + 16):
            page = self.pages.get(p)
            if self.budget < 0 or self.budget >= 256:
                self.budget = self.budget - 256 if self.budget >= 0 else -1
                self.pages.pop(p, None)
                continue
            for i in range(256):  # the power runs out inside this page
                self._spend()
                if page is not None:
                    page[i] = 0xFF
