// An HX711 load-cell amplifier on two of the board's pins, on the simulated clock.
//
// What the firmware sees (HX711 datasheet, Avia Semiconductor):
//   - a conversion completes every 100 ms (RATE low: 10 samples/s); DOUT then goes low;
//   - each PD_SCK rising edge shifts the next bit of the 24-bit two's complement result onto
//     DOUT, MSB first (the chip's t2 of at most 0.1 us is taken as 0);
//   - the 25th rising edge sends DOUT high and selects channel A, gain 128, for the next
//     conversion (26 pulses: channel B, gain 32; 27: channel A, gain 64);
//   - PD_SCK high for more than 60 us powers the chip down (DOUT high, no conversions);
//     PD_SCK low again powers it up: reset to channel A, gain 128, first data after the
//     400 ms settling time.
// A conversion that completes while a read is under way is lost (`lost`): the chip's
// behaviour there is not specified, and a reader that takes 100 ms over 25 pulses is broken.
//
// The value each conversion gives comes from the host (`counts`, signed; clamped to the
// chip's -2^23..2^23-1 as an out-of-range input is), whatever the gain; `mode` injects
// faults: `open` (DOUT stuck high, nothing converts: an unplugged or unpowered cell) and
// `saturated` (every conversion gives 0x7FFFFF: a broken bridge wire).

const PERIOD_NS = 100e6;
const SETTLE_NS = 400e6;
const POWER_DOWN_NS = 60e3;
// The chip's clamps (firmware/pump/loadcell.py RAW_MAX, RAW_MIN; tests/test_facts.py)
export const RAW_MAX = 0x7fffff;
export const RAW_MIN = -0x800000;
export const MODES = ['ok', 'open', 'saturated'];

export class HX711 {
  constructor(board, dout, sck, counts = 0) {
    this.board = board;
    this.dout = dout;
    this.sck = sck;
    this.counts = counts;
    this.mode = 'ok';
    this.gain = 128; // of the conversion in progress
    this.nextGain = 128;
    this.data = 0; // the 24-bit word being shifted out
    this.ready = false; // a conversion waits to be read (DOUT low)
    this.pulses = 0; // PD_SCK pulses since the data became ready
    this.powered = true;
    this.sckHigh = board.level[sck];
    this.highSince = 0;
    this.stats = { conversions: 0, reads: 0, lost: 0, overwritten: 0 };
    this.detached = false;
    this.drive(true, false);
    this.schedule(board.now() + PERIOD_NS);
  }

  detach() {
    this.detached = true;
    this.conversion?.alarm?.cancel();
    this.board.hostAlarms.delete(this.conversion);
  }

  schedule(abs) {
    this.conversion = this.board.at(abs, (t) => this.convert(t));
  }

  /** DOUT as the chip drives it; `wake` lets a state machine waiting on it see the change now. */
  drive(level, wake) {
    this.board.driveInput(this.dout, level ? 1 : 0, wake);
  }

  setMode(mode) {
    this.mode = mode;
    if (mode === 'open') {
      this.ready = false; // whatever was ready is gone with the wire
      this.drive(true, false);
    }
  }

  convert(t) {
    if (this.detached || !this.powered) {
      return;
    }
    this.schedule(t + PERIOD_NS);
    if (this.mode === 'open') {
      this.ready = false;
      this.drive(true, false);
      return;
    }
    if (this.pulses > 0 && this.pulses < 25 && this.ready) {
      this.stats.lost++; // a read is under way
      return;
    }
    if (this.ready) {
      this.stats.overwritten++; // nobody read the last one: the newer result replaces it
    }
    const value =
      this.mode === 'saturated' ? RAW_MAX : Math.max(RAW_MIN, Math.min(RAW_MAX, this.counts));
    this.data = value & 0xffffff;
    this.gain = this.nextGain;
    this.ready = true;
    this.pulses = 0;
    this.stats.conversions++;
    this.drive(false, true);
  }

  /** Called by the board on every level change of PD_SCK, at the edge's time. */
  sckChanged(level, t) {
    if (this.detached) {
      return;
    }
    this.sckHigh = level;
    if (level) {
      this.highSince = t;
      this.board.at(t + POWER_DOWN_NS, () => this.checkPowerDown(t));
      if (!this.powered) {
        return;
      }
      this.pulses++;
      if (this.ready && this.pulses <= 24) {
        this.drive((this.data >> (24 - this.pulses)) & 1, false);
      } else if (this.pulses === 25 && this.ready) {
        this.ready = false;
        this.stats.reads++;
        this.drive(true, false);
      }
      if (this.pulses >= 25) {
        this.nextGain = [128, 32, 64][Math.min(this.pulses, 27) - 25];
      }
    } else if (!this.powered) {
      // PD_SCK low again: the chip resets and enters normal operation
      this.powered = true;
      this.nextGain = 128;
      this.pulses = 0;
      this.schedule(t + SETTLE_NS);
    }
  }

  checkPowerDown(rose) {
    if (this.detached || !this.sckHigh || this.highSince !== rose || !this.powered) {
      return;
    }
    this.powered = false;
    this.ready = false;
    this.board.hostAlarms.delete(this.conversion);
    this.conversion.alarm?.cancel();
    this.drive(true, false);
  }

  status() {
    return {
      attached: !this.detached,
      dout: this.dout,
      sck: this.sck,
      counts: this.counts,
      mode: this.mode,
      gain: this.gain,
      powered: this.powered,
      ready: this.ready,
      ...this.stats,
    };
  }
}
