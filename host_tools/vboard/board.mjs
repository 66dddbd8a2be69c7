// One virtual Pico: an rp2040js chip (replaced by a fresh one on every reset), our own
// execute loop on the simulated clock, and the host-side state that outlives resets
// (flash, input levels, ADC values, edge logs, the host timeline). Host time (ns) = time of
// all earlier chips + the current chip's clock. When it runs and how fast: scheduler.mjs.
import { RP2040 } from 'rp2040js';
import { PinLog } from './edges.mjs';
import { FLASH_SIZE, flashOp, saveFlash } from './flash.mjs';
import { fixFifoJoinClear, guardXipWrites } from './patches.mjs';
import { PioClock } from './pio-clock.mjs';
import { SSD1306 } from './ssd1306.mjs';
import { installPollSkip } from './pio-poll.mjs';
import {
  RandomBits,
  fixDmaTiming,
  fixPioFifoDreq,
  fixSpiTiming,
  fixUart,
  installRosc,
  uartReceiving,
} from './timing.mjs';

export const NUM_PINS = 30;
const WATCHDOG = 0x40058; // key of the watchdog in chip.peripherals
const PULLS = [null, 'down', 'up', 'keeper'];
const VBUS_SENSE_PIN = 24;
const ADC_VREF_MV = 3300;
/** The 12-bit conversion of mv at an ADC pin (the Pico's 3V3 reference). */
export const adcRaw = (mv) => Math.min(4095, Math.max(0, Math.round((mv * 4095) / ADC_VREF_MV)));

class ByteQueue {
  constructor() {
    this.buf = new Uint8Array(4096);
    this.head = 0;
    this.tail = 0;
  }

  get length() {
    return this.tail - this.head;
  }

  push(bytes) {
    if (this.tail + bytes.length > this.buf.length) {
      const live = this.buf.subarray(this.head, this.tail);
      const size = Math.max(this.buf.length, (live.length + bytes.length) * 2);
      const next = new Uint8Array(size);
      next.set(live);
      this.buf = next;
      this.tail -= this.head;
      this.head = 0;
    }
    this.buf.set(bytes, this.tail);
    this.tail += bytes.length;
  }

  shift() {
    return this.buf[this.head++];
  }
}

export class Board {
  constructor({
    rom,
    flash,
    logger,
    timing,
    name = 'board',
    uartIndex = 0,
    freeRun = false,
    seed = null,
    replWire = false,
    pioSkip = false,
    pollSkip = false,
  }) {
    this.name = name;
    this.pioSkip = pioSkip; // countdown loops in PIO done in one go (pio-clock.mjs)
    this.pollSkip = pollSkip; // pin poll loops in PIO done in one go (pio-poll.mjs)
    this.rom = rom;
    this.random = new RandomBits(seed); // the ROSC's bits: one stream across resets
    this.replWire = replWire; // the REPL UART takes wire time too (else it is instant)
    this.logger = logger;
    this.timing = timing;
    this.uartIndex = uartIndex;
    this.freeRun = freeRun;
    this.scheduler = null; // the time base it runs in (scheduler.mjs), which sets go and paced
    this.go = false;
    this.paced = false;
    this.held = false; // wired to another board that holds its RUN pin low: the core stays off
    this.edgeHint = null; // host time of a pin change another board is delivering now
    this.epochNs = 0;
    this.hostAlarms = new Set();
    this.runners = 0;
    this.replClients = 0;
    this.draining = false;
    this.rx = new ByteQueue();
    this.rxDue = 0; // host time the oldest queued host bytes arrived at (paced: the wall's)
    this.out = [];
    this.onOutput = () => {};
    // pin -> level driven by the host. The Pico board's own VBUS sense (GP24) reads USB
    // present until the host says otherwise (set_input): the board is on mains.
    this.inputs = new Map([[VBUS_SENSE_PIN, true]]);
    // channel -> raw 12-bit value set by the host (set_adc); rp2040js returns
    // adc.channelValues[channel] 2 us after a conversion starts. Until the host drives them:
    // VSYS/3 (ADC3) of USB's 5 V less the Schottky, and a fresh 9 V cell through its 1/4
    // divider on ADC2 (boards/pico/WIRING.md), so a pump that knows its supply boots healthy.
    this.adcRaw = new Map([
      [3, adcRaw(4750 / 3)],
      [2, adcRaw(9500 / 4)],
    ]);
    this.level = new Array(NUM_PINS).fill(false);
    this.watchers = new Array(NUM_PINS).fill(null); // devices on the board's pins (hx711.mjs)
    this.hx711 = null;
    this.proto = null; // UART1 on its own TCP port (protouart.mjs), if the bridge opened one
    this.panel = new SSD1306(); // the OLED on I2C0 (ssd1306.mjs): outlives chip resets
    this.logs = Array.from({ length: NUM_PINS }, () => new PinLog());
    this.pending = null; // flash operation in progress: { op, alarm }
    this.frozen = false; // the core waits for the flash chip
    this.rebootPending = null;
    this.resets = 0;
    this.instructions = 0; // core instructions executed, all chips together (status)
    this.flashStats = { erases: 0, programs: 0, busy_ns: 0 };
    this.chip = this.makeChip(flash);
  }

