# A 1-bit 128x64 canvas for the SSD1306 panel, drawn by the same code on every target
# (CPython, the unix port, the rp2 image): pure Python, no machine, no framebuf.
#
# The buffer is the panel's own memory layout (SSD1306 datasheet rev 1.5, 8.7 "Graphic
# Display Data RAM (GDDRAM)"): 8 pages of 8 rows; byte x + 128 * page holds
# column x of that page, bit n = row 8 * page + n (bit 0 on top). drivers.ssd1306 writes it
# to the panel as is (horizontal addressing mode), and the virtual Pico's panel model keeps
# its GDDRAM the same way, so a canvas and a screen compare byte for byte.
#
# Colours: 1 = lit, 0 = dark. Coordinates may run off the edges: what falls outside is clipped.
# Drawing allocates nothing once a str's characters are interned (MicroPython makes a str's
# one-character slices qstrs; bytes never allocate), so a redraw may run with the heap
# locked (tests/core/test_canvas.py on the unix port, hil/test_display.py on the rp2).
#
# The font (one, of this project's own design, art in pump/font.txt): 5x7 glyphs in 6x8
# cells, ASCII 32-126 plus the extras in _EXTRA (µ, °, arrows, a selection mark, lock, bell);
# any other character draws as the replacement glyph. text(..., scale=2) doubles it (10x14 in
# 12x16 cells) for the big numbers.
from micropython import const

WIDTH = const(128)
HEIGHT = const(64)
CELL_W = const(6)  # a character cell: 5 columns of glyph and 1 of space
CELL_H = const(8)  # 7 rows of glyph and 1 for descenders / line gap
COLS = const(21)  # characters per line at scale 1 (128 // 6)
LINES = const(8)  # lines at scale 1 (64 // 8)
_W = const(128)
_SIZE = const(1024)  # 128 * 64 / 8
_GW = const(5)  # glyph columns
_NASCII = const(95)  # U+0020-U+007E come first in _FONT

