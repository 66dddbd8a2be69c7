#!/usr/bin/env node
// Two virtual Picos wired board to board in one simulated time base: the pump (its real
// image) and the bench fixture (a plain MicroPython image running hil/fixture/). Each board
// has its REPL UART on a TCP port and its JSON control channel on the next port, as with
// bridge.mjs; the fixture's REPL UART is the fixture's host channel (its USB on a real bench).
//
// Time. One loop runs both chips: the board whose next step is earlier goes first (a running
// core: its next instruction; a waiting core: its next timer alarm or PIO instruction), and a
// running core runs no further than the other board's next step. A pin change reaches the
// other board at the sender's time: exactly (a clock alarm) when the receiver is not there
// yet, else at once, at most one instruction late (a few ns). Pacing is bridge.mjs's: halted
// while nothing needs time, full speed during a control `run`, paced to wall time while a
// client is connected (the bench rig keeps the fixture's channel open, so the pair runs like
// two powered boards on a desk).
//
// Wires (hil/fixture/BENCH.md): pump STEP/DIR/EN/PD_SCK -> fixture inputs; fixture DOUT and
// syringe switch -> pump inputs; fixture GP22 driven low -> the pump's RUN pin: the pump is
// held in reset (a fresh chip whose core does not run) and boots afresh when it is released.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const ROM_SIZE = 16 * 1024;
const SLICE_MS = 4; // wall time per event-loop turn: a request and its reply cost one each
const MAX_LAG_NS = 50e6;
const BATCH = 1024; // instructions a running core executes between two looks at the other board
// How far a running core may get ahead of the other board's next step: a pin the other board
// changes meanwhile reaches it up to this late. Below the HX711's 0.1 us-per-bit margin of the
// pump's reader (it samples DOUT 7 us after PD_SCK rises) and the STEP pulse (2 us or more),
// so the fixture's edge times stay exact (pio-poll.mjs resumes a poll loop at the edge's own
// time).
const LOOKAHEAD_NS = 1000;

// [pump GPIO, fixture GPIO]: hil/fixture/BENCH.md
export const PUMP_TO_FIXTURE = [
  [2, 10], // STEP
  [3, 11], // DIR
  [4, 12], // EN
  [17, 13], // HX711 PD_SCK
  [15, 16], // MARK: a spare line a test pulses (the fixture can cut the power on it)
];
export const FIXTURE_TO_PUMP = [
  [14, 16], // HX711 DOUT
  [15, 18], // syringe switch
];
export const FIXTURE_RUN = 22; // open drain to the pump's RUN pin

function fail(message) {
  process.stderr.write(`vboard: error: ${message}\n`);
  process.exit(2);
}

const USAGE = `usage: node pair.mjs --image PUMP.bin --fixture-image FIXTURE.bin [--flash F]
  [--fixture-flash F] [--fresh] [--bootrom ROM.bin] [--host 127.0.0.1] [--port 2217]
  [--control-port PORT+1] [--fixture-port PORT+3] [--fixture-control-port FIXTURE_PORT+1]
  [--fixture-uart 1] [--proto-port N] [--pace realtime|max] [--seed N] [--echo] [--verbose]`;

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        image: { type: 'string' },
        'fixture-image': { type: 'string' },
        flash: { type: 'string' },
        'fixture-flash': { type: 'string' },
        fresh: { type: 'boolean', default: false },
        bootrom: { type: 'string', default: resolve(REPO, '.cache/bootrom/bootrom.bin') },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '2217' },
        'control-port': { type: 'string' },
        'fixture-port': { type: 'string' },
        'fixture-control-port': { type: 'string' },
        'fixture-uart': { type: 'string', default: '1' },
        'proto-port': { type: 'string' },
        pace: { type: 'string', default: 'realtime' },
        seed: { type: 'string' },
        echo: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    fail(`${err.message}\n${USAGE}`);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = Number(parsed.port);
  const controlPort = Number(parsed['control-port'] ?? port + 1);
  const fixturePort = Number(parsed['fixture-port'] ?? port + 3);
  const fixtureControlPort = Number(parsed['fixture-control-port'] ?? fixturePort + 1);
  const ports = [
    ['--port', port],
    ['--control-port', controlPort],
    ['--fixture-port', fixturePort],
    ['--fixture-control-port', fixtureControlPort],
  ];
  for (const [name, value] of ports) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      fail(`${name} must be a TCP port number`);
    }
  }
  if (!['realtime', 'max'].includes(parsed.pace)) {
    fail('--pace must be realtime or max');
  }
  if (!['0', '1'].includes(parsed['fixture-uart'])) {
    fail('--fixture-uart must be 0 or 1');
  }
  if (parsed.seed !== undefined && !/^[0-9]{1,19}$/.test(parsed.seed)) {
    fail('--seed must be a non-negative integer');
  }
  for (const key of ['image', 'fixture-image']) {
    if (!parsed[key] || !existsSync(parsed[key])) {
      fail(`firmware image not found: ${parsed[key] ?? `(give --${key})`}`);
    }
  }
  const protoPort = parsed['proto-port'] === undefined ? null : Number(parsed['proto-port']);
  if (protoPort !== null && (!Number.isInteger(protoPort) || protoPort < 0 || protoPort > 65535)) {
    fail('--proto-port must be a TCP port number (0: any free one)');
  }
  return { ...parsed, port, controlPort, fixturePort, fixtureControlPort, protoPort };
}

