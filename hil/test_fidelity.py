"""The virtual Pico tells the truth about what a pump relies on: random bits, UART wire time,
DMA bus time (issue 12). Each check is what MicroPython's own test for it checks
(extmod/random_seed_default.py, extmod/machine_uart_tx.py, extmod/machine_uart_irq_txidle.py,
ports/rp2/rp2_dma.py), on the pump image and on a UART that the pump leaves free (UART1 on
GPIO8/9; the vpico image's REPL is UART0, which those tests take: `make fidelity` runs them
unchanged on an image whose REPL is on UART1).
"""

from __future__ import annotations

import ast
import textwrap

import pytest
from dut import DUT

from pumphost.paths import CACHE
from pumphost.vboard.virtual import VirtualBoard

IMAGE = CACHE / "images" / "vpico" / "firmware.bin"


def test_urandom_differs_between_calls(dut: DUT) -> None:
    a, b = dut.eval("(__import__('os').urandom(16), __import__('os').urandom(16))")
    assert a != b
    assert len(set(a + b)) > 8  # not a constant byte either


def test_random_seed_default_differs(dut: DUT) -> None:
    code = (
        "import random\nrandom.seed()\na = [random.getrandbits(16) for _ in range(10)]\n"
        "random.seed()\nb = [random.getrandbits(16) for _ in range(10)]\nprint(a == b)"
    )
    assert dut.exec(code).strip() == "False"


def _urandom_after_boot(seed: int | None) -> bytes:
    extra = ("--seed", str(seed)) if seed is not None else ()
    with VirtualBoard(IMAGE, fresh=True, port=0, extra_args=extra) as vb:
        vb.run_ns(1_000_000_000)
        return ast.literal_eval(DUT(vb.url).exec("print(repr(__import__('os').urandom(16)))"))


def test_seed_option_makes_random_bits_reproducible(target: str) -> None:
    if target != "virtual":
        pytest.skip("starts virtual boards of its own: --target virtual only")
    first = _urandom_after_boot(1234)
    assert _urandom_after_boot(1234) == first
    assert _urandom_after_boot(4321) != first


def _alone(code: str) -> str:
    """`code` (which leaves its result in `res`) with the pump's timers stopped and UART1
    taken from the protocol link, which gets it back after, and the heap collected first: the
    service step, a poll or a collection landing inside a measured write would add up to a
    millisecond to it. The watchdog is fed once before `code`, which must take under 2 s."""
    return (
        "import boardapp, protolink, gc\n"
        "boardapp.link.timer.deinit()\nboardapp.service_timer.deinit()\ngc.collect()\n"
        "import time\ntime.sleep_ms(100)\n"  # a flash write from the log finishes meanwhile
        # Nothing feeds the watchdog (boardapp.WATCHDOG_MS) now: the last service step fed it
        # up to SERVICE_CALM_MS ago, and building the DMA test's 16 KB takes most of a second.
        "boardapp.watchdog.feed()\n"
        f"try:\n{textwrap.indent(code, '    ')}\n"
        "finally:\n"
        "    boardapp.pump.follow_period(boardapp._period)\n"
        "    boardapp.link = protolink.start(boardapp.proto)\n"
        "print('result', res)\n"
    )


def _result(out: str) -> object:
    return ast.literal_eval(out.rsplit("result ", 1)[1].strip())


UART_TX = """
import time
from machine import UART
res = []
for baud in (2400, 9600, 115200):
    u = UART(1, baud, bits=8, parity=None, stop=1, tx=8, rx=9)
    t0 = time.ticks_us()
    u.write('Hello World')
    u.flush()
    res.append(time.ticks_diff(time.ticks_us(), t0))
    u.deinit()
"""


def test_uart_write_and_flush_take_the_wire_time(dut: DUT) -> None:
    took = _result(dut.exec(_alone(UART_TX)))
    for baud, us in zip((2400, 9600, 115200), took, strict=True):
        wire = 11 * 10 * 1_000_000 // baud  # 11 characters of 10 bits
        # the first character starts at once; a few us of Python around the write
        assert wire <= us <= wire + 180, (baud, us, wire)


UART_TXIDLE = """
import time
from machine import UART
u = UART(1, 9600, tx=8, rx=9)
fired = []
u.irq(lambda u: fired.append(time.ticks_us()), u.IRQ_TXIDLE)
text = 'Hello World' * 20
t0 = time.ticks_us()
u.write(text)
time.sleep_ms(400)
u.deinit()
res = [time.ticks_diff(t, t0) for t in fired]
"""


def test_uart_txidle_fires_when_the_data_has_left(dut: DUT) -> None:
    fired = _result(dut.exec(_alone(UART_TXIDLE)))
    wire = 220 * 10 * 1_000_000 // 9600  # 229 ms
    assert len(fired) == 1, fired
    # the FIFO's trigger level (1/8 full: 4 characters) is reached just before the end
    assert wire - 10 * 10 * 1_000_000 // 9600 <= fired[0] <= wire, (fired, wire)


DMA = """
import machine, rp2, time
src = bytes(i & 0xFF for i in range(16 * 1024))
dest = bytearray(16 * 1024)
dma = rp2.DMA()
dma.read = src
dma.write = dest
dma.count = len(dest) // 4
dma.ctrl = dma.pack_ctrl()
s = machine.disable_irq()
t0 = time.ticks_us()
dma.active(True)
while dma.active():
    pass
t1 = time.ticks_us()
machine.enable_irq(s)
dma.close()
res = (time.ticks_diff(t1, t0), dest == src)
"""


def test_dma_copy_takes_bus_time(dut: DUT) -> None:
    us, same = _result(dut.exec(_alone(DMA)))
    assert same is True
    # 4096 words: MicroPython's rp2_dma.py expects 70-124 us on an RP2040
    assert 70 <= us < 125, us


# On pins the pump leaves free (GP10-12 are keys).
I2S_TWICE = """
from machine import I2S, Pin
for n in range(2):
    i2s = I2S(0, sck=Pin(26), ws=Pin(27), sd=Pin(22), mode=I2S.TX, bits=16,
              format=I2S.MONO, rate=11025, ibuf=400)
    print(i2s.write(b'01234567' * 100))
    i2s.deinit()
print('done')
"""


def test_a_second_i2s_after_deinit_still_sends(target: str) -> None:
    if target != "virtual":
        pytest.skip("starts a virtual board of its own: --target virtual only")
    # a board of its own: a wedged board would take the suite's shared board with it
    with VirtualBoard(IMAGE, fresh=True, port=0) as vb:
        vb.run_ns(1_000_000_000)
        out = DUT(vb.url, timeout=60).exec(I2S_TWICE).split()
    assert out == ["800", "800", "done"]