_EXTRA = (0xB5, 0xB0, 0x2191, 0x2193, 0x25B6, 0x1F512, 0x1F514, 0xFFFD)
_FONT = (
    b"\x00\x00\x00\x00\x00\x00\x00\x5f\x00\x00\x00\x03\x00\x03\x00\x14\x7f\x14\x7f\x14\x24\x2a\x7f\x2a\x12\x23\x13\x08\x64\x62"
    b"\x36\x49\x55\x22\x50\x00\x00\x03\x00\x00\x00\x1c\x22\x41\x00\x00\x41\x22\x1c\x00\x14\x08\x3e\x08\x14\x08\x08\x3e\x08\x08"
    b"\x00\xa0\x60\x00\x00\x08\x08\x08\x08\x08\x00\x60\x60\x00\x00\x20\x10\x08\x04\x02\x3e\x51\x49\x45\x3e\x00\x42\x7f\x40\x00"
    b"\x42\x61\x51\x49\x46\x21\x41\x45\x4b\x31\x18\x14\x12\x7f\x10\x27\x45\x45\x45\x39\x3c\x4a\x49\x49\x30\x01\x71\x09\x05\x03"
    b"\x36\x49\x49\x49\x36\x06\x49\x49\x29\x1e\x00\x36\x36\x00\x00\x00\x56\x36\x00\x00\x08\x14\x22\x41\x00\x14\x14\x14\x14\x14"
    b"\x00\x41\x22\x14\x08\x02\x01\x51\x09\x06\x32\x49\x79\x41\x3e\x7e\x09\x09\x09\x7e\x7f\x49\x49\x49\x36\x3e\x41\x41\x41\x22"
    b"\x7f\x41\x41\x22\x1c\x7f\x49\x49\x49\x41\x7f\x09\x09\x09\x01\x3e\x41\x49\x49\x7a\x7f\x08\x08\x08\x7f\x00\x41\x7f\x41\x00"
    b"\x20\x40\x41\x3f\x01\x7f\x08\x14\x22\x41\x7f\x40\x40\x40\x40\x7f\x02\x0c\x02\x7f\x7f\x04\x08\x10\x7f\x3e\x41\x41\x41\x3e"
    b"\x7f\x09\x09\x09\x06\x3e\x41\x51\x21\x5e\x7f\x09\x19\x29\x46\x46\x49\x49\x49\x31\x01\x01\x7f\x01\x01\x3f\x40\x40\x40\x3f"
    b"\x1f\x20\x40\x20\x1f\x3f\x40\x38\x40\x3f\x63\x14\x08\x14\x63\x07\x08\x70\x08\x07\x61\x51\x49\x45\x43\x00\x7f\x41\x41\x00"
    b"\x02\x04\x08\x10\x20\x00\x41\x41\x7f\x00\x04\x02\x01\x02\x04\x40\x40\x40\x40\x40\x00\x01\x02\x04\x00\x20\x54\x54\x54\x78"
    b"\x7f\x48\x44\x44\x38\x38\x44\x44\x44\x20\x38\x44\x44\x48\x7f\x38\x54\x54\x54\x18\x08\x7e\x09\x01\x02\x18\xa4\xa4\xa4\x7c"
    b"\x7f\x08\x04\x04\x78\x00\x44\x7d\x40\x00\x40\x80\x84\x7d\x00\x7f\x10\x28\x44\x00\x00\x41\x7f\x40\x00\x7c\x04\x18\x04\x78"
    b"\x7c\x08\x04\x04\x78\x38\x44\x44\x44\x38\xfc\x24\x24\x24\x18\x18\x24\x24\x24\xfc\x7c\x08\x04\x04\x08\x48\x54\x54\x54\x24"
    b"\x04\x3f\x44\x40\x20\x3c\x40\x40\x20\x7c\x1c\x20\x40\x20\x1c\x3c\x40\x30\x40\x3c\x44\x28\x10\x28\x44\x1c\xa0\xa0\xa0\x7c"
    b"\x44\x64\x54\x4c\x44\x00\x08\x36\x41\x00\x00\x00\x7f\x00\x00\x00\x41\x36\x08\x00\x08\x04\x08\x10\x08\xfc\x20\x40\x40\x3c"
    b"\x06\x09\x09\x06\x00\x04\x02\x7f\x02\x04\x10\x20\x7f\x20\x10\x7f\x3e\x1c\x08\x00\x7e\x79\x49\x79\x7e\x10\x1e\x5f\x1e\x10"
    b"\x7f\x41\x55\x41\x7f"
)
_REPL = _NASCII + len(_EXTRA) - 1  # U+FFFD, the last extra
# A nibble with each bit doubled (for scale 2): 0b0101 -> 0b00110011.
_DOUBLE = b"\x00\x03\x0c\x0f\x30\x33\x3c\x3f\xc0\xc3\xcc\xcf\xf0\xf3\xfc\xff"


def glyph_index(cp):
    """The glyph drawn for code point cp (the replacement glyph if the font has none)."""
    if 32 <= cp < 127:
        return cp - 32
    for i in range(len(_EXTRA)):
        if _EXTRA[i] == cp:
            return _NASCII + i
    return _REPL


def text_width(s, scale=1):
    """Pixels text(s) advances: 6 per character (12 at scale 2). s: str or UTF-8 bytes."""
    if isinstance(s, str):
        return len(s) * CELL_W * scale
    n = 0
    for i in range(len(s)):
        if s[i] & 0xC0 != 0x80:  # not a UTF-8 continuation byte
            n += 1
    return n * CELL_W * scale