function loadRom(path) {
  if (!existsSync(path)) {
    fail(`boot ROM not found: ${path} (build host_tools/vboard/bootrom first)`);
  }
  const bytes = readFileSync(path);
  const rom = new Uint8Array(ROM_SIZE);
  rom.set(bytes.subarray(0, ROM_SIZE));
  return new Uint32Array(rom.buffer);
}

function listen(server, port, host, what) {
  return new Promise((done) => {
    server.once('error', (err) => {
      if (err.code === 'EADDRINUSE') {
        fail(`${what} port ${port} on ${host} is already in use (another vboard running?)`);
      }
      fail(`cannot listen on ${host}:${port}: ${err.message}`);
    });
    server.listen(port, host, done);
  });
}

const waiting = (b) => b.frozen || b.chip.core.waiting || b.held;

/** A waiting board's next event on its own chip clock: a timer alarm or PIO instruction. */
function nextEvent(b) {
  const { clock } = b.chip;
  const alarm = clock.nextAlarm ? clock.nextAlarm.nanos : Infinity;
  return Math.min(alarm, b.held ? Infinity : b.pioClock.nextNs);
}

/** Host time of a board's next step: now for a running core, else its next event. */
function nextStep(b) {
  return waiting(b) ? b.epochNs + nextEvent(b) : b.now();
}

/** Runs two Boards in one time base (see the top of this file). */
export class Pair {
  constructor(boards, pace) {
    this.boards = boards;
    this.pace = pace;
    this.go = false;
    this.paced = false;
    this.scheduled = false;
    this.wakeTimer = null;
    this.dirty = false; // a pin crossed between the boards: look at both again
    const protoUpdate = Object.getPrototypeOf(boards[0]).updateGo;
    for (const b of boards) {
      b.held = false;
      b.edgeHint = null;
      b.wants = false;
      b.updateGo = () => {
        protoUpdate.call(b);
        b.wants = b.go;
        this.recompute();
      };
      b.changed = () => this.changed();
      b.wake = () => this.wake();
      b.updateGo();
    }
    this.reanchor();
  }

  now() {
    return Math.min(...this.boards.map((b) => b.now()));
  }

  recompute() {
    const go = this.boards.some((b) => b.wants);
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
    for (const b of this.boards) {
      Object.getPrototypeOf(b).updateGo.call(b);
      b.wants = b.go;
    }
    this.recompute();
    if (this.paced && !wasPaced) {
      this.reanchor();
    }
    this.wake();
  }

  reanchor() {
    this.anchorWall = performance.now();
    this.anchorHost = this.now();
  }

  allowedHost() {
    return this.anchorHost + (performance.now() - this.anchorWall) * 1e6;
  }

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

