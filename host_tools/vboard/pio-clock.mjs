// PIO on the simulated clock. Stock rp2040js steps PIO from a setTimeout loop that ignores
// clock dividers and delay cycles; here every enabled state machine executes an instruction
// only when its own cycle count (instruction plus delay, times its divider) is due on the
// chip clock. The board loop asks `nextNs` how far an idle core may jump and calls
// `runUntil(t)` to execute what is due. All times are the chip clock's nanoseconds.

const CTRL = 0x000;
const TXF0 = 0x010;
const TXF3 = 0x01c;
const JMP_X_DEC = 2;
const JMP_Y_DEC = 4;

export class PioClock {
  constructor(chip, cycleNs, { skip = true } = {}) {
    this.chip = chip;
    this.skipLoops = skip;
    this.cycleNs = cycleNs; // updated by the board when clk_sys changes
    this.active = []; // enabled machines that will execute at `due`
    this.parked = []; // enabled machines stalled on wait/pull/push/irq: they never limit a jump
    this.nextNs = Infinity;
    for (const pio of chip.pio) {
      pio.run = () => {}; // stop PIO's own setTimeout loop
      const write = pio.writeUint32.bind(pio);
      // SET/CLR/XOR aliases end up here too (BasePeripheral.writeUint32Atomic)
      pio.writeUint32 = (offset, value) => {
        if (offset < TXF0 || offset > TXF3) {
          this.materialize(pio); // a CPU or DMA write may change what a skipped loop does
        }
        write(offset, value);
        if (offset === CTRL) {
          this.ctrlWritten(pio, value);
        }
      };
      for (const sm of pio.machines) {
        sm.vb = {
          sm,
          pio,
          enabled: false,
          due: 0,
          acc: 0,
          parked: false,
          parkCycles: 0,
          skip: null,
        };
        sm.clkDivRestart = () => this.phaseRestart(sm.vb);
      }
    }
  }

  /** The divider in 1/256 system cycles (INT 0 means 65536). */
  static divider(sm) {
    return (sm.clockDivInt || 65536) * 256 + sm.clockDivFrac;
  }

  /** Moves a machine's next cycle on by n of its own cycles; fractional dividers jitter. */
  advance(st, n) {
    const total = st.acc + n * PioClock.divider(st.sm);
    st.due += Math.floor(total / 256) * this.cycleNs;
    st.acc = total % 256;
  }

  /** Moves a machine's next cycle to its first clock edge at or after t. */
  alignTo(st, t) {
    if (st.due >= t) {
      return;
    }
    const sysCycles = Math.ceil((t - st.due) / this.cycleNs - 1e-9);
    const div = PioClock.divider(st.sm);
    this.advance(st, Math.ceil((sysCycles * 256 - st.acc) / div));
  }

  phaseRestart(st) {
    st.acc = 0;
    st.due = this.chip.clock.nanos + this.cycleNs;
    this.refresh();
  }

  ctrlWritten(pio, value) {
    const now = this.chip.clock.nanos;
    for (const sm of pio.machines) {
      const st = sm.vb;
      const restarted = value & (0x110 << sm.index);
      if (sm.enabled && (!st.enabled || restarted)) {
        st.enabled = true;
        st.acc = 0;
        st.due = now + this.cycleNs; // starts on the next system clock edge
        st.parked = false;
      } else if (!sm.enabled) {
        st.enabled = false;
      }
    }
    this.rebuild();
  }

  rebuild() {
    this.active = [];
    this.parked = [];
    for (const pio of this.chip.pio) {
      for (const sm of pio.machines) {
        if (sm.vb.enabled) {
          (sm.vb.parked ? this.parked : this.active).push(sm.vb);
        }
      }
    }
    this.refresh();
  }

  refresh() {
    let next = Infinity;
    for (const st of this.active) {
      if (st.due < next) {
        next = st.due;
      }
    }
    this.nextNs = next;
  }

  park(st) {
    st.parked = true;
    st.parkCycles = st.sm.cycles;
    this.rebuild();
  }

  /**
   * Wakes parked machines whose wait something else resolved (a CPU FIFO access, an IRQ
   * write, another machine): the stalled instruction completes on the machine's first
   * clock edge at or after `t`, then its delay runs.
   */
  scanParked(t) {
    let woke = false;
    for (const st of this.parked) {
      const { sm } = st;
      if (sm.waiting) {
        // rp2040js re-checks only some waits itself (not pins driven from inside the chip,
        // nor an IRQ flag cleared by another machine's wait)
        sm.checkWait();
      }
      if (!sm.waiting) {
        this.alignTo(st, t);
        this.advance(st, 1 + (sm.cycles - st.parkCycles));
        st.parked = false;
        woke = true;
      }
    }
    if (woke) {
      this.rebuild();
    }
  }

