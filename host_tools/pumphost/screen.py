"""The pump's 128x64 screen on the host: PNG files of a pump.canvas buffer, and back.

A screen is 1024 bytes in the SSD1306's page layout (pump/canvas.py: byte x + 128 * page,
bit y % 8), whether the emulator's canvas drew it or the virtual Pico's panel shows it
(`VirtualBoard.screen()`). PNGs are written through matplotlib (a dependency already) at
`scale` device pixels per screen pixel, lit pixels in the panel's colour on black, and
read back exactly: read_png(write_png(buf)) == buf, so two PNGs compare pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import image as mpimg

WIDTH = 128
HEIGHT = 64
SIZE = WIDTH * HEIGHT // 8
LIT = (0.62, 0.88, 1.0)  # the usual modules' blue-white
DARK = (0.0, 0.0, 0.0)
SCALE = 4


def _check(buf: bytes | bytearray | memoryview) -> bytes:
    data = bytes(buf)
    if len(data) != SIZE:
        raise ValueError(f"a 128x64 screen is {SIZE} bytes, not {len(data)}")
    return data


def to_array(buf: bytes | bytearray | memoryview) -> np.ndarray:
    """The screen as a (64, 128) array of 0/1, row by row (y down, x right)."""
    pages = np.frombuffer(_check(buf), np.uint8).reshape(HEIGHT // 8, WIDTH)
    bits = np.unpackbits(pages[:, np.newaxis, :], axis=1, bitorder="little")  # page, bit, x
    return bits.reshape(HEIGHT, WIDTH)


def from_array(pixels: np.ndarray) -> bytes:
    """The inverse of to_array: a (64, 128) array of 0/1 (or bools) to the 1024 bytes."""
    if pixels.shape != (HEIGHT, WIDTH):
        raise ValueError(f"a screen is {HEIGHT}x{WIDTH} pixels, not {pixels.shape}")
    bits = (np.asarray(pixels) != 0).astype(np.uint8).reshape(HEIGHT // 8, 8, WIDTH)
    return np.packbits(bits, axis=1, bitorder="little").reshape(SIZE).tobytes()


def write_png(
    buf: bytes | bytearray | memoryview, path: str | Path, scale: int = SCALE, title: str = ""
) -> Path:
    """Writes the screen to path as a PNG (128 * scale by 64 * scale); returns the path."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    on = to_array(buf).astype(bool)
    rgb = np.where(on[..., np.newaxis], LIT, DARK).astype(np.float32)
    rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Software": "pumphost.screen", "Description": f"128x64 scale {scale}"}
    if title:
        meta["Title"] = title
    mpimg.imsave(out, rgb, format="png", metadata=meta)
    return out


def read_png(path: str | Path) -> bytes:
    """The screen a write_png file shows (the scale is read from its size)."""
    img = mpimg.imread(Path(path), format="png")
    h, w = img.shape[:2]
    scale = w // WIDTH
    if scale < 1 or w != WIDTH * scale or h != HEIGHT * scale:
        raise ValueError(f"{path}: {w}x{h} is not a 128x64 screen at a whole scale")
    centre = img[scale // 2 :: scale, scale // 2 :: scale, :3]
    return from_array(centre.mean(axis=2) > 0.25)


def text(buf: bytes | bytearray | memoryview) -> str:
    """The screen as 64 lines of '#' (lit) and '.' (for logs and assertion messages)."""
    return "\n".join("".join("#" if v else "." for v in row) for row in to_array(buf))