  slice() {
    this.scheduled = false;
    if (process.env.VBOARD_PAIR_DEBUG && performance.now() - (this.lastDebug ?? 0) > 1000) {
      this.lastDebug = performance.now();
      const [a, c] = this.boards;
      const info = (b) =>
        `now=${b.now()} next=${nextStep(b)} waiting=${waiting(b)} held=${b.held} ` +
        `frozen=${b.frozen} pio=${b.pioClock.nextNs} active=${b.pioClock.active.length}`;
      process.stderr.write(
        `pair: go=${this.go} paced=${this.paced} allowed=${this.allowedHost()}\n` +
          `  pump ${info(a)}\n  fixture ${info(c)}\n`,
      );
    }
    if (!this.go) {
      return;
    }
    const result = this.spin(performance.now() + SLICE_MS);
    for (const b of this.boards) {
      b.flushOutput();
    }
    if (result === 'slice') {
      if (this.paced && this.allowedHost() - this.now() > MAX_LAG_NS) {
        this.anchorWall = performance.now(); // lagging: do not race ahead to catch up
        this.anchorHost = this.now() + MAX_LAG_NS;
      }
      this.wake();
    } else if (typeof result === 'number' && this.go) {
      this.wakeTimer = setTimeout(() => this.wake(), Math.max(1, Math.min(result, 1000)));
    }
  }

  /** One core instruction of b, with the PIO instructions due meanwhile (Board.spin's). */
  execute(b) {
    const { chip, pioClock: pio } = b;
    const { core, clock } = chip;
    const t = clock.nanos + core.executeInstruction() * b.cycleNs;
    b.instructions++;
    if (pio.nextNs <= t) {
      pio.runUntil(t, clock, () => !this.go || b.rebootPending);
    }
    clock.tick(t - clock.nanos);
    if (pio.parked.length) {
      pio.scanParked(clock.nanos);
    }
  }

  /** A waiting board moves to host time t (a held one only ticks its clock: alarms fire). */
  advance(b, t, chipT = t - b.epochNs) {
    if (b.held) {
      b.chip.clock.tick(Math.max(0, chipT - b.chip.clock.nanos));
    } else {
      b.advanceTo(chipT);
    }
  }

  /**
   * Host bytes reach a waiting board's UART at its own time (a busy core gets them at once,
   * Board.input): one board may be busy while the other waits for its client. Returns
   * whether a core woke up.
   */
  feed() {
    let woke = false;
    for (const x of this.boards) {
      if (x.rx.length && waiting(x) && !x.held) {
        x.feedUart();
        woke ||= !waiting(x);
      }
    }
    return woke;
  }

