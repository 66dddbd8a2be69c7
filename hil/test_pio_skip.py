"""PIO countdown loops done in one go (host_tools/vboard/pio-clock.mjs) change no edge.

The bridge runs a `jmp x-- self` loop's remaining iterations at once and undoes the part not
yet due when the CPU writes to the PIO block. The same board script, with CPU writes landing
inside loops (exec, restart, a new divider, disable and enable), gives the same pin edges,
to the nanosecond relative to the first one, with and without that (`--pio-step` turns it off);
and an undisturbed pulse lasts exactly its cycle count.
"""

from __future__ import annotations

import pytest
from dut import DUT

from pumphost.vboard.virtual import DEFAULT_IMAGE, VirtualBoard

pytestmark = pytest.mark.skipif(not DEFAULT_IMAGE.exists(), reason="needs the vpico image")

PIN = 26  # GP26 and GP27 are free on the pump board (GP6 and GP7 are keys now)

SCRIPT = f"""
import rp2, time
from machine import Pin
import boardapp
boardapp.service_timer.deinit()  # the pump's 20 ms service would land at run-dependent moments

@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def pulse():
    pull(block)
    mov(x, osr)
    set(pins, 1)
    label("d")
    jmp(x_dec, "d") [1]
    set(pins, 0) [3]

@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def ydown():
    pull(block)
    mov(y, osr)
    set(pins, 1)
    label("d")
    jmp(y_dec, "d")
    set(pins, 0)

sm = rp2.StateMachine(4, pulse, freq=3_000_000, set_base=Pin({PIN}))  # divider 41 + 2/3
sm.active(1)
for n in (1000, 0, 1, 2, 37):
    sm.put(n)
time.sleep_ms(5)
sm.put(200_000)              # about 133 ms of loop
time.sleep_ms(20)
sm.exec("set(x, 9)")         # cuts it short
time.sleep_ms(2)
sm.put(300_000)
time.sleep_ms(7)
rp2.PIO(1).remove_program()  # no effect on a running machine; a write to the block
sm.init(pulse, freq=1_000_000, set_base=Pin({PIN}))  # a new divider mid-loop, then restart
sm.active(1)
sm.put(50_000)
time.sleep_ms(11)
sm.active(0)
time.sleep_us(300)
sm.active(1)                 # resumes the loop where it stopped
time.sleep_ms(60)
sm.active(0)
sm2 = rp2.StateMachine(5, ydown, freq=2_000_000, set_base=Pin({PIN + 1}))
sm2.active(1)
sm2.put(12_345)
time.sleep_ms(30)
sm2.active(0)
boardapp.watchdog.feed()
print("done")
"""


def _edges(skip: bool) -> list[list[int]]:
    """The script runs as main.py after a reset with no REPL client: nothing from the host
    lands at a run-dependent moment, so its CPU timing is the same on every run."""
    extra = ("--seed", "12", *(() if skip else ("--pio-step",)))
    with VirtualBoard(DEFAULT_IMAGE, fresh=True, port=0, extra_args=extra) as vb:
        vb.run_ns(1_000_000_000)
        DUT(vb.url).put({"/main.py": SCRIPT.encode()})
        # The reboot at a whole millisecond: when the host's reset lands between two ticks of
        # the 1 us timer, every sleep after it ends up to 1 us apart from run to run.
        vb.power_cut(at_ns=(vb.now_ns() // 1_000_000 + 2) * 1_000_000)
        vb.run_ns(1_500_000_000)
        out = []
        for pin in (PIN, PIN + 1):
            rising, falling = vb.edges(pin, since_ns=0)
            out += [rising, falling]
        t0 = out[0][0]
        return [[t - t0 for t in ts] for ts in out]


@pytest.fixture(scope="module")
def both(target: str) -> tuple[list[list[int]], list[list[int]]]:
    if target != "virtual":
        pytest.skip("starts virtual boards of its own: --target virtual only")
    return _edges(True), _edges(False)


def test_skipping_changes_no_edge(both: tuple[list[list[int]], list[list[int]]]) -> None:
    skipped, stepped = both
    assert len(skipped[0]) >= 7 and len(skipped[2]) == 1
    assert skipped == stepped


def test_an_undisturbed_countdown_lasts_its_cycles(
    both: tuple[list[list[int]], list[list[int]]],
) -> None:
    (rising, falling, *_), _ = both
    # set(pins, 1) then n + 1 iterations of 2 cycles, then set(pins, 0): 2n + 3 cycles
    for i, n in enumerate((1000, 0, 1, 2, 37)):
        cycles = 2 * n + 3
        width = falling[i] - rising[i]
        # pico-sdk's divider for 3 MHz: 41 + 170/256 system cycles of 8 ns per PIO cycle
        exact = cycles * (125_000_000 * 256 // 3_000_000) / 256 * 8
        assert abs(width - exact) <= 8, (n, width, exact)
