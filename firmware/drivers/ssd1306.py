# SSD1306 128x64 OLED on I2C, in the shape of MicroPython's usual driver (init, contrast,
# power off/on, invert, show), written here for pump.canvas: the picture is drawn into
# self.buf (a Canvas around it) and show() sends it to the panel in one I2C write.
#
# Source for every number below: Solomon Systech SSD1306 datasheet rev 1.5 (Aug 2010):
#   8.1.5.1 I2C write: after the slave address comes a control byte Co D/C# 0 0 0 0 0 0;
#     Co = 0 means everything after it, up to the stop, is of one kind: commands when
#     D/C# = 0 (control byte 0x00), GDDRAM data when D/C# = 1 (0x40).
#   8.1.5.1 slave address 0b011110 SA0: 0x3C with SA0 (the D/C# pin) low, as on the usual
#     modules (0x3D with it high).
#   8.7 GDDRAM: 8 pages x 128 columns, one byte per column per page, D0 on top: the layout
#     pump.canvas draws in.
#   9 Command table / 10.1 descriptions, as used in _INIT below.
#   Charge pump: the datasheet's appendix "Charge Pump Regulator", table 2-1: 8Dh, then 14h
#     enables the charge pump (the modules have no external VCC), to be sent before AFh.
#   8.9 Power ON sequence: display on (AFh) once VCC is up; the segments light 100 ms later.
#
# A panel that does not answer (unplugged, broken wire, a NACK: the rp2 port raises
# OSError EIO or ETIMEDOUT, a SoftI2C ENODEV) is reported to the caller as that OSError, as
# MicroPython's own driver does; the caller (pump/ui.py) catches it, raises the technical
# alarm and goes on. `ok` holds the last outcome, `failures` counts them and `errno` keeps
# the last error's number. The next show() after a failure sends the whole init sequence
# again first (a panel that lost power and came back starts from its reset state: display
# off, page addressing).
#
# Costs: show() writes 1025 bytes plus 7 of addressing, about 23 ms of I2C at 400 kHz, with
# no allocation (the control byte sits in front of the picture in one preallocated buffer).
# Redraw only on a change. The rp2 port's I2C timeout (50 ms by default) covers one show() at
# 400 kHz but not at 100 kHz: make the bus with freq=400_000 (open_board does).
from micropython import const

ADDR = const(0x3C)  # 8.1.5.1: 0b0111100, SA0 low
WIDTH = const(128)
HEIGHT = const(64)
_SIZE = const(1024)

# Control bytes (8.1.5.1).
_CTRL_CMD = const(0x00)  # Co = 0, D/C# = 0: commands follow
_CTRL_DATA = const(0x40)  # Co = 0, D/C# = 1: GDDRAM data follows

# Commands (9, table 9-1).
_CONTRAST = const(0x81)  # 10.1.7: one argument, 00h-FFh (reset 7Fh)
_NORMAL = const(0xA6)  # 10.1.10: RAM 1 = pixel on
_INVERSE = const(0xA7)  # 10.1.10: RAM 0 = pixel on
_DISPLAY_OFF = const(0xAE)  # 10.1.12: sleep
_DISPLAY_ON = const(0xAF)  # 10.1.12

