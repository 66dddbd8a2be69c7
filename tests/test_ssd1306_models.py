"""The virtual Pico's SSD1306 (host_tools/vboard/ssd1306.mjs) decodes I2C as the core tests'
model (tests/core/ssd1306model.py) does, and both show what drivers.ssd1306 + pump.canvas
drew. Byte streams go through the JS model's bus hooks in node, without a chip."""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from ssd1306model import Panel  # tests/core, on the path through tests/conftest.py

from drivers.ssd1306 import SSD1306
from pump.canvas import Canvas

ROOT = Path(__file__).resolve().parents[1]

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Feeds each transfer (address, bytes) to the JS panel as rp2040js's I2C hooks would, on a
# fake chip whose GP20/GP21 are routed to I2C; prints the panel's RAM, screen and status.
_RUN = """
import { SSD1306 } from '%s';
const transfers = JSON.parse(process.argv[1]);
const p = new SSD1306();
const chip = { gpio: Array.from({ length: 30 }, () => ({ functionSelect: 3 })) };
const acks = [];
for (const [addr, bytes, nack] of transfers) {
  p.nack = !!nack;
  p.resetTransfer();
  const row = [p.connect(chip, addr, 0)];
  for (const b of bytes) row.push(p.write(b));
  p.resetTransfer();
  acks.push(row.every((a) => a));
}
console.log(JSON.stringify({
  ram: Array.from(p.ram), screen: Array.from(p.screen()), status: p.status(), acks,
}));
"""


def run_js(transfers):
    src = _RUN % (ROOT / "host_tools" / "vboard" / "ssd1306.mjs").as_uri()
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", src, json.dumps(transfers)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def run_py(transfers):
    p = Panel()
    acks = []
    for addr, data, nack in transfers:
        p.nack = bool(nack)
        try:
            p.writeto(addr, bytes(data))
            acks.append(True)
        except OSError:
            acks.append(False)
    return p, acks


class Recorder:
    def __init__(self):
        self.transfers = []

    def writeto(self, addr, buf):
        self.transfers.append([addr, list(bytes(buf)), 0])


def test_the_driver_stream_shows_the_canvas_in_both_models():
    bus = Recorder()
    d = SSD1306(bus)
    cv = Canvas(d.buf)
    cv.text("Octreotide 1632 µg/24h", 0, 0)
    cv.text("88", 0, 20, 1, 2)
    cv.rect(60, 30, 60, 30, 1)
    cv.invert(0, 56, 128, 8)
    d.show()
    js = run_js(bus.transfers)
    py, _ = run_py(bus.transfers)
    assert bytes(js["screen"]) == bytes(d.buf) == bytes(py.screen())
    assert js["status"]["on"] and js["status"]["charge_pump"]
    assert js["status"]["addressing"] == "horizontal" and js["status"]["frames"] == 1


def _random_transfers(rng):
    # Commands (with Co = 1 and Co = 0 control bytes), data in every addressing mode, windows,
    # page-mode pointers, remaps, start line, invert, entire on: whatever the two decode.
    cmds = [
        [0x20, 0],
        [0x20, 1],
        [0x20, 2],
        [0x21, rng.randrange(128), rng.randrange(128)],
        [0x22, rng.randrange(8), rng.randrange(8)],
        [rng.randrange(16)],
        [0x10 | rng.randrange(8)],
        [0xB0 | rng.randrange(8)],
        [0x40 | rng.randrange(64)],
        [0xA0 | rng.randrange(2)],
        [0xC0 | 8 * rng.randrange(2)],
        [0xA6 | rng.randrange(2)],
        [0xA4 | rng.randrange(2)],
        [0xD3, rng.randrange(64)],
        [0x81, rng.randrange(256)],
        [0xA8, rng.randrange(16, 64)],
    ]
    out = [[0x3C, [0x00, 0xAE, 0x8D, 0x14, 0xAF, 0xA1, 0xC8], 0]]
    for _ in range(60):
        kind = rng.randrange(5)
        if kind == 0:
            out.append([0x3C, [0x00] + sum(rng.sample(cmds, 3), []), 0])
        elif kind == 1:  # each byte after its own control byte (Co = 1)
            seq = []
            for b in rng.choice(cmds):
                seq += [0x80, b]
            out.append([0x3C, seq, 0])
        elif kind == 2:
            out.append([0x3C, [0x40] + [rng.randrange(256) for _ in range(rng.randrange(300))], 0])
        elif kind == 3:
            out.append([0x3C, [0xC0, rng.randrange(256), 0x80, 0xAF], 0])
        else:
            out.append([rng.choice((0x3C, 0x3D)), [0x40, 0xFF, 0xFF], rng.randrange(2)])
    return out


@pytest.mark.parametrize("seed", range(8))
def test_the_two_models_decode_any_stream_alike(seed):
    transfers = _random_transfers(random.Random(seed))
    js = run_js(transfers)
    py, acks = run_py(transfers)
    assert js["acks"] == acks
    assert bytes(js["ram"]) == bytes(py.ram)
    assert bytes(js["screen"]) == bytes(py.screen())
    st = js["status"]
    assert (st["on"], st["inverse"], st["contrast"], st["start_line"], st["mux"]) == (
        py.on,
        py.inverse,
        py.contrast,
        py.start,
        py.mux + 1,
    )
