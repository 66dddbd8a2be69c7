# RP2040 PIO step generator, fed the core's (count, interval) batches.
#
# Reserve is what matters here. Writing flash stalls the CPU with interrupts off for tens of
# ms (a 4 KB sector erase is 45 ms typical), and only what is already in the state machine's
# FIFO keeps stepping meanwhile. At fast rates the plan alternates q and q+1 us between steps
# (a fractional interval), so one (count, interval) pair per run would hold only a few steps.
# So the driver packs runs into "entries": a base interval B and one bit per step (interval
# B or B+1), 30 steps per FIFO word, with the TX FIFO joined to 8 words. The FIFO then holds
# at least 150 steps (about 220 ms at 100 mL/h), topped up by a hard IRQ at the end of every
# entry and by the service step (every pump.api.SERVICE_MS at such rates).
#
# FIFO words per entry: count - 1, delay word, then ceil(count / 30) pattern words (LSB
# first). The state machine runs at 1 MHz (1 cycle = 1 us); every step costs exactly
# delay + 16 cycles (+1 for a 1 bit), whether it continues an entry or starts the next.
#
# Accounting: an entry counts as done once the state machine pulled the next entry's first
# word, or sits at that pull with all of this entry's words taken (words pulled = words fed
# - FIFO level). A halt adds the interrupted entry's steps from PC and Y; while it runs,
# in_flight() gives them from the entry's timing (status and the log report to the step).
# The TX-stall flag (FDEBUG) says a step could not be issued on time: the firmware stops
# with an alarm.
import time

import rp2
from machine import disable_irq, enable_irq, mem32
from micropython import const

_FREQ = const(1000000)
_STEP_CYCLES = const(16)  # cycles per step outside the delay loop (0 bit)
_FIRST_CYCLES = const(11)  # from SM start to the first step, outside the delay loop
_BITS = const(30)  # steps per pattern word: Python ints stay small (31-bit) on the rp2
_PAT = const(8)  # pattern words per entry at most
_MAX_STEPS = const(240)  # _BITS * _PAT, for fast rates, where the reserve matters
_SLOW_STEPS = const(64)  # at slow rates: status() lags by at most one entry
_SLOW_US = const(20000)  # intervals from here on are slow
_MAX_SPAN_US = const(0x10000000)  # as the planner's batches: ticks_add stays small
_RING = const(16)  # entries
_CLOSE_AHEAD_US = const(500000)  # feed() closes the open entry below this much ahead
# The state machine starts a little after the tick start() reads (33 us measured on the
# virtual Pico, IRQs off) and halt() reads its tick a little after the stop: a step planned
# that close before the halt's tick may not have gone out. halt() dates the stop this much
# earlier (never before the last step), so the plan check sees no false lateness.
_LATENCY_US = const(200)
# Entry fields: count, base interval, ones (1 bits), span us, delay word, 8 pattern words.
_F = const(13)
_FIFO = const(8)
_PIO_BASES = (0x50200000, 0x50300000)
_FDEBUG = const(0x008)
_SM_SHIFTCTRL = const(0x0D0)
_SM_ADDR = const(0x0D4)
_SM_STRIDE = const(0x18)
_FJOIN_TX = const(1 << 30)
# Program counter offsets (see the program below) used to count steps after a halt.
_PC_HEADER = const(0)
_PC_LOAD_Y = const(1)
_PC_HIGH = const(13)  # first instruction after the rising edge
_PC_DONE = const(16)


@rp2.asm_pio(
    set_init=rp2.PIO.OUT_LOW,
    out_shiftdir=rp2.PIO.SHIFT_RIGHT,
    pull_thresh=_BITS,
    fifo_join=rp2.PIO.JOIN_TX,
)
def _step_program():
    # ruff: noqa: F821 (the assembler's names)
    wrap_target()
    pull(block)  # 0: count - 1
    mov(y, osr)  # 1
    pull(block)  # 2: delay word
    mov(isr, osr)  # 3: ISR keeps the delay for every step of the entry
    out(null, 32)  # 4: OSR empty: the first step pulls a pattern word
    label("step")
    jmp(not_osre, "keep")  # 5
    pull(block)  # 6: next 30 pattern bits
    label("have")
    out(x, 1)  # 7
    jmp(not_x, "base")  # 8
    nop()  # 9: a 1 bit is one more microsecond
    label("base")
    mov(x, isr)  # 10
    label("delay")
    jmp(x_dec, "delay")  # 11
    set(pins, 1)  # 12: the step
    nop()  # 13: 2 us pulse (TMC2209 needs 100 ns)
    set(pins, 0)  # 14
    jmp(y_dec, "pad")  # 15
    irq(rel(0))  # 16: entry done; wrap to the next entry's first word
    wrap()
    label("pad")
    jmp("step")[5]  # 17: same 6 cycles as irq + pull + mov + pull + mov + out
    label("keep")
    jmp("have")  # 18: same cycle as the pull it skips


