# HX711 load-cell amplifier read by an RP2040 PIO state machine: no Python per bit.
#
# The HX711 pulls DOUT low when a conversion is ready (10 per second with RATE low). Each
# PD_SCK rising edge then shifts the next bit out on DOUT, MSB first, 24 bits of two's
# complement; a 25th pulse selects channel A at gain 128 for the next conversion and sends
# DOUT high again. PD_SCK high for more than 60 us powers the chip down, so a pulse must stay
# well under that (here 4 us high) and the pin idles low.
#
# The state machine waits for DOUT low, clocks the 25 pulses, shifting the 24 bits into its
# ISR, and pushes each sample to the RX FIFO (joined: 8 samples, 0.8 s). take() in the
# service step (at most pump.api.SERVICE_CALM_MS apart: 5 samples) reads all that is there
# (pump/loadcell.py does the rest). The push does not block: while nobody reads (the
# pump idle) a full FIFO keeps its 8 oldest samples, the newer ones are dropped, and the
# HX711 is still read on time, so the first sample after a drain is fresh.
import rp2
from micropython import const

_FREQ = const(1000000)  # 1 us per cycle: 9 us per bit, about 230 us per sample


@rp2.asm_pio(
    set_init=rp2.PIO.OUT_LOW,
    in_shiftdir=rp2.PIO.SHIFT_LEFT,
    fifo_join=rp2.PIO.JOIN_RX,
)
def _hx711_program():
    # ruff: noqa: F821 (the assembler's names)
    wrap_target()
    set(x, 23)  # 24 data bits
    wait(0, pin, 0)  # DOUT low: a conversion is ready
    label("bit")
    set(pins, 1)[3]  # PD_SCK high 4 us: the HX711 puts the next bit on DOUT
    set(pins, 0)[2]  # PD_SCK low
    in_(pins, 1)  # sample DOUT
    jmp(x_dec, "bit")
    set(pins, 1)[3]  # 25th pulse: channel A, gain 128; DOUT goes high
    set(pins, 0)
    push(noblock)  # the 24 bits (the ISR was empty); dropped if the FIFO is full
    wrap()


class HX711:
    """dout: a Pin configured as input with pull-up (an unplugged cell then reads as no
    data, never as a stream of zeros); sck: the PD_SCK pin."""

    def __init__(self, sm_id, dout, sck):
        self._sm = rp2.StateMachine(sm_id, _hx711_program, freq=_FREQ, in_base=dout, set_base=sck)
        self._sm.active(1)
        # The state machine's own methods, bound once: the load cell's take() calls them for
        # every sample (LoadCell(hx.get, ..., waiting=hx.waiting)) with no Python in between.
        # waiting() -> samples in the FIFO; get() -> the oldest (blocks if there is none).
        self.waiting = self._sm.rx_fifo
        self.get = self._sm.get

    def read(self):
        """The next raw 24-bit sample (0..0xFFFFFF), or -1 if none is waiting. Never blocks,
        never allocates (24-bit values are small ints)."""
        sm = self._sm
        if sm.rx_fifo():
            return sm.get()
        return -1

    def stop(self):
        """Stop reading; PD_SCK stays low (the HX711 keeps converting)."""
        self._sm.active(0)
