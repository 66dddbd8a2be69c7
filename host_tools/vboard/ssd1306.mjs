// An SSD1306 128x64 OLED module on the board's I2C0 (GP20 SDA, GP21 SCL; boards/pico/board.py),
// at 0x3C, as the firmware's drivers/ssd1306.py talks to it. rp2040js's I2C controller asks
// its hooks (onConnect, onWriteByte, ...) whether a byte is acknowledged; here the panel
// answers after the byte's wire time (9 SCL periods from the controller's own SCL counts).
//
// What the chip does with the bytes (SSD1306 datasheet rev 1.5, Solomon Systech):
//   8.1.5.1 I2C: slave address 0b011110 SA0 (0x3C with SA0 low), write only (a read is not
//     acknowledged here); after the address a control byte Co D/C# 000000: Co = 1 means one
//     byte follows and then another control byte, Co = 0 means all bytes up to the stop are
//     commands (D/C# = 0) or GDDRAM data (D/C# = 1).
//   9 Command table (table 9-1) for the argument counts and reset values; 10.1.3 addressing
//     modes (page, horizontal, vertical) and how the pointers wrap; 10.1.1/10.1.2/10.1.13 the
//     page-mode pointers; 10.1.4/10.1.5 the column and page windows; 10.1.6 start line;
//     10.1.7 contrast; 10.1.8/10.1.14 segment and COM remaps; 10.1.9 entire display on;
//     10.1.10 inverse; 10.1.11 multiplex ratio; 10.1.12 display on/off; 10.1.15 offset.
//   Charge pump (appendix, table 2-1): 8Dh with bit 2 set enables it; the modules have no
//     other panel supply, so without it the glass stays dark even when the display is on.
// The module's glass is mounted so that A1h (column 127 on SEG0) and C8h (COM63 first) show
// GDDRAM column 0, row 0 at the top left: the picture the canvas drew (pump/canvas.py).
// tests/core/ssd1306model.py is the same model in Python for the driver's core tests.
//
// The panel outlives a chip reset (it has its own supply): only a power cut resets it.
// `nack` makes it stop answering (unplugged, a broken wire): every address is NACKed.

export const ADDR = 0x3c;
const SDA = 20;
const SCL = 21;
const FUNC_I2C = 3; // RP2040 datasheet 2.19.2: GPIO function 3 is I2C
const ARGS = new Map([
  [0x20, 1], [0x21, 2], [0x22, 2], [0x26, 6], [0x27, 6], [0x29, 5], [0x2a, 5], [0x81, 1],
  [0x8d, 1], [0xa3, 2], [0xa8, 1], [0xd3, 1], [0xd5, 1], [0xd9, 1], [0xda, 1], [0xdb, 1],
]);

const R_TX_EMPTY = 1 << 4; // IC_RAW_INTR_STAT.TX_EMPTY (RP2040 datasheet 4.3.17)

/**
 * An abort (a NACK) flushes the TX FIFO, and on the chip TX_EMPTY then reads 1: it follows
 * the FIFO's level (at or below IC_TX_TL; RP2040 datasheet 4.3.17, IC_RAW_INTR_STAT). rp2040js
 * flushes without raising it, so the pico-sdk's write loop, which waits for TX_EMPTY before it
 * reads the abort source, spun to its timeout: MicroPython raised ETIMEDOUT after 50 ms
 * instead of EIO after the address byte.
 */
export function fixAbortTxEmpty(i2c) {
  if (i2c.abortFixed) {
    return;
  }
  const abort = i2c.abort.bind(i2c);
  i2c.abort = (reason) => {
    abort(reason);
    i2c.setInterrupts(R_TX_EMPTY);
  };
  i2c.abortFixed = true;
}

export class SSD1306 {
  constructor({ addr = ADDR, bus = 0, sda = SDA, scl = SCL } = {}) {
    this.addr = addr;
    this.bus = bus;
    this.sda = sda;
    this.scl = scl;
    this.nack = false;
    this.stats = { transfers: 0, bytes: 0, nacked: 0, frames: 0 };
    this.powerReset();
  }

  /** The chip's state at power-up (table 9-1 reset values); GDDRAM is undefined: zeros here. */
  powerReset() {
    this.ram = new Uint8Array(1024);
    this.mode = 2; // page addressing
    this.col = 0;
    this.page = 0;
    this.col0 = 0;
    this.col1 = 127;
    this.page0 = 0;
    this.page1 = 7;
    this.on = false;
    this.inverse = false;
    this.entire = false;
    this.pump = false;
    this.contrast = 0x7f;
    this.segRemap = false;
    this.comDec = false;
    this.start = 0;
    this.offset = 0;
    this.mux = 63;
    this.comAlt = true;
    this.resetTransfer();
  }

  resetTransfer() {
    this.talking = false; // addressed in write mode since the last start
    this.ctrl = null; // null: the next byte is a control byte
    this.cmd = [];
  }

  /** Hooks the panel to a chip's I2C controller (again after every chip reset). */
  attach(chip, cycleNs) {
    for (const bus of chip.i2c) {
      fixAbortTxEmpty(bus);
    }
    const i2c = chip.i2c[this.bus];
    const alarm = chip.clock.createAlarm(() => {
      const next = this.pending;
      this.pending = null;
      next?.();
    });
    // one byte and its acknowledge: 9 SCL periods of the controller's counts (the RP2040's
    // DW_apb_i2c, datasheet 4.3.14: SCL high/low counts in clk_sys cycles)
    const byteNs = () => 9 * (i2c.sclHighPeriod + i2c.sclLowPeriod) * cycleNs();
    const later = (ns, fn) => {
      this.pending = fn;
      alarm.schedule(ns);
    };
    i2c.onStart = () => {
      this.resetTransfer();
      i2c.completeStart();
    };
    i2c.onConnect = (address, mode) => {
      const ack = this.connect(chip, address, mode);
      later(byteNs(), () => i2c.completeConnect(ack));
    };
    i2c.onWriteByte = (value) => {
      const ack = this.write(value);
      later(byteNs(), () => i2c.completeWrite(ack));
    };
    i2c.onReadByte = () => later(byteNs(), () => i2c.completeRead(0xff));
    i2c.onStop = () => {
      this.resetTransfer();
      later(byteNs() / 9, () => i2c.completeStop());
    };
  }