  /** Executes one cycle of a machine whose turn is now (the chip clock is at st.due). */
  step(st) {
    const { sm, pio } = st;
    const before = sm.cycles;
    st.skip = null; // a skipped countdown ends with this turn: the iteration that falls through
    if (sm.waiting) {
      sm.checkWait(); // a stalled instruction retries on every cycle
      if (sm.waiting) {
        this.advance(st, 1);
        this.park(st);
      } else {
        this.advance(st, 1 + (sm.cycles - before)); // completes now, then its delay
      }
    } else {
      const pc = sm.pc;
      sm.updatePC = true;
      sm.executeInstruction(pio.instructions[pc]);
      if (sm.updatePC) {
        sm.nextPC();
      }
      this.advance(st, sm.waiting ? 1 : sm.cycles - before);
      if (sm.waiting) {
        this.park(st);
      } else if (this.skipLoops) {
        this.skipCountdown(st, pc, sm.cycles - before);
      }
    }
    pio.checkChangedPins(); // GPIO listeners see the step's own time: the clock is at st.due
  }

  /**
   * A countdown loop (`jmp x-- self` or `jmp y-- self`, any delay) that just jumped to itself
   * with n > 0 still in its counter jumps n more times, each `cycles` long, changing nothing
   * but the counter: nothing outside the machine can see or change that except a write to
   * its PIO block (handled by materialize()). So its remaining jumping iterations are done
   * in one go: the counter goes to 0 and the machine's next turn is the iteration that falls
   * through, at exactly the time it would have had. An idle core then jumps over the loop.
   */
  skipCountdown(st, pc, cycles) {
    const { sm } = st;
    const op = st.pio.instructions[pc];
    if (sm.pc !== pc || op >>> 13 !== 0 || (op & 0x1f) !== pc || sm.execValid || cycles <= 0) {
      return;
    }
    const cond = (op >> 5) & 7;
    const reg = cond === JMP_X_DEC ? 'x' : cond === JMP_Y_DEC ? 'y' : null;
    const n = reg ? sm[reg] >>> 0 : 0;
    if (n < 2) {
      return;
    }
    st.skip = { reg, n, cycles, due: st.due, acc: st.acc };
    sm[reg] = 0;
    sm.cycles += n * cycles;
    this.advance(st, n * cycles);
  }

  /**
   * Undoes the not-yet-due part of skipped countdowns in this PIO block at the current time:
   * the counter holds what it would hold now and the machine's next turn is the next
   * iteration. Called before every write to the block except the TX FIFOs.
   */
  materialize(pio) {
    const now = this.chip.clock.nanos;
    let changed = false;
    for (const sm of pio.machines) {
      const st = sm.vb;
      const skip = st.skip;
      if (!skip) {
        continue;
      }
      st.skip = null;
      const perIter = skip.cycles * PioClock.divider(sm);
      // iterations i in [0, n) run at skip.due + floor((acc + i * perIter) / 256) cycles
      const whole = now < skip.due ? -1 : Math.floor((now - skip.due) / this.cycleNs + 1e-9);
      const due = Math.ceil(((whole + 1) * 256 - skip.acc) / perIter);
      const done = Math.min(skip.n, Math.max(0, due));
      if (done === skip.n) {
        continue;
      }
      sm[skip.reg] = skip.n - done;
      sm.cycles -= (skip.n - done) * skip.cycles;
      st.due = skip.due;
      st.acc = skip.acc;
      this.advance(st, done * skip.cycles);
      changed = true;
    }
    if (changed) {
      this.refresh();
    }
  }

  /** Executes, in time order, every instruction due at or before t (ticking the clock to each). */
  runUntil(t, clock, stop) {
    while (this.nextNs <= t && !stop()) {
      const due = this.nextNs;
      if (due > clock.nanos) {
        clock.tick(due - clock.nanos);
      }
      // park() and rebuild() replace this.active instead of changing it, so this is stable
      for (const st of this.active) {
        if (st.due === due && st.enabled && !st.parked) {
          this.step(st);
        }
      }
      if (this.parked.length) {
        this.scanParked(due + this.cycleNs);
      }
      this.refresh();
    }
  }
}
