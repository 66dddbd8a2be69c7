"""pumphost.screen: a canvas buffer to pixels and PNG files, and back, exactly."""

import numpy as np
import pytest
from click.testing import CliRunner

from pump.canvas import Canvas
from pumphost import screen
from pumphost.cli import cli


def drawn() -> Canvas:
    cv = Canvas()
    cv.text("Octreotide", 0, 0)
    cv.text("1632", 0, 12, 1, 2)
    cv.text("µg/24h", 60, 20)
    cv.rect(0, 40, 128, 24, 1)
    cv.invert(1, 41, 60, 8)
    cv.pixel(127, 63, 1)
    cv.pixel(0, 63, 1)
    return cv


def test_array_is_the_canvas_pixels():
    cv = drawn()
    arr = screen.to_array(cv.buf)
    assert arr.shape == (64, 128)
    assert arr.tobytes() == bytes(cv.to_bits())
    assert arr[63, 127] == 1 and arr[0, 127] == 0
    assert screen.from_array(arr) == bytes(cv.buf)


@pytest.mark.parametrize("scale", [1, 3, 4])
def test_png_round_trip_is_exact(tmp_path, scale):
    buf = bytes(drawn().buf)
    path = screen.write_png(buf, tmp_path / "sub" / "s.png", scale=scale, title="t")
    assert screen.read_png(path) == buf
    from matplotlib import image as mpimg

    img = mpimg.imread(path)
    assert img.shape[:2] == (64 * scale, 128 * scale)
    assert np.allclose(img[0, 0, :3], screen.DARK)


def test_every_single_pixel_survives_a_png(tmp_path):
    # one lit pixel in each page row and column band, so a bit-order slip cannot hide
    cv = Canvas()
    for y in range(64):
        cv.pixel((y * 37) % 128, y, 1)
    path = screen.write_png(cv.buf, tmp_path / "p.png", scale=2)
    assert screen.read_png(path) == bytes(cv.buf)


def test_wrong_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="1024 bytes"):
        screen.to_array(b"\x00" * 1000)
    with pytest.raises(ValueError, match="64x128"):
        screen.from_array(np.zeros((64, 127)))
    with pytest.raises(ValueError, match="scale"):
        screen.write_png(bytes(1024), tmp_path / "x.png", scale=0)
    from matplotlib import image as mpimg

    mpimg.imsave(tmp_path / "odd.png", np.zeros((10, 30, 3)))
    with pytest.raises(ValueError, match="not a 128x64"):
        screen.read_png(tmp_path / "odd.png")


def test_text_dump():
    cv = Canvas()
    cv.pixel(2, 1, 1)
    lines = screen.text(cv.buf).split("\n")
    assert len(lines) == 64 and lines[1][:4] == "..#." and set(lines[0]) == {"."}


def test_vboard_screen_needs_an_output_and_a_board(tmp_path):
    r = CliRunner().invoke(cli, ["vboard", "screen"])
    assert r.exit_code == 2 and "give -o FILE.png" in r.output
    r = CliRunner().invoke(cli, ["vboard", "screen", "--port", "1", "-o", str(tmp_path / "s.png")])
    assert r.exit_code == 2 and "no virtual board control channel" in r.output