  /** Whether the panel acknowledges its address: wired to the pins the firmware routed. */
  connect(chip, address, mode) {
    const routed =
      chip.gpio[this.sda].functionSelect === FUNC_I2C &&
      chip.gpio[this.scl].functionSelect === FUNC_I2C;
    this.talking = routed && !this.nack && address === this.addr && mode === 0;
    if (this.talking) {
      this.stats.transfers++;
    } else if (address === this.addr) {
      this.stats.nacked++;
    }
    return this.talking;
  }

  write(value) {
    if (!this.talking || this.nack) {
      return false;
    }
    this.stats.bytes++;
    if (this.ctrl === null) {
      this.ctrl = value; // a command's arguments may each come after their own (Co = 1)
      this.single = !!(value & 0x80);
      return true;
    }
    if (this.ctrl & 0x40) {
      this.data(value);
    } else {
      this.cmd.push(value);
      if (this.cmd.length === 1 + (ARGS.get(this.cmd[0]) ?? 0)) {
        this.command(this.cmd);
        this.cmd = [];
      }
    }
    if (this.single) {
      this.ctrl = null; // Co = 1: a control byte comes next
    }
    return true;
  }

  data(b) {
    this.ram[this.col + 128 * this.page] = b;
    if (this.mode === 0) {
      if (++this.col > this.col1) {
        this.col = this.col0;
        if (this.page >= this.page1) {
          this.page = this.page0;
          this.stats.frames++; // the window filled: one whole picture
        } else {
          this.page++;
        }
      }
    } else if (this.mode === 1) {
      if (++this.page > this.page1) {
        this.page = this.page0;
        if (this.col >= this.col1) {
          this.col = this.col0;
          this.stats.frames++;
        } else {
          this.col++;
        }
      }
    } else {
      this.col = this.col >= 127 ? 0 : this.col + 1;
    }
  }

  command(c) {
    const op = c[0];
    if (op < 0x10) {
      this.col = (this.col & 0xf0) | op;
    } else if (op < 0x20) {
      this.col = (this.col & 0x0f) | ((op & 0x07) << 4);
    } else if (op === 0x20) {
      this.mode = c[1] & 3;
    } else if (op === 0x21) {
      this.col0 = c[1] & 127;
      this.col1 = c[2] & 127;
      this.col = this.col0;
    } else if (op === 0x22) {
      this.page0 = c[1] & 7;
      this.page1 = c[2] & 7;
      this.page = this.page0;
    } else if (op >= 0x40 && op < 0x80) {
      this.start = op & 63;
    } else if (op === 0x81) {
      this.contrast = c[1];
    } else if (op === 0x8d) {
      this.pump = !!(c[1] & 0x04);
    } else if (op === 0xa0 || op === 0xa1) {
      this.segRemap = op === 0xa1;
    } else if (op === 0xa4 || op === 0xa5) {
      this.entire = op === 0xa5;
    } else if (op === 0xa6 || op === 0xa7) {
      this.inverse = op === 0xa7;
    } else if (op === 0xa8) {
      this.mux = c[1] & 63;
    } else if (op === 0xae || op === 0xaf) {
      this.on = op === 0xaf;
    } else if (op >= 0xb0 && op <= 0xb7) {
      this.page = op & 7;
    } else if (op === 0xc0 || op === 0xc8) {
      this.comDec = op === 0xc8;
    } else if (op === 0xd3) {
      this.offset = c[1] & 63;
    } else if (op === 0xda) {
      this.comAlt = !!(c[1] & 0x10);
    }
  }

  /** Whether the glass lights pixel (x, y), x right and y down as the module is read. */
  lit(x, y) {
    if (!this.on || !this.pump || y > this.mux) {
      return 0;
    }
    if (this.entire) {
      return 1;
    }
    const col = this.segRemap ? x : 127 - x;
    const row = ((this.comDec ? y : 63 - y) + this.start + this.offset) & 63;
    const v = (this.ram[col + 128 * (row >> 3)] >> (row & 7)) & 1;
    return this.inverse ? v ^ 1 : v;
  }

  /** What the glass shows, 1024 bytes in the canvas's layout (byte x + 128 * page, bit y % 8). */
  screen() {
    const out = new Uint8Array(1024);
    if (!this.on || !this.pump) {
      return out;
    }
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 128; x++) {
        if (this.lit(x, y)) {
          out[x + 128 * (y >> 3)] |= 1 << (y & 7);
        }
      }
    }
    return out;
  }

  status() {
    return {
      addr: this.addr,
      answering: !this.nack,
      on: this.on,
      charge_pump: this.pump,
      inverse: this.inverse,
      entire_on: this.entire,
      contrast: this.contrast,
      addressing: ['horizontal', 'vertical', 'page', 'page'][this.mode],
      seg_remap: this.segRemap,
      com_scan_dec: this.comDec,
      start_line: this.start,
      offset: this.offset,
      mux: this.mux + 1,
      ...this.stats,
    };
  }
}
