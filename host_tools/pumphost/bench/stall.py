"""Step reserve against the worst stalls the firmware causes, on the virtual Pico (make bench).

Two reserves keep steps on time while the CPU is busy elsewhere:
- the PIO FIFO (8 words, up to 30 steps each) carries on with interrupts off, as during a
  flash erase or program; measured by bisection: interrupts off for D ms at 100 mL/h, then
  did the state machine stall (a step_late alarm)?
- the ring of planned entries, refilled by the 20 ms service step and drained into the FIFO
  by a hard IRQ: it covers a service step held up by a GC, a REPL paste or a long file write.
"""

from __future__ import annotations

import ast

from mpremote.transport_serial import SerialTransport

from pumphost.vboard.virtual import DEFAULT_IMAGE, VBoardError, VirtualBoard

RATE_ML_H = "100"
_TARGET_RATIO = 2.0  # issue 6: the reserve holds at least twice the worst stall

_START = "pump.stop()\npump.load('bd-plastipak-10ml', '10')\npump.rate('{}')\npump.start()"
# Interrupts off for {us} us, as a flash erase or program holds them (hil/test_stalls.py too).
IRQS_OFF = """
import machine, time
s = machine.disable_irq()
t = time.ticks_us()
while time.ticks_diff(time.ticks_us(), t) < {us}:
    pass
machine.enable_irq(s)
"""
_STALLS = """
import gc, os, time
def _t(fn):
    t = time.ticks_us()
    fn()
    return time.ticks_diff(time.ticks_us(), t) // 1000
def _file():
    with open('/bench.bin', 'wb') as f:
        f.write(bytes(4096))
_junk = [[0] * 16 for _ in range(1500)]
def _gc():
    gc.collect()
_src = 'x = 0\\n' + ''.join('x += %d\\n' % i for i in range(600))
def _paste():
    exec(_src)
print(repr((_t(_file), _t(_gc), len(_src), _t(_paste))))
os.remove('/bench.bin')
del _junk
"""
_RING = "import boardapp\nprint(boardapp.stepper.queued())"


class _Board:
    def __init__(self, vb: VirtualBoard) -> None:
        self.vb = vb

    def exec(self, code: str) -> str:
        t = SerialTransport(self.vb.url, baudrate=115200)
        try:
            t.enter_raw_repl(soft_reset=False)
            out, err = t.exec_raw(code, timeout=120)
            t.exit_raw_repl()
        finally:
            t.close()
        if err:
            raise RuntimeError(err.decode(errors="replace"))
        return out.decode(errors="replace").strip()

    def late_after_irqs_off(self, ms: int) -> bool:
        self.exec(_START.format(RATE_ML_H))
        self.vb.run_ns(300_000_000)
        self.exec(IRQS_OFF.format(us=ms * 1000))
        self.vb.run_ns(100_000_000)
        alarms = ast.literal_eval(self.exec("print(repr(pump.status()['alarms']))"))
        self.exec("pump.stop()")
        return "step_late" in alarms


def fifo_reserve_ms(board: _Board, lo: int = 20, hi: int = 1000) -> int:
    """Longest interrupts-off stall (ms, to 5 ms) with no late step at RATE_ML_H."""
    if board.late_after_irqs_off(lo):
        return 0
    while hi - lo > 5:
        mid = (lo + hi) // 2
        if board.late_after_irqs_off(mid):
            hi = mid
        else:
            lo = mid
    return lo


def main() -> None:
    if not DEFAULT_IMAGE.exists():
        print(f"stalls    SKIPPED LOUDLY: no virtual board image at {DEFAULT_IMAGE}")
        return
    try:
        with VirtualBoard(DEFAULT_IMAGE, fresh=True, port=0) as vb:
            vb.run_ns(1_000_000_000)
            board = _Board(vb)
            reserve = fifo_reserve_ms(board)
            file_ms, gc_ms, paste_bytes, paste_ms = ast.literal_eval(board.exec(_STALLS))
            board.exec(_START.format(RATE_ML_H))
            vb.run_ns(1_000_000_000)
            ring_steps = int(board.exec(_RING))
            board.exec("pump.stop()")
    except (VBoardError, RuntimeError, OSError) as e:
        print(f"stalls    SKIPPED LOUDLY: the virtual board failed: {e}")
        return
    step_ms = 3600 * 1000 * 41.28e-6 / float(RATE_ML_H)  # 41.28 nL per step, 10 mL syringe
    irq_off = file_ms  # upper bound: the whole write, of which erase + program run IRQs-off
    ratio = reserve / irq_off if irq_off else float("inf")
    verdict = "met" if ratio >= _TARGET_RATIO else "MISSED"
    print(
        f"stalls    at {RATE_ML_H} mL/h ({step_ms:.3f} ms per step): FIFO reserve "
        f"{reserve} ms with interrupts off (bisection, 5 ms)"
    )
    print(
        f"stalls    longest interrupts-off stall: a 4 KB file write, {file_ms} ms in all "
        f"(sector erase 45 ms + page programs, W25Q16JV typical); reserve / stall "
        f"{ratio:.1f}x, target >= {_TARGET_RATIO:g}x: {verdict}"
    )
    print(
        f"stalls    service step held up: full GC {gc_ms} ms, {paste_bytes} B REPL paste "
        f"{paste_ms} ms; ring reserve {ring_steps} steps = {ring_steps * step_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