  makeChip(flash) {
    const chip = new RP2040(); // brings its own clock, starting at 0 like a powered-up timer
    chip.logger = this.logger;
    chip.bootrom.set(this.rom);
    chip.flash.set(flash.subarray(0, FLASH_SIZE));
    chip.core.reset();
    this.chip = chip;
    this.cycleNs = 1e9 / chip.clkSys;
    this.pioClock = new PioClock(chip, this.cycleNs, { skip: this.pioSkip });
    chip.addClockListener((hz) => {
      this.cycleNs = 1e9 / hz;
      this.pioClock.cycleNs = this.cycleNs;
    });
    for (const uart of chip.uart) {
      const repl = uart === chip.uart[this.uartIndex];
      const room = repl
        ? () => this.feedUart()
        : () => this.proto?.uart === uart && this.proto.room();
      fixUart(uart, room, { wire: !repl || this.replWire });
    }
    installRosc(chip, this.random);
    fixDmaTiming(chip);
    fixSpiTiming(chip);
    this.uart = chip.uart[this.uartIndex];
    this.uart.onByte = (b) => this.out.push(b);
    chip.onBreak = (code) => this.onBreak(code);
    const watchdog = chip.peripherals[WATCHDOG];
    watchdog.onWatchdogTrigger = () => {
      // The reset stops the watchdog. Stock rp2040js would re-arm its periodic alarm at the
      // counter's 0 for 0 ns later, firing forever inside one clock tick.
      watchdog.alarm.enable = false;
      watchdog.timer.enable = false;
      this.requestReboot('watchdog');
    };
    guardXipWrites(chip, this.logger);
    fixFifoJoinClear(chip);
    fixPioFifoDreq(chip);
    for (let pin = 0; pin < NUM_PINS; pin++) {
      chip.gpio[pin].addListener(() => this.syncPin(pin));
      this.syncPin(pin);
    }
    for (const [channel, raw] of this.adcRaw) {
      chip.adc.channelValues[channel] = raw;
    }
    for (const h of this.hostAlarms) {
      this.linkHost(h);
    }
    this.proto?.attach(chip);
    this.panel.attach(chip, () => this.cycleNs);
    if (this.pollSkip) {
      installPollSkip(this);
    }
    return chip;
  }

  // ---- host timeline and alarms ----

  now() {
    return this.epochNs + this.chip.clock.nanos;
  }

  /** Runs fn at host time absNs: a clock alarm, carried over to the next chip on reset. */
  at(absNs, fn) {
    const h = { abs: absNs, fn, alarm: null };
    this.hostAlarms.add(h);
    this.linkHost(h);
    return h;
  }

  linkHost(h) {
    const { clock } = this.chip;
    h.alarm = clock.createAlarm(() => {
      this.hostAlarms.delete(h);
      h.fn(h.abs);
    });
    h.alarm.schedule(Math.max(0, h.abs - this.epochNs - clock.nanos));
  }

  // ---- when to run (the scheduler decides, for all the boards in its time base) ----

  /** Whether this board needs simulated time to pass (scheduler.mjs). */
  needsTime() {
    return (
      this.runners > 0 ||
      this.replClients > 0 ||
      this.freeRun ||
      this.draining ||
      !!this.proto?.wants()
    );
  }

  setReplClients(n) {
    this.replClients = n;
    this.draining = this.rx.length > 0; // what a client sent still reaches the firmware
    this.changed();
  }

  /** What the board needs changed (a client, a `run`): the scheduler looks again. */
  changed() {
    this.scheduler.changed();
  }

  /** Something happened that may let the simulation progress: run a slice soon. */
  wake() {
    this.scheduler.wake();
  }

  /** Whether the core waits (for an interrupt, the flash chip, or its RUN pin). */
  waiting() {
    return this.frozen || this.chip.core.waiting || this.held;
  }

  /** A waiting board's next event on its own chip clock: a timer alarm or PIO instruction. */
  nextEventNs() {
    const { clock } = this.chip;
    const alarm = clock.nextAlarm ? clock.nextAlarm.nanos : Infinity;
    return Math.min(alarm, this.held ? Infinity : this.pioClock.nextNs);
  }

