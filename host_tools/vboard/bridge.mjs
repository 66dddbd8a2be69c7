#!/usr/bin/env node
// Virtual Pico bridge: our MicroPython rp2 image on rp2040js, with its UART REPL on a TCP
// port (for mpremote socket://) and a JSON control channel on the next port.
// See README.md for the protocol and the time model.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const ROM_SIZE = 16 * 1024;

function fail(message) {
  process.stderr.write(`vboard: error: ${message}\n`);
  process.exit(2);
}

if (Number(process.versions.node.split('.')[0]) < 20) {
  fail(`node ${process.versions.node} is too old: the bridge needs node 20 or later`);
}

const USAGE = `usage: node bridge.mjs [--image FIRMWARE.bin] [--flash FLASH.bin] [--fresh]
  [--bootrom ROM.bin] [--host 127.0.0.1] [--port 2217] [--control-port PORT+1]
  [--free-run] [--pace realtime|max] [--flash-timing typ|none] [--uart 0|1]
  [--repl-uart instant|wire] [--seed N] [--pio-step] [--proto-port N] [--echo] [--verbose]`;

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        image: { type: 'string' },
        flash: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        bootrom: { type: 'string', default: resolve(REPO, '.cache/bootrom/bootrom.bin') },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '2217' },
        'control-port': { type: 'string' },
        'free-run': { type: 'boolean', default: false },
        pace: { type: 'string', default: 'realtime' },
        'flash-timing': { type: 'string', default: 'typ' },
        uart: { type: 'string', default: '0' },
        'repl-uart': { type: 'string', default: 'instant' },
        seed: { type: 'string' },
        'pio-step': { type: 'boolean', default: false },
        'proto-port': { type: 'string' }, // UART1 (the pump protocol) on TCP; 0: any free port
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
  for (const [name, value] of [['--port', port], ['--control-port', controlPort]]) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      fail(`${name} must be a TCP port number`);
    }
  }
  if (!['realtime', 'max'].includes(parsed.pace)) {
    fail('--pace must be realtime or max');
  }
  if (!['typ', 'none'].includes(parsed['flash-timing'])) {
    fail('--flash-timing must be typ or none');
  }
  if (!['0', '1'].includes(parsed.uart)) {
    fail('--uart must be 0 or 1');
  }
  if (!['instant', 'wire'].includes(parsed['repl-uart'])) {
    fail('--repl-uart must be instant or wire');
  }
  if (parsed.seed !== undefined && !/^[0-9]{1,19}$/.test(parsed.seed)) {
    fail('--seed must be a non-negative integer');
  }
  const protoPort = parsed['proto-port'] === undefined ? null : Number(parsed['proto-port']);
  const badPort = !Number.isInteger(protoPort) || protoPort < 0 || protoPort > 65535;
  if (protoPort !== null && badPort) {
    fail('--proto-port must be a TCP port number (0: any free one)');
  }
  if (protoPort !== null && parsed.uart === '1') {
    fail('--proto-port needs UART1, which --uart 1 gives to the REPL');
  }
  return { ...parsed, port, controlPort, protoPort };
}

function loadRom(path) {
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

async function main() {
  const opt = options();
  if (opt.image && !existsSync(opt.image)) {
    fail(`firmware image not found: ${opt.image}`);
  }
  const haveSaved = opt.flash && !opt.fresh && existsSync(opt.flash);
  if (!opt.image && !haveSaved) {
    fail('no firmware: give --image FIRMWARE.bin (or --flash with a saved flash image)');
  }
  const rom = loadRom(opt.bootrom);
  // rp2040js is imported only now, so that the errors above need no node_modules
  const [
    { Board },
    { FLASH_TIMING, initialFlash },
    { BridgeLogger },
    { controlServer },
    { ProtoUart },
  ] = await Promise.all([
    import('./board.mjs'),
    import('./flash.mjs'),
    import('./patches.mjs'),
    import('./control.mjs'),
    import('./protouart.mjs'),
  ]).catch((err) => fail(`cannot load rp2040js (run npm ci in ${HERE}): ${err.message}`));

  let flash;
  try {
    flash = initialFlash({ flashPath: opt.flash, imagePath: opt.image, fresh: opt.fresh });
  } catch (err) {
    fail(err.message);
  }
  const logger = new BridgeLogger(opt.verbose);
  // rp2040js also warns through console (SIO); keep stdout for our own lines
  console.warn = (...args) => logger.warn('rp2040js', args.join(' '));
  console.error = (...args) => logger.error('rp2040js', args.join(' '));
  const board = new Board({
    rom,
    flash,
    logger,
    timing: FLASH_TIMING[opt['flash-timing']],
    uartIndex: Number(opt.uart),
    freeRun: opt['free-run'],
    pace: opt.pace,
    seed: opt.seed ?? null,
    replWire: opt['repl-uart'] === 'wire',
    pioSkip: !opt['pio-step'], // countdown loops in one go unless --pio-step (for comparison)
  });

  let client = null;
  board.onOutput = (data) => {
    client?.write(data);
    if (opt.echo) {
      process.stderr.write(data);
    }
  };
  const repl = createServer((sock) => {
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

  let stopping = false;
  const ctx = {
    flashPath: opt.flash,
    shutdown(code) {
      if (stopping) {
        return;
      }
      stopping = true;
      if (opt.flash) {
        board.save(opt.flash);
      }
      process.exit(code);
    },
  };
  const control = controlServer(board, ctx);
  await listen(repl, opt.port, opt.host, 'REPL');
  await listen(control, opt.controlPort, opt.host, 'control');
  let ready = `vboard: ready socket://${opt.host}:${opt.port}`;
  ready += ` control=${opt.host}:${opt.controlPort}`;
  if (opt.protoPort !== null) {
    board.proto = new ProtoUart(board, 1);
    board.proto.attach(board.chip);
    const server = board.proto.server();
    await listen(server, opt.protoPort, opt.host, 'protocol (UART1)');
    ready += ` proto=socket://${opt.host}:${server.address().port}`;
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => ctx.shutdown(0));
  }
  process.stdout.write(`${ready}\n`);
  board.wake();
}

main();
