"""The OLED on the virtual Pico: the firmware's canvas and SSD1306 driver on the rp2 image,
the panel modelled on I2C0 (host_tools/vboard/ssd1306.mjs). The same drawing on CPython and
on the board gives the same pixels, on the panel and in the PNGs; a panel that stops
answering is reported to the caller. The bench checks no screen (hil/fixture/BENCH.md): these
run on the virtual board only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import screen_card  # hil/, on the path as the HIL suite's own modules are
from click.testing import CliRunner
from dut import DUT

from pump.canvas import Canvas
from pumphost import screen
from pumphost.cli import cli
from pumphost.paths import CACHE
from pumphost.vboard.virtual import VirtualBoard

HIL = Path(__file__).resolve().parent
SCREENS = Path(os.environ.get("PUMP_SCREENS_DIR", CACHE / "screens" / "hil"))

# Draws the card with its own driver instance on I2C0 and shows it; prints the driver's
# failure count and last errno.
_SHOW_CARD = """
import sys
if '/hil' not in sys.path:
    sys.path.insert(0, '/hil')
import board, screen_card
from drivers import ssd1306
from pump.canvas import Canvas
_d = ssd1306.open_board(board.PINS)
_cv = Canvas(_d.buf)
screen_card.draw(_cv)
_d.show(_cv.buf)
print(_d.failures, _d.errno)
"""


# The firmware's bedside UI (boardapp.bedside) stops drawing while a test draws its own
# picture, and starts again after it; nothing to do on an image without it.
_UI = (
    "try:\n    import boardapp\n    boardapp.bedside({on})\n"
    "except (ImportError, AttributeError):\n    pass\n"
)


@pytest.fixture
def vb(vboard: VirtualBoard | None, dut: DUT) -> Iterator[VirtualBoard]:
    if vboard is None:
        pytest.skip(
            "SKIPPED LOUDLY: the screen is read on the virtual board only (a real panel has "
            "no way back to the host; hil/fixture/BENCH.md)"
        )
    vboard.display(nack=False)
    dut.exec(_UI.format(on=False))
    yield vboard
    vboard.display(nack=False)
    dut.exec(_UI.format(on=True))


def reference() -> bytes:
    cv = Canvas()
    screen_card.draw(cv)
    return bytes(cv.buf)


def show_card(dut: DUT, vb: VirtualBoard) -> bytes:
    """The card drawn and shown on the board; what the panel then shows. Should anything else
    on the board draw meanwhile (the panel counts whole pictures received), again."""
    dut.put({"/hil/screen_card.py": (HIL / "screen_card.py").read_bytes()})
    for _ in range(5):
        before = vb.display_status()["frames"]
        out = dut.exec(_SHOW_CARD)
        assert out.split() == ["0", "0"], out
        shown = vb.screen()
        if vb.display_status()["frames"] == before + 1:
            return shown
    pytest.fail("the firmware kept redrawing the panel over the test card")


def test_the_board_shows_the_pixels_cpython_draws(dut: DUT, vb: VirtualBoard) -> None:
    want = reference()
    got = show_card(dut, vb)
    st = vb.display_status()
    assert st["on"] and st["charge_pump"] and st["addressing"] == "horizontal"
    if got != want:
        diff = sum(bin(a ^ b).count("1") for a, b in zip(got, want, strict=True))
        pytest.fail(f"{diff} pixels differ; the board shows:\n{screen.text(got)}")


def test_the_emulator_png_and_the_board_png_are_pixel_identical(
    dut: DUT, vb: VirtualBoard, report: list[str]
) -> None:
    host_png = screen.write_png(reference(), SCREENS / "card-cpython.png")
    show_card(dut, vb)
    board_png = SCREENS / "card-vpico.png"
    r = CliRunner().invoke(cli, ["vboard", "screen", "--port", str(vb.port), "-o", str(board_png)])
    assert r.exit_code == 0, r.output
    assert "panel on" in r.output
    assert screen.read_png(board_png) == screen.read_png(host_png) == reference()
    report.append(f"screen test card: {host_png} == {board_png}")


def test_a_panel_that_stops_answering_is_reported_and_comes_back(
    dut: DUT, vb: VirtualBoard
) -> None:
    dut.put({"/hil/screen_card.py": (HIL / "screen_card.py").read_bytes()})
    vb.display(nack=True)
    before = vb.display_status()
    out = dut.exec(
        _SHOW_CARD.replace(
            "_d.show(_cv.buf)\n",
            "try:\n    _d.show(_cv.buf)\nexcept OSError as e:\n    print('raised', e.args[0])\n",
        )
    )
    assert out.split() == ["raised", "5", "1", "5"], out  # EIO at once, not a 50 ms timeout
    assert vb.display_status()["nacked"] > before["nacked"]
    # Unplugged and plugged back: the panel lost its supply; the next show() starts it again.
    vb.display(nack=False, power_reset=True)
    assert vb.screen() == bytes(1024)
    assert show_card(dut, vb) == reference()


_NO_ALLOC = """
import machine
import micropython
from drivers.ssd1306 import SSD1306
from pump.canvas import Canvas


class _Sink:
    def __init__(self):
        self.n = 0

    def writeto(self, addr, buf):
        self.n += len(buf)


_g = ''.join(chr(c) for c in range(32, 127)) + 'µ°↑↓▶\\U0001f512\\U0001f514\\ufffd'
_lines = [_g[i:i + 21] for i in range(0, len(_g), 21)]
_bus = _Sink()
_d = SSD1306(_bus)
_cv = Canvas(_d.buf)
_other = Canvas()


def _card():
    _cv.fill(0)
    for i in range(len(_lines)):
        _cv.text(_lines[i], 0, 8 * i)
    _cv.text('0.136', 0, 40, 1, 2)
    _cv.text(b'\\xc2\\xb5g/24h', 62, 46)
    _cv.invert(0, 32, 128, 8)
    _cv.rect(90, 40, 38, 24, 1)
    _cv.rect(93, 43, 10, 6, 1, fill=True)
    _cv.line(104, 44, 125, 61, 1)
    _d.show(_cv.buf)
    _d.show(_other.buf)
    _d.contrast(0x40)


_card()  # the first draw interns the strings' characters as qstrs
_first = bytes(_cv.buf)
_n = _bus.n
# IRQs off: the pump's own soft-timer service step must not run (and allocate) in the window
_irq = machine.disable_irq()
micropython.heap_lock()
try:
    _card()
finally:
    micropython.heap_unlock()
    machine.enable_irq(_irq)
print(bytes(_cv.buf) == _first, _bus.n - _n)
"""


def test_a_redraw_and_show_do_not_allocate_on_the_rp2(dut: DUT) -> None:
    """Every glyph, the big digits and the shapes drawn, and two pictures sent (one copied
    in), with the heap locked on the rp2 image (31-bit small ints, the frozen modules)."""
    out = dut.exec(_NO_ALLOC)
    assert out.split() == ["True", str(2 * (7 + 1025) + 3)], out