# The init sequence, after the application flow in the datasheet's appendix (software
# initialization flow chart), in one command transfer. Values:
_INIT = bytes(
    (
        _CTRL_CMD,
        _DISPLAY_OFF,  # 10.1.12: off while configuring
        0xA8,  # 10.1.11 multiplex ratio: 64 rows (argument N - 1 = 63)
        63,
        0xD3,  # 10.1.15 display offset: none
        0x00,
        0x40,  # 10.1.6 display start line 0
        0xA1,  # 10.1.8 segment remap: column 127 on SEG0 (the modules mount the glass so)
        0xC8,  # 10.1.14 COM scan from COM63 to COM0 (ditto): GDDRAM (0, 0) shows top left
        0xDA,  # 10.1.18 COM pins: alternative configuration, no left/right remap (128x64)
        0x12,
        0x20,  # 10.1.3 memory addressing mode: horizontal (00b), so one write fills it all
        0x00,
        _CONTRAST,  # 10.1.7: the reset value
        0x7F,
        0xA4,  # 10.1.9 output follows RAM
        _NORMAL,  # 10.1.10
        0xD5,  # 10.1.16 clock: divide ratio 1, oscillator frequency 8 (the reset value)
        0x80,
        0x8D,  # charge pump regulator, table 2-1: enable (14h)
        0x14,
        _DISPLAY_ON,  # 10.1.12 (8.9: after the charge pump is set)
    )
)
# Before each picture: the window is the whole GDDRAM, and the pointers go back to (0, 0):
# 10.1.4 column address 0-127, 10.1.5 page address 0-7.
_WINDOW = b"\x00\x21\x00\x7f\x22\x00\x07"


class SSD1306:
    """The panel at addr on i2c (anything with writeto(addr, buf), as machine.I2C).

    buf: the 1024-byte picture (draw with pump.canvas.Canvas(display.buf): then show() sends
    it without a copy). Nothing is sent until init() (or show(), which inits a panel that has
    not taken the init sequence yet). Every method raises the bus's OSError if the panel
    does not answer."""

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._frame = bytearray(_SIZE + 1)
        self._frame[0] = _CTRL_DATA
        self.buf = memoryview(self._frame)[1:]
        self._cmd = bytearray(3)  # control byte, command, argument
        self._cmd[0] = _CTRL_CMD
        self._one = memoryview(self._cmd)[:2]
        self.ok = False  # the panel took the last transfer
        self.ready = False  # the init sequence went through since the last failure
        self.failures = 0
        self.errno = 0  # the OSError's number of the last failure
        self.powered = False
        self.inverted = False
        self.level = 0x7F

    def _write(self, data):
        try:
            self.i2c.writeto(self.addr, data)
        except OSError as e:
            self.ok = self.ready = False
            self.failures += 1
            self.errno = e.args[0] if e.args else 0
            raise
        self.ok = True

    def _command(self, cmd, arg=None):
        self._cmd[1] = cmd
        if arg is None:
            self._write(self._one)
        else:
            self._cmd[2] = arg
            self._write(self._cmd)

    def init(self):
        """Send the init sequence, then the contrast and inversion last set."""
        self._write(_INIT)
        self.powered = True
        if self.level != 0x7F:
            self._command(_CONTRAST, self.level)
        if self.inverted:
            self._command(_INVERSE)
        self.ready = True

    def show(self, buf=None):
        """Send the picture: self.buf, or buf (1024 bytes, copied in first unless it is
        self.buf). Sends the init sequence first if the panel has not taken it since it last
        failed to answer."""
        if buf is not None and buf is not self.buf:
            f = self._frame
            for i in range(_SIZE):
                f[i + 1] = buf[i]
        if not self.ready:
            self.init()
        self._write(_WINDOW)
        self._write(self._frame)

    def poweroff(self):
        """Display off (sleep, 10.1.12); GDDRAM keeps the picture."""
        self.powered = False
        self._command(_DISPLAY_OFF)

    def poweron(self):
        self.powered = True
        self._command(_DISPLAY_ON)

    def contrast(self, level):
        """0-255 (10.1.7): the segment current, so brightness."""
        self.level = level & 0xFF
        self._command(_CONTRAST, self.level)

    def invert(self, on):
        """The whole panel inverse (10.1.10), the picture unchanged."""
        self.inverted = bool(on)
        self._command(_INVERSE if on else _NORMAL)


def open_board(pins, freq=400000):
    """The panel on the board's pins (board.PINS: oled_sda, oled_scl; I2C0 on GP20/GP21)."""
    from machine import I2C, Pin

    i2c = I2C(0, sda=Pin(pins["oled_sda"]), scl=Pin(pins["oled_scl"]), freq=freq)
    return SSD1306(i2c)
