// Peripherals whose timing or randomness rp2040js 1.4.1 does not model, fixed at run time on
// the chip's own objects (node_modules stays untouched):
//   - ROSC: RANDOMBIT is a random bit (stock: the register block is unimplemented and every
//     read is 0xffffffff, so os.urandom() and random.seed() repeat);
//   - UART: a transmitted character takes its wire time at the programmed baud rate, with the
//     PL011's TX FIFO, BUSY flag and TX interrupt trigger level (stock: instant);
//   - DMA: a transfer takes bus cycles (stock: one per executed instruction, whatever its
//     size or length);
//   - SPI: a frame takes its wire time at the programmed bit rate (stock: instant).
// MicroPython's own tests that these make pass: extmod/random_seed_default.py,
// extmod/machine_uart_tx.py, extmod/machine_uart_irq_txidle.py, ports/rp2/rp2_dma.py.

// ---- ROSC ----------------------------------------------------------------------------------

const ROSC = 0x40060; // key of the ring oscillator in chip.peripherals
const ROSC_RANDOMBIT = 0x1c;
const ROSC_STATUS = 0x18;
const ROSC_COUNT = 0x20;
const ROSC_STABLE = 1 << 31;
const ROSC_ENABLED = 1 << 12;
const ROSC_CTRL_DISABLE = 0xd1e;

/**
 * The random bits behind RANDOMBIT: xoshiro128** on 32-bit words. Seeded from the host's
 * entropy unless the bridge was given --seed N, which makes a run reproducible. One source
 * per bridge, carried across chip resets: a reset does not replay the same bits.
 */
export class RandomBits {
  constructor(seed) {
    let s = seed === undefined || seed === null ? null : BigInt.asUintN(64, BigInt(seed));
    const words = new Uint32Array(4);
    if (s === null) {
      globalThis.crypto.getRandomValues(words);
    } else {
      // splitmix64 spreads a small seed over the 128-bit state
      for (let i = 0; i < 4; i += 2) {
        s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
        let z = s;
        z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
        z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
        z ^= z >> 31n;
        words[i] = Number(z & 0xffffffffn);
        words[i + 1] = Number(z >> 32n);
      }
    }
    if (!(words[0] | words[1] | words[2] | words[3])) {
      words[0] = 1; // the all-zero state is the one the generator never leaves
    }
    this.s = words;
    this.word = 0;
    this.left = 0;
  }

