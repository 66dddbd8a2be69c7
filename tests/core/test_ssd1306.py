# drivers.ssd1306 against a model of the chip (ssd1306model): what a canvas draws is what the
# glass shows, and a panel that does not answer is reported to the caller as the bus's
# OSError, with the driver ready to start again when it answers.
# Runs on CPython (pytest) and on the unix port (tests/upy_run.py).
import errno
import sys

from ssd1306model import Panel

from drivers.ssd1306 import SSD1306
from harness import raises
from pump.canvas import Canvas


def drawn(display):
    cv = Canvas(display.buf)
    cv.fill(0)
    cv.text("Octreotide", 0, 0)
    cv.text("1632", 0, 12, 1, 2)
    cv.text("µg/24h", 60, 20)
    cv.rect(0, 40, 128, 24, 1)
    cv.invert(1, 41, 60, 8)
    cv.pixel(127, 0, 1)
    return bytearray(display.buf)


def test_nothing_is_sent_before_init_and_the_glass_stays_dark():
    p = Panel()
    d = SSD1306(p)
    drawn(d)
    assert p.transfers == 0 and p.screen() == bytearray(1024)


def test_init_configures_the_panel_as_the_canvas_expects():
    p = Panel()
    d = SSD1306(p)
    d.init()
    assert d.ok and d.ready
    assert p.on and p.pump and p.mode == 0 and p.seg_remap and p.com_dec and p.com_alt
    assert p.mux == 63 and p.start == 0 and p.offset == 0 and not p.inverse
    assert not p.entire and p.contrast == 0x7F


def test_the_glass_shows_the_canvas_pixel_for_pixel():
    p = Panel()
    d = SSD1306(p)
    want = drawn(d)
    d.show()
    assert p.screen() == want and p.ram == want
    cv = Canvas(d.buf)
    cv.fill(0)
    cv.text("Stop", 50, 30)
    d.show(cv.buf)
    assert p.screen() == bytearray(d.buf)


def test_show_copies_in_a_buffer_of_its_own():
    p = Panel()
    d = SSD1306(p)
    cv = Canvas()
    cv.text("elsewhere", 3, 9)
    d.show(cv.buf)
    assert p.screen() == cv.buf and bytearray(d.buf) == cv.buf


def test_show_resets_the_address_pointers_whatever_came_before():
    p = Panel()
    d = SSD1306(p)
    d.init()
    p.writeto(0x3C, b"\x00\x21\x10\x20\x22\x03\x05\x40\xaa\xbb")  # someone moved them
    want = drawn(d)
    d.show()
    assert p.screen() == want


def test_power_contrast_and_invert():
    p = Panel()
    d = SSD1306(p)
    want = drawn(d)
    d.show()
    d.poweroff()
    assert not p.on and p.screen() == bytearray(1024)
    d.poweron()
    assert p.screen() == want
    d.contrast(0x20)
    assert p.contrast == 0x20
    d.invert(1)
    assert p.screen() == bytearray(b ^ 0xFF for b in want)
    d.invert(0)
    assert p.screen() == want


def test_a_panel_that_does_not_answer_is_reported_to_the_caller():
    p = Panel()
    d = SSD1306(p)
    want = drawn(d)
    d.show()
    d.invert(1)
    p.nack = True
    e = raises(OSError, d.show)
    assert e.args[0] == errno.EIO
    assert not d.ok and not d.ready and d.failures == 1 and d.errno == errno.EIO
    raises(OSError, d.contrast, 0x30)
    assert d.failures == 2
    # Plugged back in after losing power: the panel is at its reset state again; the next
    # show() sends the init sequence first and restores contrast and inversion.
    p.nack = False
    p.reset()
    d.show()
    assert d.ok and d.ready and d.failures == 2
    assert p.contrast == 0x30 and p.inverse
    assert p.screen() == bytearray(b ^ 0xFF for b in want)


class _NoDevice:
    # A SoftI2C bus with nobody at the address: its writeto raises ENODEV.
    def writeto(self, addr, buf):
        raise OSError(errno.ENODEV)


def test_no_device_on_the_bus():
    d = SSD1306(_NoDevice())
    raises(OSError, d.init)
    raises(OSError, d.show)
    assert d.errno == errno.ENODEV and d.failures == 2 and not d.ok


class _Sink:
    def __init__(self):
        self.n = 0

    def writeto(self, addr, buf):
        self.n += len(buf)


def test_show_sends_one_frame_and_does_not_allocate():
    bus = _Sink()
    d = SSD1306(bus)
    d.init()
    n0 = bus.n
    d.show()
    assert bus.n - n0 == 7 + 1025
    if sys.implementation.name != "micropython":
        return  # CPython cannot lock its heap
    import micropython

    cv = Canvas(d.buf)
    other = Canvas()
    micropython.heap_lock()
    try:
        d.show(cv.buf)
        d.show(other.buf)  # copied in
        d.contrast(0x40)
        d.invert(0)
    finally:
        micropython.heap_unlock()
    assert bus.n - n0 == 3 * (7 + 1025) + 3 + 2