# Instructions the driver runs with StateMachine.exec, assembled once here: exec() with a
# string assembles through rp2's shared namespace, and a service step that halts inside a
# REPL command's exec() would break the command's assembly (KeyError) and allocate.
_EXEC_SET_LOW = rp2.asm_pio_encode("set(pins, 0)", 0)
_EXEC_MOV_ISR_Y = rp2.asm_pio_encode("mov(isr, y)", 0)
_EXEC_PUSH = rp2.asm_pio_encode("push(noblock)", 0)


class PIOStepper:
    """STEP by PIO, DIR and EN by GPIO. `steps_done` and `last_tick` describe only steps the
    state machine has really issued; they are what the firmware reports as delivered."""

    def __init__(self, sm_id, step_pin, dir_pin, en_pin, en_active_low=True, dir_forward=1):
        self._step = step_pin
        self._dir = dir_pin
        self._en = en_pin
        self._en_on = 0 if en_active_low else 1
        self._fwd = dir_forward
        base = _PIO_BASES[sm_id // 4]
        self._addr = base + _SM_ADDR + (sm_id % 4) * _SM_STRIDE
        self._shiftctrl = base + _SM_SHIFTCTRL + (sm_id % 4) * _SM_STRIDE
        self._fdebug = base + _FDEBUG
        self._stall_bit = 1 << (24 + sm_id % 4)
        self._ring = [0] * (_RING * _F)
        self._on_entry_cb = self._on_entry  # bound once: IRQs must not allocate
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
        self._done = 0  # oldest entry not yet counted
        self._head = 0  # entry being fed to the FIFO
        self._hw = 0  # words of the head entry already fed
        self._tail = 0  # entries closed (visible to the IRQ)
        self._open = False  # entry _tail is being filled by queue()
        self._fed = 0  # words fed since the start of entry _done
        self._fresh = True  # next queued step starts a segment

    def enable(self, on):
        self._en.value(self._en_on if on else 1 - self._en_on)

    @property
    def late(self):
        """The state machine stalled on an empty FIFO: a step went out late."""
        return mem32[self._fdebug] & self._stall_bit

    # --- filling the ring (service step, never in an IRQ) ---

    def room(self):
        return _RING - (self._tail - self._done) - (1 if self._open else 0)

    def queued(self):
        """Steps in the closed entries not yet counted: the ring's reserve (make bench)."""
        r, n = self._ring, 0
        for k in range(self._done, self._tail):
            n += r[(k % _RING) * _F]
        return n

    def queue(self, count, interval):
        """Append `count` steps `interval` us apart. The first step of a segment has no entry
        boundary before it, so it gets an entry of its own."""
        if self._fresh:
            self._fresh = False
            self._new_entry(interval, interval - _FIRST_CYCLES)
            self._append(1, 0)
            self._close()
            count -= 1
        while count > 0:
            i = (self._tail % _RING) * _F
            r = self._ring
            if self._open:
                base, n = r[i + 1], r[i]
                room = (_MAX_STEPS if base < _SLOW_US else _SLOW_STEPS) - n
                if interval == base - 1 and r[i + 2] == 0:
                    self._rebase(i)  # every step so far becomes a 1 bit
                    base = interval
                span_left = _MAX_SPAN_US - r[i + 3]
                if interval - base in (0, 1) and room > 0 and span_left >= interval:
                    k = min(count, room, span_left // interval)
                    self._append(k, interval - base)
                    count -= k
                    continue
                self._close()
            self._new_entry(interval, interval - _STEP_CYCLES)

    def _new_entry(self, base, delay):
        i = (self._tail % _RING) * _F
        r = self._ring
        r[i] = 0  # count
        r[i + 1] = base
        r[i + 2] = 0  # ones
        r[i + 3] = 0  # span us
        r[i + 4] = delay
        for w in range(_PAT):
            r[i + 5 + w] = 0
        self._open = True

    def _append(self, k, bit):
        i = (self._tail % _RING) * _F
        r = self._ring
        n = r[i]
        r[i] = n + k
        r[i + 3] += k * (r[i + 1] + bit)
        if bit:
            r[i + 2] += k
            for j in range(n, n + k):
                r[i + 5 + j // _BITS] |= 1 << (j % _BITS)

    def _rebase(self, i):
        r = self._ring
        n = r[i]
        r[i + 1] -= 1
        r[i + 2] = n
        for j in range(n):
            r[i + 5 + j // _BITS] |= 1 << (j % _BITS)
        r[i + 4] -= 1  # the delay word follows the base

    def _close(self):
        if self._open:
            self._open = False
            self._tail += 1

    # FIFO words of an entry: count - 1, the delay word, then the pattern words.
    def _word(self, i, w):
        r = self._ring
        if w == 0:
            return r[i] - 1
        return r[i + 3 + w]

    def _words(self, i):
        return 2 + (self._ring[i] + _BITS - 1) // _BITS

    # --- IRQ side: integers only, no allocation ---

    def _feed(self):
        sm = self._sm
        while self._head < self._tail and sm.tx_fifo() < _FIFO:
            i = (self._head % _RING) * _F
            sm.put(self._word(i, self._hw))
            self._hw += 1
            self._fed += 1
            if self._hw == self._words(i):
                self._head += 1
                self._hw = 0

    def _collect(self):
        # PC first: if it shows the pull of the next entry, the FIFO level read after it is
        # at most as old, so an entry is never counted before its last step.
        pc = ((mem32[self._addr] & 0x1F) - self._offset) & 0x1F
        pulled = self._fed - self._sm.tx_fifo()
        r = self._ring
        while self._done < self._tail:
            i = (self._done % _RING) * _F
            nw = self._words(i)
            if pulled > nw or (pulled == nw and pc == _PC_HEADER):
                self.steps_done += r[i]
                self.last_tick = time.ticks_add(self.last_tick, r[i + 3])
                self._done += 1
                self._fed -= nw
                pulled -= nw
            else:
                break
        if self._done == self._tail and self.running:
            self.starved = True

    def in_flight(self, now):
        """Steps of the oldest entry not yet counted that the state machine has issued by tick
        `now`, from the plan's timing (it keeps to the microsecond, or `late` says it did
        not): step j goes out j base intervals, plus the 1 bits among the first j, after the
        entry's last counted step. A step due within _LATENCY_US before `now` is left for the
        next call (the state machine starts a little after the tick its plan starts from),
        so no step is counted before it went out. Status, the DELIVERED records and the
        occlusion detector then follow the plunger to the step, not to the entry (64 steps,
        2.6 uL on a 10 mL syringe, at slow rates). Never allocates."""
        while True:  # the IRQ may count an entry between the reads: then read again
            done = self._done
            last = self.last_tick
            if done == self._done:
                break
        if not self.running or done >= self._tail:
            return 0
        i = (done % _RING) * _F
        r = self._ring
        t = time.ticks_diff(now, last) - _LATENCY_US
        base = r[i + 1]
        n = t // base
        if n <= 0:
            return 0
        if n > r[i]:
            n = r[i]
        if n * base + r[i + 2] > t:  # the entry's 1 bits may put step n after `now`
            while n > 0 and n * base + self._ones(i, n) > t:
                n -= 1
        return n

    def _ones(self, i, n):
        # 1 bits among the first n steps of entry i (Kernighan's count, small ints only).
        r = self._ring
        k = 0
        w = i + 5
        while n > 0:
            x = r[w]
            if n < _BITS:
                x &= (1 << n) - 1
            while x:
                x &= x - 1
                k += 1
            n -= _BITS
            w += 1
        return k

    def _on_entry(self, _sm):
        # Hard IRQ: an entry's last step went out. A host's Ctrl-C pending from just before
        # would be raised as KeyboardInterrupt at the first jump below and leave the ring half
        # updated (and MicroPython would then disable this IRQ): the `if` raises it first and
        # it is dropped. Nothing can make another pending while this handler runs.
        try:
            if _sm:
                pass
        except KeyboardInterrupt:
            pass
        self._collect()
        self._feed()

    def _ahead_us(self):
        # Time in the closed entries not yet fed to the FIFO, up to _CLOSE_AHEAD_US (the sum
        # stays a small int).
        r, t, e = self._ring, 0, self._head
        while e < self._tail and t < _CLOSE_AHEAD_US:
            t += r[(e % _RING) * _F + 3]
            e += 1
        return t

    def feed(self):
        """Make queued steps visible to the state machine and top up its FIFO. The IRQ does
        the same at every entry's end: with nothing new to feed, this has nothing to do.
        The entry being filled is closed only when the closed ones ahead run short: closed
        at every service step, it would hold only the steps of one step's batches (1-3 at
        rates whose interval alternates between two values), and a ring of such entries
        holds well under a second."""
        if self._open and self._ahead_us() < _CLOSE_AHEAD_US:
            self._close()
        if self._done < self._tail and (self._head == self._tail or self._sm.tx_fifo() >= _FIFO):
            return
        state = disable_irq()
        try:
            self._collect()
            self._feed()
        finally:
            enable_irq(state)

    # --- start and halt (commands) ---

    def start(self, reverse=False):
        """Start a segment with whatever is queued (`reverse`: the plunger draws back).
        Returns the tick the state machine started at: the plan's time zero."""
        self._close()
        self._dir.value(1 - self._fwd if reverse else self._fwd)
        sm = self._sm
        sm.init(_step_program, freq=_FREQ, set_base=self._step)  # clears the FIFO
        self._head, self._hw, self._fed = self._done, 0, 0
        sm.irq(self._on_entry_cb, hard=True)
        self._feed()
        mem32[self._fdebug] = self._stall_bit  # write 1 to clear: no stall seen yet
        self.starved = False
        self.enable(True)  # EN on only as the state machine starts
        state = disable_irq()  # nothing between the plan's zero and the start
        self.last_tick = time.ticks_us()
        sm.active(1)
        enable_irq(state)
        self.running = True
        return self.last_tick

    def halt(self, keep_enabled=False):
        """Stop at once and account for the steps of the interrupted entry. Returns the
        tick at which the stop took effect (at the latest)."""
        sm = self._sm
        was = self.running
        state = disable_irq()
        sm.active(0)
        now = time.ticks_us()
        enable_irq(state)
        if not keep_enabled:
            self.enable(False)
        sm.exec(_EXEC_SET_LOW)
        state = disable_irq()
        try:
            self._collect()
            pc = ((mem32[self._addr] & 0x1F) - self._offset) & 0x1F
            pulled = self._fed - sm.tx_fifo()
            if self._done < self._tail and pulled > 0 and self.running:
                self._add_partial(pc)
            self._reset_ring()
        finally:
            enable_irq(state)
        sm.irq(None)
        self.running = False
        if not was:
            return now
        early = time.ticks_add(now, -_LATENCY_US)
        return early if time.ticks_diff(early, self.last_tick) > 0 else self.last_tick

    def _add_partial(self, pc):
        # The first word of entry _done was pulled: count its steps already issued.
        i = (self._done % _RING) * _F
        r = self._ring
        count = r[i]
        if pc == _PC_LOAD_Y:
            return
        # Unjoin the FIFOs (which clears them) so Y can be pushed out and read, then join
        # them again: _feed counts on 8 words of room, and put() blocks on a full FIFO.
        joined = mem32[self._shiftctrl]
        mem32[self._shiftctrl] = joined & ~_FJOIN_TX
        self._sm.exec(_EXEC_MOV_ISR_Y)
        self._sm.exec(_EXEC_PUSH)
        y = self._sm.get()
        mem32[self._shiftctrl] = joined
        if pc == _PC_HEADER or pc == _PC_DONE:
            done = count
        elif _PC_HIGH <= pc < _PC_DONE:
            done = count - y
        else:
            done = count - 1 - y
        if done <= 0:
            return
        span = done * r[i + 1]
        for j in range(done):
            if r[i + 5 + j // _BITS] & (1 << (j % _BITS)):
                span += 1
        self.steps_done += done
        self.last_tick = time.ticks_add(self.last_tick, span)
