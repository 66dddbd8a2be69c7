// The time base of one or more virtual Picos (board.mjs): when simulated time runs, how fast,
// and, with boards wired to each other (pair.mjs), which board steps next.
//
// Simulated time runs only while some board needs it (Board.needsTime: a control `run`, a
// REPL or protocol client, --free-run, host bytes still to deliver): at full speed while a
// control `run` / `power_cut` is pending on any board (an idle core jumps ahead), else paced
// (--pace realtime): never ahead of wall time, so time.sleep(1) lasts a second and idling
// costs no CPU. Otherwise it is halted, so a HIL test sees exactly the time it asks for.
//
// Wired boards. The board whose next step is earlier goes first (a running core: its next
// instruction; a waiting core: its next timer alarm or PIO instruction), and a running core
// runs no further than LOOKAHEAD_NS past the other boards' next step. A pin change reaches
// the other board at the sender's time: exactly (a clock alarm) when the receiver is not
// there yet, else at once, at most LOOKAHEAD_NS late.
const MAX_LAG_NS = 50e6; // paced: how far simulated time may catch up at once after lagging
const SLICE_MS = 20; // wall time per event-loop turn, one board
const SLICE_WIRED_MS = 4; // wired boards: a request to the other board and its reply cost one each
const BATCH = 1024; // instructions a running core executes between two looks at the others
// A pin another board changes meanwhile reaches a running core up to this late. Below the
// HX711's 0.1 us-per-bit margin of the pump's reader (it samples DOUT 7 us after PD_SCK rises)
// and the STEP pulse (2 us or more), so the fixture's edge times stay exact (pio-poll.mjs
// resumes a poll loop at the edge's own time).
const LOOKAHEAD_NS = 1000;

/** Runs boards in one time base (see the top of this file). */
export class Scheduler {
  constructor(boards, pace = 'realtime') {
    this.boards = boards;
    this.pace = pace;
    this.go = false;
    this.paced = false;
    this.scheduled = false;
    this.wakeTimer = null;
    this.dirty = false; // a pin crossed between boards: look at all of them again
    this.sliceMs = boards.length === 1 ? SLICE_MS : SLICE_WIRED_MS;
    for (const b of boards) {
      b.scheduler = this;
    }
    this.update();
    this.reanchor();
  }

  now() {
    return Math.min(...this.boards.map((b) => b.now()));
  }

  /** go: some board needs simulated time; paced: and no board has a control `run` pending. */
  update() {
    const go = this.boards.some((b) => b.needsTime());
    const paced = this.pace === 'realtime' && this.boards.every((b) => b.runners === 0);
    for (const b of this.boards) {
      b.go = go;
      b.paced = paced;
    }
    this.go = go;
    this.paced = paced;
  }

  changed() {
    const wasPaced = this.go && this.paced;
    this.update();
    if (this.paced && !wasPaced) {
      this.reanchor();
    }
    this.wake();
  }

  reanchor() {
    this.anchorWall = performance.now();
    this.anchorHost = this.now();
  }

  /** Host time up to which a paced simulation may go now. */
  allowedHost() {
    return this.anchorHost + (performance.now() - this.anchorWall) * 1e6;
  }

  /** After a busy slice: a simulation that lags wall time does not race ahead to catch up. */
  forgiveLag() {
    if (this.allowedHost() - this.now() > MAX_LAG_NS) {
      this.anchorWall = performance.now();
      this.anchorHost = this.now() + MAX_LAG_NS;
    }
  }

