# The alarm buzzer (a passive piezo) and the two-colour alarm LED, played by the RP2040 without
# Python: two PIO state machines shift pin levels out of their FIFOs (the buzzer one 1 ms slot
# per bit, a half period of the 500 Hz tone; the LED 16 ms per 2 bits, red and green), and a
# DMA channel each keeps those FIFOs full from a ring over the pattern (pump/signals.py:
# one burst period, a power of two of bytes), for years of transfers. Once a pattern is
# started nothing of the CPU is needed: it keeps its timing while Python is busy, while
# interrupts are off for a flash write, and after the interpreter is stuck in a fault. A reset
# stops it (the chip resets PIO and DMA; MicroPython's soft reset releases them): _boot.py
# starts it again from its safe state on, before the pump is built (get()).
import rp2
from machine import Pin, mem32
from micropython import const
from uctypes import addressof

from pump import signals

_FREQ = const(2000)  # 2 cycles per 1 ms tone slot, 32 cycles per 16 ms light slot
_TONE_SM = const(4)  # PIO1 SM0 (the stepper has PIO0 SM0, the HX711 PIO1 SM3)
_LIGHT_SM = const(5)  # PIO1 SM1
_DREQ_PIO1_TX0 = const(8)  # RP2040 datasheet 2.5.3.1: DREQ 8-11 are PIO1's TX FIFOs
_COUNT = const(0x7FFFFFFF)  # transfers: 2**31 words of 32 ms, 2 years of tone
# DMA registers (RP2040 datasheet 2.5.7): channel n's block at n * 0x40, its CTRL without
# trigger at AL1_CTRL; CHAN_ABORT.
_DMA_BASE = const(0x50000000)
_DMA_CHANNELS = const(12)
_AL1_CTRL = const(0x10)
_CHAN_ABORT = const(0x50000444)
_PRIORITIES = (signals.HIGH, signals.MEDIUM, signals.LOW)


@rp2.asm_pio(
    out_init=rp2.PIO.OUT_LOW,
    out_shiftdir=rp2.PIO.SHIFT_RIGHT,
    autopull=True,
    pull_thresh=32,
    fifo_join=rp2.PIO.JOIN_TX,
)
def _tone_program():
    # ruff: noqa: F821 (the assembler's names)
    out(pins, 1)[1]  # one slot of 2 cycles; autopull takes the next word on the same cycle


@rp2.asm_pio(
    out_init=(rp2.PIO.OUT_LOW, rp2.PIO.OUT_LOW),
    out_shiftdir=rp2.PIO.SHIFT_RIGHT,
    autopull=True,
    pull_thresh=32,
    fifo_join=rp2.PIO.JOIN_TX,
)
def _light_program():
    # ruff: noqa: F821
    out(pins, 2)[31]  # one slot of 32 cycles: red, green


def _log2(n):
    k = 0
    while 1 << k < n:
        k += 1
    return k


class _Stream:
    """One state machine, its DMA channel and its patterns: {priority: (address, bytes)}."""

    def __init__(self, sm_id, program, pin, patterns):
        self._sm_id = sm_id
        self._program = program
        self._pin = pin
        self._patterns = patterns
        self._dma = rp2.DMA()
        self._sm = rp2.StateMachine(sm_id)
        self.priority = -1

    def play(self, priority):
        """The pattern of `priority` from its start (0: pin low, stopped)."""
        if priority == self.priority:
            return
        self._dma.active(0)
        # init stops the machine, empties its FIFO and drives the pins low
        self._sm.init(self._program, freq=_FREQ, out_base=self._pin)
        self.priority = 0  # quiet until the new pattern runs (a failure below: retried)
        if not priority:
            return
        addr, n = self._patterns[priority]
        d = self._dma
        ctrl = d.pack_ctrl(
            size=2,
            inc_read=True,
            inc_write=False,
            ring_size=_log2(n),
            ring_sel=False,
            treq_sel=_DREQ_PIO1_TX0 + (self._sm_id & 3),
            irq_quiet=True,
        )
        d.config(read=addr, write=self._sm, count=_COUNT, ctrl=ctrl, trigger=True)
        self._sm.active(1)
        self.priority = priority


def _stop_stale_channels():
    # A soft reset releases MicroPython's DMA channels (their finaliser) but leaves them
    # running: one still fed from the old boot's buffer would feed this boot's state machines
    # too, with whatever the heap now holds there. So any channel paced by our two TX FIFOs is
    # stopped before new ones are claimed. (A hardware or watchdog reset clears the DMA block.)
    ours = (_DREQ_PIO1_TX0 + (_TONE_SM & 3), _DREQ_PIO1_TX0 + (_LIGHT_SM & 3))
    for ch in range(_DMA_CHANNELS):
        reg = _DMA_BASE + ch * 0x40 + _AL1_CTRL
        ctrl = mem32[reg]
        if ctrl & 1 and (ctrl >> 15) & 0x3F in ours:
            mem32[reg] = ctrl & ~1  # EN off, no trigger
            mem32[_CHAN_ABORT] = 1 << ch


class AlarmSignal:
    """show(sound, light): the buzzer plays the burst of priority `sound` and the LED shows
    priority `light` (0: quiet, dark), each from its start when it changes; the other one runs
    on undisturbed (pump.signals.Annunciator calls it)."""

    def __init__(self, buzzer, led_red, led_green):
        if led_green != led_red + 1:
            raise ValueError("the LED's green pin must follow its red one (one PIO out group)")
        # Every pattern is laid out once in one buffer, biggest first from an address aligned
        # to the biggest, so each starts aligned to its own (power of two) size: a DMA ring.
        sizes = []
        for p in _PRIORITIES:
            sizes.append((signals.PERIOD_MS[p] // 8, 0, p))
            sizes.append((signals.light_bytes(p), 1, p))
        sizes.sort(reverse=True)
        total = 0
        for n, _, _ in sizes:
            total += n
        big = sizes[0][0]
        _stop_stale_channels()
        self._buf = bytearray(total + big)
        base = addressof(self._buf)
        off = -base % big
        tone, light = {}, {}
        mv = memoryview(self._buf)
        for n, kind, p in sizes:
            if kind:
                signals.light_bits(p, mv[off : off + n])
                light[p] = (base + off, n)
            else:
                signals.tone_bits(p, mv[off : off + n])
                tone[p] = (base + off, n)
            off += n
        self._tone = _Stream(_TONE_SM, _tone_program, Pin(buzzer), tone)
        self._light = _Stream(_LIGHT_SM, _light_program, Pin(led_red), light)
        self.show(0, 0)

    def show(self, sound, light):
        self._tone.play(sound)
        self._light.play(light)

    @property
    def shown(self):
        """(sound, light) being played."""
        return self._tone.priority, self._light.priority


_signal = None


def get(board):
    """The board's alarm signal, made once per boot (from its PINS: buzzer, led_red,
    led_green): _boot.py starts it, boardapp hands the same one to the pump."""
    global _signal
    if _signal is None:
        pins = board.PINS
        _signal = AlarmSignal(pins["buzzer"], pins["led_red"], pins["led_green"])
    return _signal
