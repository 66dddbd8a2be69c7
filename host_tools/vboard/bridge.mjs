#!/usr/bin/env node
// Virtual Pico bridge: our MicroPython rp2 image on rp2040js, with its UART REPL on a TCP
// port (for mpremote socket://) and a JSON control channel on the next port.
// See README.md for the protocol and the time model; runtime.mjs for what the mains share.
import { existsSync } from 'node:fs';
import { Runtime, fail, oneOf, options } from './runtime.mjs';

const USAGE = `usage: node bridge.mjs [--image FIRMWARE.bin] [--flash FLASH.bin] [--fresh]
  [--bootrom ROM.bin] [--host 127.0.0.1] [--port 2217] [--control-port PORT+1]
  [--free-run] [--pace realtime|max] [--flash-timing typ|none] [--uart 0|1]
  [--repl-uart instant|wire] [--seed N] [--pio-step] [--proto-port N] [--echo] [--verbose]`;

function bridgeOptions() {
  const opt = options(USAGE, {
    'free-run': { type: 'boolean', default: false },
    'flash-timing': { type: 'string', default: 'typ' },
    uart: { type: 'string', default: '0' },
    'repl-uart': { type: 'string', default: 'instant' },
    'pio-step': { type: 'boolean', default: false },
  });
  oneOf(opt, 'flash-timing', ['typ', 'none']);
  oneOf(opt, 'uart', ['0', '1']);
  oneOf(opt, 'repl-uart', ['instant', 'wire']);
  if (opt.protoPort !== null && opt.uart === '1') {
    fail('--proto-port needs UART1, which --uart 1 gives to the REPL');
  }
  if (opt.image && !existsSync(opt.image)) {
    fail(`firmware image not found: ${opt.image}`);
  }
  const haveSaved = opt.flash && !opt.fresh && existsSync(opt.flash);
  if (!opt.image && !haveSaved) {
    fail('no firmware: give --image FIRMWARE.bin (or --flash with a saved flash image)');
  }
  return opt;
}

async function main() {
  const opt = bridgeOptions();
  const rt = await Runtime.load(opt);
  const board = rt.board({
    image: opt.image,
    flashPath: opt.flash,
    timing: opt['flash-timing'],
    uartIndex: Number(opt.uart),
    freeRun: opt['free-run'],
    replWire: opt['repl-uart'] === 'wire',
    pioSkip: !opt['pio-step'], // countdown loops in one go unless --pio-step (for comparison)
  });
  const scheduler = rt.scheduler([board]);
  await rt.serve(board, opt.port, opt.controlPort, opt.flash);
  if (opt.protoPort !== null) {
    await rt.serveProto(board);
  }
  rt.run(scheduler);
}

main();