  /** Host time of the board's next step: now for a running core, else its next event. */
  nextStepNs() {
    return this.waiting() ? this.epochNs + this.nextEventNs() : this.now();
  }

  /**
   * The execute loop of a board alone in its time base: one core instruction at a time
   * (step), a waiting core jumps to the earlier of the next alarm and the next PIO
   * instruction. Returns 'slice', 'halt', 'reboot', 'idle' or milliseconds to sleep.
   */
  spin(wallEnd) {
    const { core, clock } = this.chip;
    for (let n = 1; ; n++) {
      if (this.frozen || core.waiting) {
        const target = this.nextEventNs();
        const allowed = this.paced ? this.scheduler.allowedHost() - this.epochNs : Infinity;
        if (target > allowed && allowed > clock.nanos) {
          this.advanceTo(allowed); // an idle paced board keeps up with the wall clock
        }
        // host bytes arrive "now": when paced, once the board has caught up with wall time,
        // or, on a board that lags the wall clock (say a machine under load), once it has
        // reached the time they arrived at (else they would wait as long as it lags)
        if (this.rx.length && (target > allowed || !this.paced || this.now() >= this.rxDue)) {
          this.feedUart();
          if (!core.waiting && !this.frozen) {
            continue;
          }
        }
        if (target > allowed || target === Infinity) {
          return target === Infinity ? 'idle' : (target - allowed) / 1e6;
        }
        this.advanceTo(target);
      } else {
        this.step();
      }
      if (this.rebootPending) {
        return 'reboot';
      }
      if (!this.go) {
        return 'halt';
      }
      if ((n & 1023) === 0 && performance.now() > wallEnd) {
        return 'slice';
      }
    }
  }

  /** One core instruction: the clock ticked by its cycles, PIO steps due meanwhile in order. */
  step() {
    const { chip, pioClock: pio } = this;
    const { clock } = chip;
    const t = clock.nanos + chip.core.executeInstruction() * this.cycleNs;
    this.instructions++;
    if (pio.nextNs <= t) {
      pio.runUntil(t, clock, () => !this.go || this.rebootPending);
    }
    clock.tick(t - clock.nanos);
    if (pio.parked.length) {
      pio.scanParked(clock.nanos);
    }
  }

  /** A waiting core moves to chip time t (a held one only ticks its clock: alarms fire). */
  advanceTo(t) {
    const { clock } = this.chip;
    if (this.held) {
      clock.tick(Math.max(0, t - clock.nanos));
      return;
    }
    if (this.pioClock.nextNs <= t) {
      this.pioClock.runUntil(t, clock, () => !this.go || this.rebootPending);
    }
    if (!this.rebootPending) {
      clock.tick(Math.max(0, t - clock.nanos)); // tick(0) still fires alarms due now
    }
  }

  // ---- UART ----

  input(bytes) {
    if (!this.rx.length) {
      this.rxDue = this.paced ? this.scheduler.allowedHost() : this.now(); // host time
    }
    this.rx.push(bytes);
    if (!this.chip.core.waiting && !this.frozen) {
      this.feedUart(); // a busy core (say a loop waiting for Ctrl-C) gets them at once
    }
    this.wake();
  }

  /** Moves host bytes into the 32-byte RX FIFO while it has room. */
  feedUart() {
    const { uart, rx } = this;
    while (rx.length && uart.rxFIFO.itemCount < uart.rxFIFO.size && uartReceiving(uart)) {
      uart.feedByte(rx.shift());
    }
    if (this.draining && !rx.length) {
      this.draining = false;
      this.scheduler.update();
    }
  }

  flushOutput() {
    if (this.out.length) {
      const data = Buffer.from(this.out);
      this.out = [];
      this.onOutput(data);
    }
  }

  // ---- flash traps and resets ----

  onBreak(code) {
    if (code === 0x10 || code === 0x11) {
      const op = flashOp(this.chip, code, this.timing);
      this.flashStats[code === 0x10 ? 'erases' : 'programs']++;
      this.flashStats.busy_ns += op.ns;
      if (op.ns <= 0) {
        op.apply();
        return;
      }
      const alarm = this.chip.clock.createAlarm(() => {
        this.pending = null;
        this.frozen = false;
        op.apply();
      });
      this.pending = { op, alarm };
      this.frozen = true;
      alarm.schedule(op.ns);
    } else if (code === 0x12) {
      this.requestReboot('usb boot');
    } else if (code === 0x13) {
      // the ROM's NMI/HardFault handler: report the faulting PC (stacked at SP+24), then
      // hold the core as a hung chip would, without spinning the host CPU, until a reset
      const { core } = this.chip;
      const pc = this.chip.readUint32(core.SP + 24) >>> 0;
      const where = `0x${pc.toString(16)}`;
      this.logger.error('vboard', `HardFault in the firmware at ${where}: core halted`);
      this.frozen = true;
    } else {
      const pc = (this.chip.core.PC - 2) >>> 0;
      this.logger.error('vboard', `bkpt #${code} at 0x${pc.toString(16)} (firmware panic?)`);
    }
  }

