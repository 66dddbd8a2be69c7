// Poll loops on the simulated clock, done in one go: the bench fixture's edge timestamper
// (hil/fixture/pumpfix.py) samples a pin every 5 cycles and counts samples in X, so stepped
// instruction by instruction its three state machines would cost 75 million PIO steps per
// simulated second. A poll loop here is
//
//     A:  jmp pin T          (any delay)
//         ...                 the instruction the pin's level leads to is
//     B:  jmp x-- A          (any delay)
//
// Under a constant level it changes nothing but X (one decrement per lap) and PC, and it
// leaves only when the level changes or X reaches 0. So once a machine reaches A the laps
// until X would reach 0 are done at once (X and the machine's next turn set as they would be
// then), and undone to the exact lap when the pin changes (`pinChanging`, with the edge's
// own time, which may lie a few ns before the receiving chip's clock) or the CPU writes to
// the PIO block (`materialize`, at the chip's time). A sample at exactly the edge's time sees
// the new level. Only integer clock dividers and no side-set (so the delay field is a delay).
const JMP = 0;
const COND_XDEC = 2;
const COND_PIN = 6;

function jmp(op) {
  if (op >>> 13 !== JMP) {
    return null;
  }
  return { cond: (op >> 5) & 7, target: op & 0x1f, cycles: 1 + ((op >> 8) & 0x1f) };
}

function seqPc(sm, pc) {
  const top = (sm.execCtrl >> 12) & 0x1f;
  const bottom = (sm.execCtrl >> 7) & 0x1f;
  return pc === top ? bottom : (pc + 1) & 0x1f;
}

/** Adds poll-loop skipping to a board's PioClock (call after every chip change). */
export function installPollSkip(board) {
  const clock = board.pioClock;
  const { chip } = board;
  const stepOne = clock.step.bind(clock);
  const materializeBlock = clock.materialize.bind(clock);
  const polling = new Set(); // machine states with a skip in progress

  function undo(st, t) {
    const p = st.poll;
    st.poll = null;
    polling.delete(st);
    const done =
      t <= p.due0 ? 0 : Math.min(p.n, Math.ceil((t - p.due0) / p.periodNs - 1e-9));
    if (done === p.n) {
      return false;
    }
    const { sm } = st;
    sm.x = (p.x0 - done) >>> 0;
    sm.cycles -= (p.n - done) * p.cycles;
    st.due = p.due0 + done * p.periodNs;
    return true;
  }

  function tryStart(st) {
    const { sm, pio } = st;
    if (sm.waiting || sm.execValid || st.skip || sm.clockDivFrac || st.acc || sm.pinCtrl >>> 29) {
      return;
    }
    const a = sm.pc;
    const first = jmp(pio.instructions[a]);
    if (!first || first.cond !== COND_PIN) {
      return;
    }
    const pin = sm.jmpPin;
    const level = pin < chip.gpio.length && chip.gpio[pin].inputValue;
    const b = level ? first.target : seqPc(sm, a);
    const second = jmp(pio.instructions[b]);
    if (b === a || !second || second.cond !== COND_XDEC || second.target !== a) {
      return;
    }
    const n = sm.x >>> 0; // laps whose decrement still jumps back to A
    if (n < 2) {
      return;
    }
    const cycles = first.cycles + second.cycles;
    const periodNs = cycles * (sm.clockDivInt || 65536) * clock.cycleNs;
    st.poll = { pin, x0: sm.x >>> 0, n, due0: st.due, periodNs, cycles };
    polling.add(st);
    sm.x = 0;
    sm.cycles += n * cycles;
    st.due += n * periodNs;
  }

  clock.step = (st) => {
    st.poll = null; // a skip ends with the machine's own turn: X is 0 at A
    polling.delete(st);
    stepOne(st);
    tryStart(st);
  };

  clock.materialize = (pio) => {
    let changed = false;
    for (const st of [...polling]) {
      if (st.pio === pio) {
        changed = undo(st, chip.clock.nanos) || changed;
      }
    }
    if (changed) {
      clock.refresh();
    }
    materializeBlock(pio);
  };

  /** The pin's level is about to change at chip time t: machines polling it resume there. */
  clock.pinChanging = (pin, t) => {
    let changed = false;
    for (const st of [...polling]) {
      if (st.poll.pin === pin) {
        changed = undo(st, t) || changed;
      }
    }
    if (changed) {
      clock.refresh();
    }
  };
}
