// Runtime fixes to rp2040js 1.4.1 objects (node_modules stays untouched).

/** Stores to the XIP window would write straight into rp2040js's flash array: drop them. */
export function guardXipWrites(chip, logger) {
  const write = chip.writeUint32.bind(chip);
  chip.writeUint32 = (address, value) => {
    if (address >>> 26 === 0x4) {
      logger.warn('vboard', `store to XIP address 0x${(address >>> 0).toString(16)} ignored`);
      return;
    }
    write(address, value);
  };
}

/** rp2040js's ConsoleLogger throws on errors; this one prints each distinct message once. */
export class BridgeLogger {
  constructor(verbose) {
    this.verbose = verbose;
    this.seen = new Set();
  }

  say(level, component, message) {
    const key = `${component}:${message}`;
    if (this.seen.has(key) || this.seen.size > 10000) {
      return;
    }
    this.seen.add(key);
    process.stderr.write(`vboard: ${level}: [${component}] ${message}\n`);
  }

  debug() {}

  info(component, message) {
    if (this.verbose) {
      this.say('info', component, message);
    }
  }

  warn(component, message) {
    if (this.verbose) {
      this.say('warning', component, message);
    }
  }

  error(component, message) {
    this.say('error', component, message);
  }
}

const SM_SHIFTCTRL = 0x0d0 - 0x0c8; // offset within a state machine's register block
const FJOIN = (1 << 30) | (1 << 31);

const FJOIN_TX = 1 << 30;
const FJOIN_RX = 1 << 31;

/**
 * PIO FIFO joins. On the chip, changing a state machine's FJOIN bits clears its FIFOs, and
 * that is how pico-sdk's pio_sm_clear_fifos() (called by every StateMachine.init) works;
 * FJOIN_TX gives the TX FIFO all 8 words and leaves no RX FIFO (FJOIN_RX the other way).
 * Stock rp2040js keeps the old words and ignores the join (always 4 + 4).
 */
export function fixFifoJoinClear(chip) {
  for (const pio of chip.pio) {
    for (const sm of pio.machines) {
      const write = sm.writeUint32.bind(sm);
      const Fifo = sm.txFIFO.constructor;
      sm.writeUint32 = (offset, value) => {
        const before = sm.shiftCtrl;
        write(offset, value);
        if (offset === SM_SHIFTCTRL && ((before ^ sm.shiftCtrl) & FJOIN) !== 0) {
          const join = sm.shiftCtrl & FJOIN;
          sm.txFIFO = new Fifo(join & FJOIN_TX ? 8 : join ? 0 : 4);
          sm.rxFIFO = new Fifo(join & FJOIN_RX ? 8 : join ? 0 : 4);
        }
      };
    }
  }
}
