// PIO on the simulated clock. Stock rp2040js steps PIO from a setTimeout loop that ignores
// clock dividers and delay cycles; here every enabled state machine executes an instruction
// only when its own cycle count (instruction plus delay, times its divider) is due on the
// chip clock. The board loop asks `nextNs` how far an idle core may jump and calls
// `runUntil(t)` to execute what is due. All times are the chip clock's nanoseconds.

const CTRL = 0x000;

export class PioClock {
  constructor(chip, cycleNs) {
    this.chip = chip;
    this.cycleNs = cycleNs; // updated by the board when clk_sys changes
    this.active = []; // enabled machines that will execute at `due`
    this.parked = []; // enabled machines stalled on wait/pull/push/irq: they never limit a jump
    this.nextNs = Infinity;
    for (const pio of chip.pio) {
      pio.run = () => {}; // stop PIO's own setTimeout loop
      const write = pio.writeUint32.bind(pio);
      // SET/CLR/XOR aliases end up here too (BasePeripheral.writeUint32Atomic)
      pio.writeUint32 = (offset, value) => {
        write(offset, value);
        if (offset === CTRL) {
          this.ctrlWritten(pio, value);
        }
      };
      for (const sm of pio.machines) {
        sm.vb = { sm, pio, enabled: false, due: 0, acc: 0, parked: false, parkCycles: 0 };
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
    if (sm.waiting) {
      sm.checkWait(); // a stalled instruction retries on every cycle
      if (sm.waiting) {
        this.advance(st, 1);
        this.park(st);
      } else {
        this.advance(st, 1 + (sm.cycles - before)); // completes now, then its delay
      }
    } else {
      sm.updatePC = true;
      sm.executeInstruction(pio.instructions[sm.pc]);
      if (sm.updatePC) {
        sm.nextPC();
      }
      this.advance(st, sm.waiting ? 1 : sm.cycles - before);
      if (sm.waiting) {
        this.park(st);
      }
    }
    pio.checkChangedPins(); // GPIO listeners see the step's own time: the clock is at st.due
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