  spin(wallEnd) {
    const [a, c] = this.boards;
    let ops = 0;
    for (;;) {
      for (const b of this.boards) {
        if (b.rebootPending) {
          b.reboot();
        }
      }
      if (!this.go) {
        return 'halt';
      }
      const allowed = this.paced ? this.allowedHost() : Infinity;
      const ta = nextStep(a);
      const tc = nextStep(c);
      const [b, tb, , to] = ta <= tc ? [a, ta, c, tc] : [c, tc, a, ta];
      if (tb > allowed || tb === Infinity) {
        // nothing due before the wall clock allows: idle boards keep up with it, and host
        // bytes go in once a board has caught up
        for (const x of this.boards) {
          if (waiting(x) && allowed !== Infinity && x.now() < allowed) {
            this.advance(x, allowed);
          }
        }
        if (this.feed() || a.rebootPending || c.rebootPending) {
          continue;
        }
        return tb === Infinity ? 'idle' : (tb - allowed) / 1e6;
      }
      if (this.feed()) {
        continue;
      }
      if (waiting(b)) {
        this.advance(b, tb, nextEvent(b)); // on the chip's own clock: exact, no rounding
      } else {
        this.dirty = false;
        let k = 0;
        do {
          this.execute(b);
          k++;
        } while (
          k < BATCH &&
          !this.dirty &&
          !b.rebootPending &&
          !waiting(b) &&
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

  /** Level `level` at host time t on the sender reaches pin `pin` of board `dest`. */
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

  /** The fixture's open-drain pin to the pump's RUN: driven low holds the pump in reset. */
  runPin(fixture, pin, pump) {
    fixture.watch(pin, (_level, t) => {
      const p = fixture.chip.gpio[pin];
      const low = p.outputEnable && !p.outputValue;
      this.deliver(
        pump,
        () => {
          if (low !== pump.held) {
            pump.held = low;
            pump.requestReboot('run pin'); // held: a fresh chip that does not run; released: boots
          }
        },
        t,
      );
    });
  }
}

/** The fixture chip's PIO skips its poll loops, and learns of pin changes with their time. */
function pollSkipping(board, installPollSkip) {
  const sync = Object.getPrototypeOf(board).syncPin;
  board.syncPin = (pin) => {
    const hint = board.edgeHint ?? board.now();
    board.pioClock.pinChanging?.(pin, hint - board.epochNs);
    sync.call(board, pin);
  };
  const make = Object.getPrototypeOf(board).makeChip;
  board.makeChip = (flash) => {
    const chip = make.call(board, flash);
    installPollSkip(board);
    return chip;
  };
  installPollSkip(board);
}

function replServer(board, echo) {
  let client = null;
  board.onOutput = (data) => {
    client?.write(data);
    if (echo) {
      process.stderr.write(data);
    }
  };
  return createServer((sock) => {
    if (client) {
      sock.end('vboard: the REPL is in use by another client\r\n');
      return;
    }
    client = sock;
    sock.setNoDelay(true);
    board.setReplClients(1);
    sock.on('data', (data) => board.input(data));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (client === sock) {
        client = null;
        board.setReplClients(0);
      }
    });
  });
}

async function main() {
  const opt = options();
  const rom = loadRom(opt.bootrom);
  const [
    { Board },
    { FLASH_TIMING, initialFlash },
    { BridgeLogger },
    { controlServer },
    { ProtoUart },
    { installPollSkip },
  ] = await Promise.all([
    import('./board.mjs'),
    import('./flash.mjs'),
    import('./patches.mjs'),
    import('./control.mjs'),
    import('./protouart.mjs'),
    import('./pio-poll.mjs'),
  ]).catch((err) => fail(`cannot load rp2040js (run npm ci in ${HERE}): ${err.message}`));
  const logger = new BridgeLogger(opt.verbose);
  console.warn = (...args) => logger.warn('rp2040js', args.join(' '));
  console.error = (...args) => logger.error('rp2040js', args.join(' '));
  const make = (image, flashPath, uartIndex) => {
    let flash;
    try {
      flash = initialFlash({ flashPath, imagePath: image, fresh: opt.fresh });
    } catch (err) {
      fail(err.message);
    }
    return new Board({
      rom,
      flash,
      logger,
      timing: FLASH_TIMING.typ,
      uartIndex,
      pace: opt.pace,
      seed: opt.seed ?? null,
      pioSkip: true,
    });
  };
  const pump = make(opt.image, opt.flash, 0);
  const fixture = make(opt['fixture-image'], opt['fixture-flash'], Number(opt['fixture-uart']));
  pollSkipping(fixture, installPollSkip);
  const pair = new Pair([pump, fixture], opt.pace);
  for (const [p, f] of PUMP_TO_FIXTURE) {
    pair.wire(pump, p, fixture, f);
  }
  for (const [f, p] of FIXTURE_TO_PUMP) {
    pair.wire(fixture, f, pump, p);
  }
  pair.runPin(fixture, FIXTURE_RUN, pump);

  let stopping = false;
  const shutdown = (code) => {
    if (stopping) {
      return;
    }
    stopping = true;
    if (opt.flash) {
      pump.save(opt.flash);
    }
    if (opt['fixture-flash']) {
      fixture.save(opt['fixture-flash']);
    }
    process.exit(code);
  };
  const servers = [
    [replServer(pump, opt.echo), opt.port, 'REPL'],
    [controlServer(pump, { flashPath: opt.flash, shutdown }), opt.controlPort, 'control'],
    [replServer(fixture, opt.echo), opt.fixturePort, 'fixture'],
    [
      controlServer(fixture, { flashPath: opt['fixture-flash'], shutdown }),
      opt.fixtureControlPort,
      'fixture control',
    ],
  ];
  for (const [server, port, what] of servers) {
    await listen(server, port, opt.host, what);
  }
  let ready = `vboard: ready socket://${opt.host}:${opt.port} control=${opt.host}:${opt.controlPort}`;
  ready += ` fixture=socket://${opt.host}:${opt.fixturePort}`;
  ready += ` fixture_control=${opt.host}:${opt.fixtureControlPort}`;
  if (opt.protoPort !== null) {
    pump.proto = new ProtoUart(pump, 1);
    pump.proto.attach(pump.chip);
    const server = pump.proto.server();
    await listen(server, opt.protoPort, opt.host, 'protocol (UART1)');
    ready += ` proto=socket://${opt.host}:${server.address().port}`;
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => shutdown(0));
  }
  process.stdout.write(`${ready}\n`);
  pair.wake();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