  next32() {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  bit() {
    if (this.left === 0) {
      this.word = this.next32();
      this.left = 32;
    }
    const b = this.word & 1;
    this.word >>>= 1;
    this.left--;
    return b;
  }
}

function rotl(x, k) {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Replaces the unimplemented ROSC block with registers that hold their values and a random
 * RANDOMBIT. STATUS says enabled and stable; COUNT reads 0 (it has counted down). */
export function installRosc(chip, random) {
  const stub = chip.peripherals[ROSC];
  const regs = new Map([[0x00, 0xaa0]]); // CTRL: FREQ_RANGE low, enabled
  const rosc = Object.create(Object.getPrototypeOf(stub));
  Object.assign(rosc, stub);
  rosc.readUint32 = (offset) => {
    if (offset === ROSC_RANDOMBIT) {
      return random.bit();
    }
    if (offset === ROSC_STATUS) {
      const disabled = ((regs.get(0x00) >>> 12) & 0xfff) === ROSC_CTRL_DISABLE;
      return ROSC_STABLE | (disabled ? 0 : ROSC_ENABLED);
    }
    if (offset === ROSC_COUNT) {
      return 0;
    }
    return regs.get(offset) ?? 0;
  };
  rosc.writeUint32 = (offset, value) => {
    regs.set(offset, value >>> 0);
  };
  chip.peripherals[ROSC] = rosc;
  return rosc;
}

// ---- UART ----------------------------------------------------------------------------------

const UARTDR = 0x00;
const UARTFR = 0x18;
const UARTLCR_H = 0x2c;
const UARTCR = 0x30;
const UARTIFLS = 0x34;
const FR_BUSY = 1 << 3;
const FR_TXFF = 1 << 5;
const FR_TXFE = 1 << 7;
const TXINTR = 1 << 5;
const UARTEN = 1 << 0;
const RXE = 1 << 9;
const LCR_PEN = 1 << 1;
const LCR_STP2 = 1 << 3;
const LCR_FEN = 1 << 4;
const TX_FIFO = 32;
const TX_TRIGGER = [4, 8, 16, 24, 28]; // IFLS TXIFLSEL: <= 1/8 .. 7/8 full

/**
 * UART. Stock checkInterrupts() re-asserts the TX status on every call, and MicroPython's
 * UART-REPL handler unmasks every UART interrupt: an interrupt storm and no prompt. Here the
 * line follows status & mask, and ICR clears. `room()` is called whenever a read makes space
 * in the 32-byte RX FIFO.
 *
 * `wire` true: a character leaves the shift register after its wire time, (start + data +
 * parity + stop bits) x 16 x (IBRD + FBRD/64) clk_peri cycles, from a 32-word TX FIFO (one
 * holding word with FEN off); UARTFR's TXFF, TXFE and BUSY follow it, and the TX interrupt
 * rises when the FIFO drains to its IFLS trigger level (empty holding word with FEN off) and
 * falls when writes fill it above the level, as on the PL011. The byte reaches the host
 * (onByte) when its stop bit ends.
 * `wire` false: the byte leaves at once and each write raises the TX interrupt (for a REPL
 * that stands in for the Pico's USB CDC link, whose 12 Mbit/s wire takes no noticeable time).
 */
export function fixUart(uart, room, { wire = false } = {}) {
  const { clock } = uart.rp2040;
  uart.checkInterrupts = function checkInterrupts() {
    this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  const read = uart.readUint32.bind(uart);
  const write = uart.writeUint32.bind(uart);
  uart.readUint32 = (offset) => {
    if (offset === UARTFR && wire) {
      return (read(offset) & ~(FR_TXFE | FR_TXFF | FR_BUSY)) | tx.flags();
    }
    if (offset === UARTIFLS) {
      return tx.ifls;
    }
    const value = read(offset);
    if (offset === UARTDR) {
      room();
    }
    return value;
  };
  uart.writeUint32 = (offset, value) => {
    if (offset === UARTIFLS) {
      tx.ifls = value & 0x3f;
      return;
    }
    if (offset === UARTDR && wire) {
      tx.push(value & 0xff);
      return;
    }
    write(offset, value);
    if (offset === UARTDR) {
      uart.interruptStatus |= TXINTR;
      uart.checkInterrupts();
    } else if ((offset === UARTCR || offset === UARTLCR_H) && wire) {
      tx.kick();
    }
  };

  const tx = {
    fifo: [],
    shifting: false,
    ifls: 0x12, // reset value: both trigger levels at 1/2
    alarm: clock.createAlarm(() => tx.done()),
    depth() {
      return uart.lineCtrlRegister & LCR_FEN ? TX_FIFO : 1;
    },
    trigger() {
      return uart.lineCtrlRegister & LCR_FEN ? TX_TRIGGER[Math.min(this.ifls & 7, 4)] : 0;
    },
    flags() {
      const n = this.fifo.length;
      return (
        (n >= this.depth() ? FR_TXFF : 0) |
        (n === 0 ? FR_TXFE : 0) |
        (n || this.shifting ? FR_BUSY : 0)
      );
    },
    charNs() {
      const lcr = uart.lineCtrlRegister;
      const bits = 1 + uart.wordLength + (lcr & LCR_PEN ? 1 : 0) + (lcr & LCR_STP2 ? 2 : 1);
      const divider = uart.baudDivider || 1;
      return (bits * 16 * divider * 1e9) / uart.rp2040.clkPeri;
    },
    push(byte) {
      if (this.fifo.length >= this.depth()) {
        return; // a write to a full FIFO is lost, as on the PL011
      }
      this.fifo.push(byte);
      if (this.fifo.length > this.trigger() && uart.interruptStatus & TXINTR) {
        uart.interruptStatus &= ~TXINTR;
        uart.checkInterrupts();
      }
      this.kick();
    },
    kick() {
      const on = (uart.ctrlRegister & (UARTEN | (1 << 8))) === (UARTEN | (1 << 8));
      if (this.shifting || !this.fifo.length || !on) {
        return;
      }
      const before = this.fifo.length;
      this.byte = this.fifo.shift();
      this.shifting = true;
      this.alarm.schedule(this.charNs());
      const trig = this.trigger();
      if (before > trig && this.fifo.length <= trig) {
        uart.interruptStatus |= TXINTR;
        uart.checkInterrupts();
      }
    },
    done() {
      this.shifting = false;
      uart.onByte?.(this.byte);
      this.kick();
    },
  };
  uart.vbTx = tx;
  return uart;
}

/** Whether the UART takes input bytes (enabled with RX on); bytes wait on the host until then. */
export function uartReceiving(uart) {
  return (uart.ctrlRegister & (UARTEN | RXE)) === (UARTEN | RXE);
}

// ---- DMA -----------------------------------------------------------------------------------

const TREQ_PERMANENT = 63;

/**
 * System cycles per DMA transfer. The RP2040's DMA can issue one read and one write per cycle
 * at best; a memory-to-memory copy while the core runs (the core and the DMA share the SRAM
 * banks and the bus fabric) measures about two cycles per word: MicroPython's rp2_dma test
 * takes 70-125 us on a Pico for 4096 words at 125 MHz, call overhead included.
 */
export const DMA_CYCLES_PER_TRANSFER = 2;

/**
 * DMA. Stock rp2040js schedules each transfer 0 ns ahead, so a channel moves one word per
 * executed instruction. Here a transfer whose DREQ is ready (or with the permanent request)
 * completes DMA_CYCLES_PER_TRANSFER system cycles after the previous one; paced transfers
 * (DMA timers) keep rp2040js's own delay.
 */
export function fixDmaTiming(chip) {
  for (const ch of chip.dma.channels) {
    ch.scheduleTransfer = function scheduleTransfer() {
      const { dma } = this;
      if (dma.dreq[this.treqValue] || this.treqValue === TREQ_PERMANENT) {
        this.transferAlarm.schedule((DMA_CYCLES_PER_TRANSFER * 1e9) / chip.clkSys);
      } else {
        const delay = dma.getTimer(this.treqValue);
        if (delay) {
          this.transferAlarm.schedule(delay * 1000);
        }
      }
    };
  }
}

// ---- SPI -----------------------------------------------------------------------------------

const SSPCR1_LBM = 1 << 0;

/**
 * SPI. Stock rp2040js completes a frame the moment it leaves the TX FIFO. Here it completes
 * after its wire time, data bits / (clk_peri / (CPSDVSR x (1 + SCR))), so TX FIFO, RX FIFO,
 * BSY and the DMA requests that follow them move at the bit rate. What comes back is the
 * frame itself in loopback mode (LBM), else 0 (nothing drives MISO). Not modelled: the
 * PL022's gap between frames (SSPFSSOUT pulsing with SPH 0).
 */
export function fixSpiTiming(chip) {
  for (const spi of chip.spi) {
    let frame = 0;
    const alarm = chip.clock.createAlarm(() => {
      spi.completeTransmit(spi.control1 & SSPCR1_LBM ? frame : 0);
    });
    spi.onTransmit = (value) => {
      frame = value;
      const hz = spi.clockFrequency;
      alarm.schedule(hz ? (spi.dataBits * 1e9) / hz : 0);
    };
  }
}

// ---- PIO FIFO DMA requests -----------------------------------------------------------------

const SM_SHIFTCTRL = 0x0d0 - 0x0c8; // offset within a state machine's register block

/**
 * A SHIFTCTRL write can replace a state machine's FIFOs (an FJOIN change clears them:
 * patches.mjs fixFifoJoinClear). rp2040js raises or drops a FIFO's DMA request only when the
 * machine or the CPU moves a word, so a request left from the old FIFO stayed as it was: a
 * DMA channel fed a full FIFO that no longer existed, or never started on the new, empty one
 * (a second machine.I2S after deinit() wrote nothing and its write() waited forever). Here
 * the requests follow the FIFOs after every SHIFTCTRL write. Install after fixFifoJoinClear.
 */
export function fixPioFifoDreq(chip) {
  for (const pio of chip.pio) {
    for (const sm of pio.machines) {
      const write = sm.writeUint32.bind(sm);
      sm.writeUint32 = (offset, value) => {
        write(offset, value);
        if (offset === SM_SHIFTCTRL) {
          sm.updateDMATx();
          sm.updateDMARx();
        }
      };
    }
  }
}
