# RP2040 PIO step generator, fed Klipper-style (count, interval) batches from the core's plan.
#
# The state machine runs at 1 MHz (1 cycle = 1 us). Every step costs exactly N + 11 cycles
# whether it continues a batch or starts the next one, so the host loads N = interval - 11.
# After a batch's last step the SM pushes a word to its RX FIFO and raises its IRQ; a hard IRQ
# handler counts RX words as finished batches (two IRQs that merge still leave two words)
# and refills the 4-word TX FIFO from a preallocated ring. No Python runs per step, and a GC
# pause or a busy REPL only drains the ring, which holds seconds of steps.
import time

import rp2
from machine import disable_irq, enable_irq, mem32
from micropython import const

_FREQ = const(1000000)
_HIGH = const(1)  # extra cycles STEP stays high: 2 us pulses (TMC2209 needs 100 ns)
_STEP_CYCLES = const(11)  # cycles per step outside the delay loop
_FIRST_CYCLES = const(5)  # from SM start to the first step, outside the delay loop
_RING = const(64)  # batches
_F = const(3)  # ring fields: count, interval us, delay word
_PIO_BASES = (0x50200000, 0x50300000)
_SM_ADDR = const(0x0D4)
_SM_STRIDE = const(0x18)
# Program counter offsets (see the program below) used to read progress after a stop.
_PC_SET_HIGH = const(5)
_PC_JMP_Y = const(7)
_PC_PUSH = const(8)


@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def _step_program():
    wrap_target()  # noqa: F821
    pull(block)  # noqa: F821   count - 1
    mov(y, osr)  # noqa: F821
    pull(block)  # noqa: F821   delay N, kept in OSR for every step of the batch
    label("step")  # noqa: F821
    mov(x, osr)  # noqa: F821
    label("delay")  # noqa: F821
    jmp(x_dec, "delay")  # noqa: F821
    set(pins, 1)[_HIGH]  # noqa: F821
    set(pins, 0)  # noqa: F821
    jmp(y_dec, "pad")  # noqa: F821
    push(noblock)  # noqa: F821   batch done: one RX word per batch
    irq(rel(0))  # noqa: F821
    wrap()  # noqa: F821
    label("pad")  # noqa: F821
    jmp("step")[4]  # noqa: F821   same 5 cycles as push + irq + pull + mov + pull


class PIOStepper:
    """STEP by PIO, DIR and EN by GPIO. `steps_done` and `last_tick` describe only steps the
    state machine has really issued; they are what the firmware reports as delivered."""

    def __init__(self, sm_id, step_pin, dir_pin, en_pin, en_active_low=True, dir_forward=1):
        self._sm_id = sm_id
        self._step = step_pin
        self._dir = dir_pin
        self._en = en_pin
        self._en_on = 0 if en_active_low else 1
        self._fwd = dir_forward
        self._addr = _PIO_BASES[sm_id // 4] + _SM_ADDR + (sm_id % 4) * _SM_STRIDE
        self._ring = [0] * (_RING * _F)
        self._on_batch_cb = self._on_batch  # bound once: IRQs must not allocate
        self._sm = rp2.StateMachine(sm_id)
        # Program offset in instruction memory: the SM's PC right after init.
        self._sm.init(_step_program, freq=_FREQ, set_base=self._step)
        self._offset = mem32[self._addr] & 0x1F
        self.steps_done = 0
        self.last_tick = 0
        self.starved = False
        self.running = False
        self._reset_ring()
        self.enable(False)

    def _reset_ring(self):
        self._head = 0  # next batch to write into the FIFO
        self._tail = 0  # next free slot
        self._done = 0  # batch being executed (oldest not finished)
        self._fresh = True  # next queued batch starts a segment

    def enable(self, on):
        self._en.value(self._en_on if on else 1 - self._en_on)

    def room(self):
        return _RING - (self._tail - self._done)

    def queue(self, count, interval):
        """Append a batch. The first step of a segment is split off: it has no batch
        overhead before it, so it needs its own delay word."""
        if self._fresh:
            self._fresh = False
            self._put(1, interval, interval - _FIRST_CYCLES)
            count -= 1
        if count > 0:
            self._put(count, interval, interval - _STEP_CYCLES)

    def _put(self, count, interval, delay):
        i = (self._tail % _RING) * _F
        r = self._ring
        r[i] = count
        r[i + 1] = interval
        r[i + 2] = delay
        self._tail += 1

    def _feed(self):
        # Two FIFO words per batch; the FIFO holds four.
        sm, r = self._sm, self._ring
        while self._head < self._tail and sm.tx_fifo() <= 2:
            i = (self._head % _RING) * _F
            sm.put(r[i] - 1)
            sm.put(r[i + 2])
            self._head += 1

    def _collect(self):
        # One RX word per finished batch. Runs with IRQs off or in the IRQ: integers only.
        sm, r = self._sm, self._ring
        while sm.rx_fifo():
            sm.get()
            i = (self._done % _RING) * _F
            self.steps_done += r[i]
            self.last_tick = time.ticks_add(self.last_tick, r[i] * r[i + 1])
            self._done += 1

    def _on_batch(self, _sm):
        # Hard IRQ: at least one batch's last step went out.
        self._collect()
        self._feed()
        if self._done == self._tail:
            self.starved = True

    def feed(self):
        state = disable_irq()
        try:
            self._collect()  # in case an IRQ was missed: the RX words still count
            self._feed()
        finally:
            enable_irq(state)

    def start(self):
        """Start a segment with whatever is queued. Returns the tick the state machine
        started at: the plan's time zero."""
        self._dir.value(self._fwd)
        sm = self._sm
        sm.init(_step_program, freq=_FREQ, set_base=self._step)
        self._head = self._done  # init emptied the FIFO: anything fed before goes again
        sm.irq(self._on_batch_cb, hard=True)
        self._feed()
        self.starved = False
        self.enable(True)  # EN on only as the state machine starts
        self.last_tick = time.ticks_us()
        sm.active(1)
        self.running = True
        return self.last_tick

    def halt(self, keep_enabled=False):
        """Stop at once and account for the steps of the interrupted batch. Returns the
        tick at which the stop took effect."""
        sm = self._sm
        sm.active(0)
        now = time.ticks_us()
        if not keep_enabled:
            self.enable(False)
        sm.exec("set(pins, 0)")
        pc = mem32[self._addr] & 0x1F
        pc = (pc - self._offset) & 0x1F
        state = disable_irq()
        try:
            self._collect()
            sm.exec("mov(isr, y)")
            sm.exec("push(noblock)")
            y = sm.get()
            while sm.tx_fifo():  # drop unexecuted batches here, not via init's FIFO clear
                sm.exec("pull(noblock)")
            if self._done < self._head:
                count = self._ring[(self._done % _RING) * _F]
                partial = 0
                if pc == _PC_PUSH:
                    partial = count
                elif _PC_SET_HIGH <= pc <= _PC_JMP_Y:
                    partial = count - y
                elif pc > 2 and pc != _PC_PUSH + 1:  # at the irq the push was collected
                    partial = count - 1 - y
                if partial:
                    iv = self._ring[(self._done % _RING) * _F + 1]
                    self.steps_done += partial
                    self.last_tick = time.ticks_add(self.last_tick, partial * iv)
            self._reset_ring()
        finally:
            enable_irq(state)
        sm.irq(None)
        self.running = False
        return now