class Canvas:
    """The 128x64 picture. buf: a bytearray(1024) to draw into (default: a new one)."""

    def __init__(self, buf=None):
        if buf is None:
            buf = bytearray(_SIZE)
        elif len(buf) != _SIZE:
            raise ValueError("a 128x64 canvas needs 1024 bytes")
        self.buf = buf

    def fill(self, c):
        v = 0xFF if c else 0
        buf = self.buf
        for i in range(0, _SIZE, 8):  # 8 a turn: a third of the loop's time on the rp2
            buf[i] = v
            buf[i + 1] = v
            buf[i + 2] = v
            buf[i + 3] = v
            buf[i + 4] = v
            buf[i + 5] = v
            buf[i + 6] = v
            buf[i + 7] = v

    def pixel(self, x, y, c=None):
        """Set pixel (x, y) to c, or return its colour when c is None (0 off the canvas)."""
        if x < 0 or x >= _W or y < 0 or y >= 64:
            return 0 if c is None else None
        i = x + ((y >> 3) << 7)
        m = 1 << (y & 7)
        if c is None:
            return 1 if self.buf[i] & m else 0
        if c:
            self.buf[i] |= m
        else:
            self.buf[i] &= ~m & 0xFF

    def _box(self, x, y, w, h, op):
        # The box clipped to the canvas, a page (8 rows) at a time: one mask per page, then
        # along the columns. op: 0 clear, 1 set, 2 invert.
        x0 = x if x > 0 else 0
        y0 = y if y > 0 else 0
        x1 = x + w if x + w < _W else _W
        y1 = y + h if y + h < 64 else 64
        if x0 >= x1:
            return
        buf = self.buf
        while y0 < y1:
            top = y0 & 7
            n = 8 - top
            if y1 - y0 < n:
                n = y1 - y0
            m = ((1 << n) - 1) << top
            i = x0 + ((y0 >> 3) << 7)
            if op == 1:
                for j in range(i, i + x1 - x0):
                    buf[j] |= m
            elif op == 2:
                for j in range(i, i + x1 - x0):
                    buf[j] ^= m
            else:
                m = ~m & 0xFF
                for j in range(i, i + x1 - x0):
                    buf[j] &= m
            y0 += n

    def hline(self, x, y, w, c):
        self._box(x, y, w, 1, 1 if c else 0)

    def vline(self, x, y, h, c):
        self._box(x, y, 1, h, 1 if c else 0)

    def rect(self, x, y, w, h, c, fill=False):
        """An outline w x h with its top left at (x, y), or a filled box if fill."""
        op = 1 if c else 0
        if fill or w <= 2 or h <= 2:
            self._box(x, y, w, h, op)
            return
        self._box(x, y, w, 1, op)
        self._box(x, y + h - 1, w, 1, op)
        self._box(x, y + 1, 1, h - 2, op)
        self._box(x + w - 1, y + 1, 1, h - 2, op)

    def invert(self, x, y, w, h):
        """Swap lit and dark in the box (a highlighted line: invert(0, 8 * line, 128, 8))."""
        self._box(x, y, w, h, 2)

    def line(self, x0, y0, x1, y1, c):
        """A straight line from (x0, y0) to (x1, y1), both ends drawn (Bresenham)."""
        dx = x1 - x0 if x1 > x0 else x0 - x1
        dy = y0 - y1 if y1 > y0 else y1 - y0
        sx = 1 if x0 < x1 else -1
        sy = 1 if y0 < y1 else -1
        err = dx + dy
        while True:
            self.pixel(x0, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def _col(self, x, y, m, c):
        # OR (c) or clear (not c) the bits of m (bit 0 at row y, at most 16 bits) in column x.
        if x < 0 or x >= _W or m == 0 or y >= 64:
            return
        if y < 0:
            if y <= -16:
                return
            m >>= -y
            y = 0
        buf = self.buf
        i = x + ((y >> 3) << 7)
        m <<= y & 7
        while m and i < _SIZE:
            if c:
                buf[i] |= m & 0xFF
            else:
                buf[i] &= ~m & 0xFF
            m >>= 8
            i += _W

    def char(self, cp, x, y, c=1, scale=1):
        """Draw code point cp with its cell's top left at (x, y); returns the next cell's x.
        Only the glyph's ink is drawn (the background is left as it is)."""
        g = (cp - 32 if 32 <= cp < 127 else glyph_index(cp)) * _GW
        f = _FONT
        if scale == 1:
            if y & 7 == 0 and 0 <= y < 64 and 0 <= x <= _W - _GW:
                # The usual case, a cell on a text line: its 5 column bytes land on one page
                # as they are (a third of the time of the general path on the rp2).
                buf = self.buf
                i = x + (y << 4)  # x + 128 * (y // 8)
                if c:
                    buf[i] |= f[g]
                    buf[i + 1] |= f[g + 1]
                    buf[i + 2] |= f[g + 2]
                    buf[i + 3] |= f[g + 3]
                    buf[i + 4] |= f[g + 4]
                else:
                    buf[i] &= ~f[g] & 0xFF
                    buf[i + 1] &= ~f[g + 1] & 0xFF
                    buf[i + 2] &= ~f[g + 2] & 0xFF
                    buf[i + 3] &= ~f[g + 3] & 0xFF
                    buf[i + 4] &= ~f[g + 4] & 0xFF
                return x + CELL_W
            for k in range(_GW):
                self._col(x + k, y, f[g + k], c)
            return x + CELL_W
        if scale != 2:
            raise ValueError("scale is 1 or 2")
        d = _DOUBLE
        for k in range(_GW):
            b = f[g + k]
            m = d[b & 15] | (d[b >> 4] << 8)
            self._col(x + 2 * k, y, m, c)
            self._col(x + 2 * k + 1, y, m, c)
        return x + 2 * CELL_W

    def text(self, s, x, y, c=1, scale=1):
        """Draw s (str, or UTF-8 bytes/bytearray) from (x, y), the top left of its first cell,
        on one line; returns the x after its last cell."""
        if isinstance(s, str):
            if scale == 1 and c and y & 7 == 0 and 0 <= y < 64:
                # A text line, lit ink: ASCII cells wholly on the canvas go in directly
                # (no call per character: half the time on the rp2); the rest via char().
                buf = self.buf
                f = _FONT
                row = y << 4  # 128 * (y // 8)
                for k in range(len(s)):
                    cp = ord(s[k])
                    if 32 <= cp < 127 and 0 <= x <= _W - _GW:
                        g = (cp - 32) * _GW
                        i = x + row
                        buf[i] |= f[g]
                        buf[i + 1] |= f[g + 1]
                        buf[i + 2] |= f[g + 2]
                        buf[i + 3] |= f[g + 3]
                        buf[i + 4] |= f[g + 4]
                        x += CELL_W
                    else:
                        x = self.char(cp, x, y, c)
                return x
            for k in range(len(s)):
                x = self.char(ord(s[k]), x, y, c, scale)
            return x
        i = 0
        n = len(s)
        while i < n:
            b = s[i]
            i += 1
            k = 0
            if b < 0x80:
                cp = b
            elif b >= 0xF0:
                cp, k = b & 7, 3
            elif b >= 0xE0:
                cp, k = b & 15, 2
            elif b >= 0xC0:
                cp, k = b & 31, 1
            else:  # a stray continuation byte
                cp = 0xFFFD
            while k and i < n:
                cp = (cp << 6) | (s[i] & 63)
                i += 1
                k -= 1
            x = self.char(cp, x, y, c, scale)
        return x

    def to_bits(self):
        """A new bytearray(8192): the pixels row by row, 1 = lit (for host PNG writers)."""
        out = bytearray(_W * 64)
        buf = self.buf
        for i in range(_SIZE):
            b = buf[i]
            if b:
                o = (i & 127) + ((i >> 7) << 10)  # column + 8 rows * 128 per page
                for n in range(8):
                    if b & (1 << n):
                        out[o + (n << 7)] = 1
        return out

    def rows(self):
        """The 64 rows as strings of '#' (lit) and '.' (for tests and text dumps)."""
        bits = self.to_bits()
        return ["".join("#" if bits[y * _W + x] else "." for x in range(_W)) for y in range(64)]
