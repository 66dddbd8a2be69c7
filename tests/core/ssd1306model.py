# A model of an SSD1306 128x64 module on an I2C bus, for the driver's core tests (CPython and
# the unix port). It decodes what drivers.ssd1306 writes as the chip would (SSD1306 datasheet
# rev 1.5: 8.1.5.1 control bytes, 10.1.3 addressing modes, 10.1.4/10.1.5 windows,
# 10.1.1/10.1.2/10.1.13 page-mode pointers, 10.1.6 start line, 10.1.8/10.1.14 remaps,
# 10.1.9/10.1.10/10.1.12 on, invert, entire on; the charge pump's table 2-1) and shows what
# the glass would. The virtual Pico's model (host_tools/vboard/ssd1306.mjs) does the same in
# JavaScript; both are checked against the same expectations.
import errno

# Commands with arguments: how many bytes follow (table 9-1).
ARGS = {
    0x20: 1,
    0x21: 2,
    0x22: 2,
    0x26: 6,
    0x27: 6,
    0x29: 5,
    0x2A: 5,
    0x81: 1,
    0x8D: 1,
    0xA3: 2,
    0xA8: 1,
    0xD3: 1,
    0xD5: 1,
    0xD9: 1,
    0xDA: 1,
    0xDB: 1,
}


class Panel:
    """An I2C bus with one SSD1306 at addr: writeto(addr, buf) as machine.I2C's."""

    def __init__(self, addr=0x3C):
        self.addr = addr
        self.nack = False  # True: the panel does not answer (unplugged)
        self.transfers = 0
        self.reset()

    def reset(self):
        # Power-on state (table 9-1 reset values).
        self.ram = bytearray(1024)
        self.mode = 2  # page addressing
        self.col = self.page = 0
        self.col0, self.col1, self.page0, self.page1 = 0, 127, 0, 7
        self.on = False
        self.inverse = False
        self.entire = False
        self.pump = False
        self.contrast = 0x7F
        self.seg_remap = False
        self.com_dec = False
        self.start = 0
        self.offset = 0
        self.mux = 63
        self.com_alt = True

    def writeto(self, addr, buf):
        if addr != self.addr or self.nack:
            raise OSError(errno.EIO)  # the rp2 port: a NACK ends the transfer with EIO
        self.transfers += 1
        i, n = 0, len(buf)
        cmd = []  # a command and its arguments so far (each may follow its own control byte)
        while i < n:
            ctrl = buf[i]
            i += 1
            single = ctrl & 0x80  # Co = 1: one byte, then another control byte
            while i < n:
                if ctrl & 0x40:
                    self._data(buf[i])
                else:
                    cmd.append(buf[i])
                    if len(cmd) == 1 + ARGS.get(cmd[0], 0):
                        self._command(cmd)
                        cmd = []
                i += 1
                if single:
                    break
        return n

    def _data(self, b):
        self.ram[self.col + 128 * self.page] = b
        if self.mode == 0:
            self.col += 1
            if self.col > self.col1:
                self.col = self.col0
                self.page = self.page0 if self.page >= self.page1 else self.page + 1
        elif self.mode == 1:
            self.page += 1
            if self.page > self.page1:
                self.page = self.page0
                self.col = self.col0 if self.col >= self.col1 else self.col + 1
        else:
            self.col = 0 if self.col >= 127 else self.col + 1

    def _command(self, c):
        op = c[0]
        if op < 0x10:
            self.col = (self.col & 0xF0) | op
        elif op < 0x20:
            self.col = (self.col & 0x0F) | ((op & 0x07) << 4)
        elif op == 0x20:
            self.mode = c[1] & 3
        elif op == 0x21:
            self.col0, self.col1 = c[1] & 127, c[2] & 127
            self.col = self.col0
        elif op == 0x22:
            self.page0, self.page1 = c[1] & 7, c[2] & 7
            self.page = self.page0
        elif 0x40 <= op < 0x80:
            self.start = op & 63
        elif op == 0x81:
            self.contrast = c[1]
        elif op == 0x8D:
            self.pump = bool(c[1] & 0x04)
        elif op in (0xA0, 0xA1):
            self.seg_remap = op == 0xA1
        elif op in (0xA4, 0xA5):
            self.entire = op == 0xA5
        elif op in (0xA6, 0xA7):
            self.inverse = op == 0xA7
        elif op == 0xA8:
            self.mux = c[1] & 63
        elif op in (0xAE, 0xAF):
            self.on = op == 0xAF
        elif 0xB0 <= op <= 0xB7:
            self.page = op & 7
        elif op in (0xC0, 0xC8):
            self.com_dec = op == 0xC8
        elif op == 0xD3:
            self.offset = c[1] & 63
        elif op == 0xDA:
            self.com_alt = bool(c[1] & 0x10)

    def lit(self, x, y):
        """Is the pixel at (x, y) of the glass lit (x right, y down, as the module is read)?"""
        if not (self.on and self.pump) or y > self.mux:
            return 0
        if self.entire:
            return 1
        # The module's glass is mounted so that A1/C8 show GDDRAM column 0, row 0 top left.
        col = x if self.seg_remap else 127 - x
        row = y if self.com_dec else 63 - y
        row = (row + self.start + self.offset) & 63
        v = (self.ram[col + 128 * (row >> 3)] >> (row & 7)) & 1
        return v ^ 1 if self.inverse else v

    def screen(self):
        """What the glass shows, as a 1024-byte picture in pump.canvas's layout."""
        out = bytearray(1024)
        if not (self.on and self.pump):
            return out
        for y in range(64):
            for x in range(128):
                if self.lit(x, y):
                    out[x + 128 * (y >> 3)] |= 1 << (y & 7)
        return out