  /** Something happened that may let the simulation progress: run a slice soon. */
  wake() {
    if (this.wakeTimer) {
      clearTimeout(this.wakeTimer);
      this.wakeTimer = null;
    }
    if (this.go && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.slice());
    }
  }

  /** Runs for up to sliceMs of wall time, then yields to the event loop. */
  slice() {
    this.scheduled = false;
    if (process.env.VBOARD_PAIR_DEBUG) {
      this.debug();
    }
    if (!this.go) {
      return;
    }
    const wallEnd = performance.now() + this.sliceMs;
    const result = this.boards.length === 1 ? this.spinOne(wallEnd) : this.spinWired(wallEnd);
    for (const b of this.boards) {
      b.flushOutput();
    }
    if (result === 'slice') {
      if (this.paced) {
        this.forgiveLag();
      }
      this.wake();
    } else if (typeof result === 'number' && this.go) {
      this.wakeTimer = setTimeout(() => this.wake(), Math.max(1, Math.min(result, 1000)));
    }
    // 'idle' (nothing scheduled) and 'halt' wait for wake()
  }

  /** One board: its own execute loop (Board.spin), with resets in between. */
  spinOne(wallEnd) {
    const [b] = this.boards;
    for (;;) {
      if (b.rebootPending) {
        b.reboot();
      }
      if (!this.go) {
        return 'halt';
      }
      const result = b.spin(wallEnd);
      if (result !== 'reboot') {
        return result;
      }
    }
  }

  /**
   * Host bytes reach a waiting board's UART at its own time (a busy core gets them at once,
   * Board.input): one board may be busy while another waits for its client. Returns
   * whether a core woke up.
   */
  feed() {
    let woke = false;
    for (const x of this.boards) {
      if (x.rx.length && x.waiting() && !x.held) {
        x.feedUart();
        woke ||= !x.waiting();
      }
    }
    return woke;
  }

  /** Wired boards: the one due first steps (see the top of this file). */
  spinWired(wallEnd) {
    const { boards } = this;
    let ops = 0;
    for (;;) {
      for (const x of boards) {
        if (x.rebootPending) {
          x.reboot();
        }
      }
      if (!this.go) {
        return 'halt';
      }
      const allowed = this.paced ? this.allowedHost() : Infinity;
      let b = boards[0]; // the board due first (the earlier one on a tie) ...
      let tb = b.nextStepNs();
      let to = Infinity; // ... and when the next of the others is due
      for (let i = 1; i < boards.length; i++) {
        const t = boards[i].nextStepNs();
        if (t < tb) {
          to = tb;
          b = boards[i];
          tb = t;
        } else if (t < to) {
          to = t;
        }
      }
      if (tb > allowed || tb === Infinity) {
        // nothing due before the wall clock allows: idle boards keep up with it, and host
        // bytes go in once a board has caught up
        for (const x of boards) {
          if (x.waiting() && allowed !== Infinity && x.now() < allowed) {
            x.advanceTo(allowed - x.epochNs);
          }
        }
        if (this.feed() || boards.some((x) => x.rebootPending)) {
          continue;
        }
        return tb === Infinity ? 'idle' : (tb - allowed) / 1e6;
      }
      if (this.feed()) {
        continue;
      }
      if (b.waiting()) {
        b.advanceTo(b.nextEventNs()); // on the chip's own clock: exact, no rounding
      } else {
        this.dirty = false;
        let k = 0;
        do {
          b.step();
          k++;
        } while (
          k < BATCH &&
          !this.dirty &&
          !b.rebootPending &&
          !b.waiting() &&
          b.now() <= to + LOOKAHEAD_NS &&
          b.now() <= allowed
        );
        ops += k - 1;
      }
      if (++ops >= 1024) {
        ops = 0;
        if (performance.now() > wallEnd) {
          return 'slice';
        }
      }
    }
  }

  /** fn, a change that board `dest` sees, happens at host time t on the sending board. */
  deliver(dest, fn, t) {
    const apply = () => {
      dest.edgeHint = t;
      fn();
      dest.edgeHint = null;
      this.dirty = true;
    };
    if (t > dest.now()) {
      dest.at(t, apply);
      this.dirty = true; // the receiver's next step moved: a running core must look again
    } else {
      apply();
    }
  }

  /** A wire from `src` pin `from` to `dest` pin `to`: dest's input follows src's level. */
  wire(src, from, dest, to) {
    src.watch(from, (level, t) => {
      this.deliver(dest, () => dest.driveInput(to, level, true), t);
    });
    dest.driveInput(to, src.level[from], false);
  }

  debug() {
    if (performance.now() - (this.lastDebug ?? 0) <= 1000) {
      return;
    }
    this.lastDebug = performance.now();
    let text = `scheduler: go=${this.go} paced=${this.paced} allowed=${this.allowedHost()}\n`;
    for (const b of this.boards) {
      text +=
        `  ${b.name} now=${b.now()} next=${b.nextStepNs()} waiting=${b.waiting()} ` +
        `held=${b.held} frozen=${b.frozen} pio=${b.pioClock.nextNs} ` +
        `active=${b.pioClock.active.length}\n`;
    }
    process.stderr.write(text);
  }
}
