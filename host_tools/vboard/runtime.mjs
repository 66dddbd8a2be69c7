// What every virtual-board main (bridge.mjs, pair.mjs) shares: the command line, the boot
// ROM, the boards' REPL, control and protocol ports, the ready line, and shutdown. A main
// parses its options, builds its boards with Runtime.board, puts them in one Scheduler, serves
// them and calls run(). Errors before the ready line are one `vboard: error:` line, status 2.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
export const ROM_SIZE = 16 * 1024;

export function fail(message) {
  process.stderr.write(`vboard: error: ${message}\n`);
  process.exit(2);
}

if (Number(process.versions.node.split('.')[0]) < 20) {
  fail(`node ${process.versions.node} is too old: the bridge needs node 20 or later`);
}

/** The options every main takes, beside its own. */
const COMMON = {
  image: { type: 'string' },
  flash: { type: 'string' },
  fresh: { type: 'boolean', default: false },
  bootrom: { type: 'string', default: resolve(REPO, '.cache/bootrom/bootrom.bin') },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '2217' },
  'control-port': { type: 'string' },
  'proto-port': { type: 'string' }, // UART1 (the pump protocol) on TCP; 0: any free port
  pace: { type: 'string', default: 'realtime' },
  seed: { type: 'string' },
  echo: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
};

/** A TCP port number from an option's text (fails with the option's name). */
export function tcpPort(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    fail(`${name} must be a TCP port number`);
  }
  return value;
}

/** Fails unless option `key` is one of `choices`. */
export function oneOf(parsed, key, choices) {
  if (!choices.includes(parsed[key])) {
    fail(`--${key} must be ${choices.join(' or ')}`);
  }
}

/**
 * The command line: COMMON and `own` options, checked. --help prints `usage` and exits.
 * Adds port, controlPort (default port + 1) and protoPort (null: none; 0: any free one).
 */
export function options(usage, own) {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...COMMON, ...own } }).values;
  } catch (err) {
    fail(`${err.message}\n${usage}`);
  }
  if (parsed.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const port = tcpPort('--port', parsed.port);
  const controlPort = tcpPort('--control-port', parsed['control-port'] ?? port + 1);
  oneOf(parsed, 'pace', ['realtime', 'max']);
  if (parsed.seed !== undefined && !/^[0-9]{1,19}$/.test(parsed.seed)) {
    fail('--seed must be a non-negative integer');
  }
  let protoPort = null;
  if (parsed['proto-port'] !== undefined) {
    protoPort = Number(parsed['proto-port']);
    if (!Number.isInteger(protoPort) || protoPort < 0 || protoPort > 65535) {
      fail('--proto-port must be a TCP port number (0: any free one)');
    }
  }
  return { ...parsed, port, controlPort, protoPort };
}

/** The boot ROM, padded to the chip's 16 KB; a larger file is refused. */
export function loadRom(path) {
  if (!existsSync(path)) {
    fail(`boot ROM not found: ${path} (build host_tools/vboard/bootrom first)`);
  }
  const bytes = readFileSync(path);
  if (bytes.length > ROM_SIZE) {
    fail(`boot ROM is ${bytes.length} bytes, more than the 16 KB ROM: ${path}`);
  }
  const rom = new Uint8Array(ROM_SIZE);
  rom.set(bytes);
  return new Uint32Array(rom.buffer);
}

export function listen(server, port, host, what) {
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

/** A board's REPL UART on TCP, one client at a time; --echo copies its output to stderr. */
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

/** One process of virtual boards: the parsed options, the ROM, the simulator's modules. */
export class Runtime {
  /** Reads the ROM, then imports rp2040js (so that the errors before need no node_modules). */
  static async load(opt) {
    const rom = loadRom(opt.bootrom);
    const modules = await Promise.all([
      import('./board.mjs'),
      import('./flash.mjs'),
      import('./patches.mjs'),
      import('./control.mjs'),
      import('./protouart.mjs'),
      import('./scheduler.mjs'),
    ]).catch((err) => fail(`cannot load rp2040js (run npm ci in ${HERE}): ${err.message}`));
    return new Runtime(opt, rom, Object.assign({}, ...modules));
  }

  constructor(opt, rom, sim) {
    this.opt = opt;
    this.rom = rom;
    this.sim = sim;
    this.logger = new sim.BridgeLogger(opt.verbose);
    // rp2040js also warns through console (SIO); keep stdout for our own lines
    console.warn = (...args) => this.logger.warn('rp2040js', args.join(' '));
    console.error = (...args) => this.logger.error('rp2040js', args.join(' '));
    this.saves = []; // [board, flash file] saved at shutdown
    this.ready = 'vboard: ready';
    this.stopping = false;
  }

  /** A Board on its flash (`flashPath` saved, image written in, or erased with --fresh). */
  board({ image, flashPath, timing = 'typ', ...rest }) {
    let flash;
    try {
      flash = this.sim.initialFlash({ flashPath, imagePath: image, fresh: this.opt.fresh });
    } catch (err) {
      fail(err.message);
    }
    const { Board, FLASH_TIMING } = this.sim;
    const board = new Board({
      rom: this.rom,
      flash,
      logger: this.logger,
      timing: FLASH_TIMING[timing],
      seed: this.opt.seed ?? null,
      ...rest,
    });
    this.saves.push([board, flashPath]);
    return board;
  }

  scheduler(boards) {
    return new this.sim.Scheduler(boards, this.opt.pace);
  }

  /** Saves the flash files and exits (once). */
  shutdown(code) {
    if (this.stopping) {
      return;
    }
    this.stopping = true;
    for (const [board, path] of this.saves) {
      if (path) {
        board.save(path);
      }
    }
    process.exit(code);
  }

  /**
   * Listens for a board's REPL on `port` and its control channel on `controlPort`. The first
   * board is the ready line's `socket://` and `control=`, another its `NAME=socket://` and
   * `NAME_control=`.
   */
  async serve(board, port, controlPort, flashPath, name = null) {
    const { host, echo } = this.opt;
    const ctx = { flashPath, shutdown: (code) => this.shutdown(code) };
    const control = this.sim.controlServer(board, ctx);
    await listen(replServer(board, echo), port, host, name ?? 'REPL');
    await listen(control, controlPort, host, name ? `${name} control` : 'control');
    this.ready += name
      ? ` ${name}=socket://${host}:${port} ${name}_control=${host}:${controlPort}`
      : ` socket://${host}:${port} control=${host}:${controlPort}`;
  }

  /** The board's UART1, the pump protocol, on TCP (--proto-port; 0: any free port). */
  async serveProto(board) {
    const { host, protoPort } = this.opt;
    board.proto = new this.sim.ProtoUart(board, 1);
    board.proto.attach(board.chip);
    const server = board.proto.server();
    await listen(server, protoPort, host, 'protocol (UART1)');
    this.ready += ` proto=socket://${host}:${server.address().port}`;
  }

  /** Prints the ready line and lets the boards run until a signal or `quit`. */
  run(scheduler) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(signal, () => this.shutdown(0));
    }
    process.stdout.write(`${this.ready}\n`);
    scheduler.wake();
  }
}
