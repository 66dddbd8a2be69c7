#!/usr/bin/env node
// Two virtual Picos wired board to board in one simulated time base: the pump (its real
// image) and the bench fixture (a plain MicroPython image running hil/fixture/). Each board
// has its REPL UART on a TCP port and its JSON control channel on the next port, as with
// bridge.mjs; the fixture's REPL UART is the fixture's host channel (its USB on a real bench).
//
// Time. One Scheduler (scheduler.mjs) runs both chips in one time base, the board due first
// stepping first; a pin change reaches the other board at the sender's time, at most 1 us
// late. Pacing is bridge.mjs's: halted while nothing needs time, full speed during a control
// `run`, paced to wall time while a client is connected (the bench rig keeps the fixture's
// channel open, so the pair runs like two powered boards on a desk).
//
// Wires (hil/fixture/BENCH.md): pump STEP/DIR/EN/PD_SCK -> fixture inputs; fixture DOUT and
// syringe switch -> pump inputs; fixture GP22 driven low -> the pump's RUN pin: the pump is
// held in reset (a fresh chip whose core does not run) and boots afresh when it is released.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime, fail, oneOf, options, tcpPort } from './runtime.mjs';

// [pump GPIO, fixture GPIO]: hil/fixture/BENCH.md
export const PUMP_TO_FIXTURE = [
  [2, 10], // STEP
  [3, 11], // DIR
  [4, 12], // EN
  [17, 13], // HX711 PD_SCK
  [19, 16], // MARK: a spare line a test pulses (the fixture can cut the power on it)
  [15, 17], // alarm buzzer
  [13, 18], // alarm LED, red
  [14, 19], // alarm LED, green
];
export const FIXTURE_TO_PUMP = [
  [14, 16], // HX711 DOUT
  [15, 18], // syringe switch
];
export const FIXTURE_RUN = 22; // open drain to the pump's RUN pin

const USAGE = `usage: node pair.mjs --image PUMP.bin --fixture-image FIXTURE.bin [--flash F]
  [--fixture-flash F] [--fresh] [--bootrom ROM.bin] [--host 127.0.0.1] [--port 2217]
  [--control-port PORT+1] [--fixture-port PORT+3] [--fixture-control-port FIXTURE_PORT+1]
  [--fixture-uart 1] [--proto-port N] [--pace realtime|max] [--seed N] [--echo] [--verbose]`;

function pairOptions() {
  const opt = options(USAGE, {
    'fixture-image': { type: 'string' },
    'fixture-flash': { type: 'string' },
    'fixture-port': { type: 'string' },
    'fixture-control-port': { type: 'string' },
    'fixture-uart': { type: 'string', default: '1' },
  });
  const fixturePort = tcpPort('--fixture-port', opt['fixture-port'] ?? opt.port + 3);
  const fixtureControlPort = tcpPort(
    '--fixture-control-port',
    opt['fixture-control-port'] ?? fixturePort + 1,
  );
  oneOf(opt, 'fixture-uart', ['0', '1']);
  for (const key of ['image', 'fixture-image']) {
    if (!opt[key] || !existsSync(opt[key])) {
      fail(`firmware image not found: ${opt[key] ?? `(give --${key})`}`);
    }
  }
  return { ...opt, fixturePort, fixtureControlPort };
}

/** The fixture's open-drain pin to the pump's RUN: driven low holds the pump in reset. */
function runPin(scheduler, fixture, pin, pump) {
  fixture.watch(pin, (_level, t) => {
    const p = fixture.chip.gpio[pin];
    const low = p.outputEnable && !p.outputValue;
    scheduler.deliver(
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

async function main() {
  const opt = pairOptions();
  const rt = await Runtime.load(opt);
  const pump = rt.board({ name: 'pump', image: opt.image, flashPath: opt.flash, pioSkip: true });
  const fixture = rt.board({
    name: 'fixture',
    image: opt['fixture-image'],
    flashPath: opt['fixture-flash'],
    uartIndex: Number(opt['fixture-uart']),
    pioSkip: true,
    pollSkip: true, // the fixture's edge timestamper polls its pins (pio-poll.mjs)
  });
  const scheduler = rt.scheduler([pump, fixture]);
  for (const [p, f] of PUMP_TO_FIXTURE) {
    scheduler.wire(pump, p, fixture, f);
  }
  for (const [f, p] of FIXTURE_TO_PUMP) {
    scheduler.wire(fixture, f, pump, p);
  }
  runPin(scheduler, fixture, FIXTURE_RUN, pump);
  await rt.serve(pump, opt.port, opt.controlPort, opt.flash);
  await rt.serve(fixture, opt.fixturePort, opt.fixtureControlPort, opt['fixture-flash'], 'fixture');
  if (opt.protoPort !== null) {
    await rt.serveProto(pump);
  }
  rt.run(scheduler);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