  /** `flash`: contents to reboot with (a power cut's snapshot); default: the chip's own. */
  requestReboot(reason, dropPending = false, flash = null) {
    this.rebootPending = { reason, dropPending, flash };
    this.wake();
  }

  /** Replaces the chip with a fresh one (fresh RAM and peripherals) on the same flash. */
  reboot() {
    const { reason, dropPending, flash } = this.rebootPending;
    this.rebootPending = null;
    if (this.pending) {
      this.pending.alarm.cancel();
      if (!dropPending) {
        this.pending.op.apply(); // a reset leaves the flash chip powered: it finishes
      }
      this.pending = null;
      this.frozen = false;
    }
    this.flushOutput();
    const old = this.chip;
    this.epochNs += old.clock.nanos;
    for (const log of this.logs) {
      log.clear();
    }
    this.makeChip(flash || old.flash);
    if (reason === 'power cut') {
      this.panel.powerReset(); // the panel shares the board's supply
    }
    if (reason === 'watchdog') {
      // A watchdog reset keeps the watchdog's scratch registers and says why it happened
      // (RP2040 datasheet, 4.7); a power cut or the RUN pin clears them.
      const was = old.peripherals[WATCHDOG];
      const now = this.chip.peripherals[WATCHDOG];
      now.scratchData.set(was.scratchData);
      now.reason = was.reason;
    }
    this.resets++;
  }

  /** Resets now if the loop is not running (host commands), else at the next instruction. */
  resetNow(reason, dropPending = false, flash = null) {
    this.rebootPending = { reason, dropPending, flash };
    this.reboot();
    this.wake();
  }

  flashBytes() {
    return this.chip.flash.subarray(0, FLASH_SIZE);
  }

  save(path) {
    saveFlash(path, this.flashBytes()); // a pending operation is not in it: as at a power cut
  }

  // ---- pins ----

  /** Drives the pad's input from what is on the wire, and logs its edges. */
  syncPin(pin) {
    if (this.pollSkip) {
      // a poll loop done ahead is undone to the lap of the change (at its own time if known)
      this.pioClock.pinChanging?.(pin, (this.edgeHint ?? this.now()) - this.epochNs);
    }
    const p = this.chip.gpio[pin];
    let level;
    if (p.outputEnable) {
      level = p.outputValue;
    } else if (this.inputs.has(pin)) {
      level = this.inputs.get(pin);
    } else if (p.pullupEnabled !== p.pulldownEnabled) {
      level = p.pullupEnabled;
    } else {
      level = this.level[pin]; // floating or bus keeper: holds
    }
    if (level !== p.rawInputValue) {
      p.setInputValue(level);
    }
    if (level !== this.level[pin]) {
      this.level[pin] = level;
      const t = this.now();
      this.logs[pin].edge(level, t);
      this.watchers[pin]?.(level, t);
    }
  }

  setInput(pin, value) {
    this.inputs.set(pin, !!value);
    this.syncPin(pin);
    this.wake();
  }

  /**
   * A device on the board drives an input pin (at the current simulated time, from inside
   * the loop: no wake-up needed). `wake`: a state machine stalled on `wait pin` sees the new
   * level now, not at the core's next instruction (an idle core may sleep for a while).
   */
  driveInput(pin, value, wake = false) {
    this.inputs.set(pin, !!value);
    this.syncPin(pin);
    if (wake && this.pioClock.parked.length) {
      this.pioClock.scanParked(this.chip.clock.nanos);
    }
  }

  /** fn(level, ns) on every level change of pin (null: none); one watcher per pin. */
  watch(pin, fn) {
    this.watchers[pin] = fn;
  }

  setAdc(channel, raw) {
    this.adcRaw.set(channel, raw);
    this.chip.adc.channelValues[channel] = raw;
  }

  pins() {
    return this.chip.gpio.map((p, pin) => ({
      pin,
      dir: p.outputEnable ? 'out' : 'in',
      level: this.level[pin] ? 1 : 0,
      func: p.functionSelect,
      pull: PULLS[(p.pullupEnabled ? 2 : 0) + (p.pulldownEnabled ? 1 : 0)],
    }));
  }
}
