// Control channel: newline-delimited JSON, one reply line per request, in request order.
import { createServer } from 'node:net';
import { NUM_PINS } from './board.mjs';
import { HX711, MODES, RAW_MAX, RAW_MIN } from './hx711.mjs';

class RequestError extends Error {}

function int(req, key, { min = 0, max = Number.MAX_SAFE_INTEGER, dflt } = {}) {
  const value = req[key] ?? dflt;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RequestError(`"${key}" must be a number in ${min}..${max}`);
  }
  return value;
}

const pinOf = (req) => int(req, 'pin', { max: NUM_PINS - 1 });

/** Runs the simulation (full speed) until host time `abs`, then calls fn at exactly that time. */
function runTo(board, abs, fn) {
  return new Promise((resolve) => {
    board.runners++;
    board.changed();
    board.at(Math.max(abs, board.now()), (t) => {
      const reply = fn(t);
      board.runners--;
      board.changed();
      resolve(reply);
    });
  });
}

/** Applies fn now, or at host time at_ns when the request has one. */
function nowOrAt(board, req, fn) {
  if (req.at_ns === undefined) {
    fn();
    return { time_ns: Math.round(board.now()) };
  }
  const at = int(req, 'at_ns');
  board.at(at, fn);
  return { time_ns: Math.round(board.now()), at_ns: at };
}

const COMMANDS = {
  time: (board) => ({ time_ns: Math.round(board.now()) }),
  status: (board) => ({
    time_ns: Math.round(board.now()),
    running: board.go,
    paced: board.go && board.paced,
    repl_clients: board.replClients,
    resets: board.resets,
    flash_busy: board.frozen,
    flash: board.flashStats,
    instructions: board.instructions,
  }),
  pins: (board) => ({ pins: board.pins() }),
  count: (board, req) => {
    const pin = pinOf(req);
    return { pin, count: board.logs[pin].count };
  },
  edges: (board, req) => {
    const pin = pinOf(req);
    const since = int(req, 'since_ns', { dflt: 0 });
    const until = req.until_ns === undefined ? Infinity : int(req, 'until_ns');
    const limit = int(req, 'limit', { dflt: 1_000_000 });
    const log = board.logs[pin];
    return {
      pin,
      rising: log.rising.range(since, until, limit),
      falling: log.falling.range(since, until, limit),
      dropped: log.rising.dropped + log.falling.dropped,
    };
  },
  clear: (board, req) => {
    const pins = req.pin === undefined ? board.logs.keys() : [pinOf(req)];
    for (const pin of pins) {
      board.logs[pin].clear();
    }
    return { time_ns: Math.round(board.now()) };
  },
  set_input: (board, req) => {
    const pin = pinOf(req);
    const value = int(req, 'value', { max: 1 });
    return nowOrAt(board, req, () => board.setInput(pin, value));
  },
  set_adc: (board, req) => {
    const channel = int(req, 'channel', { max: 4 });
    const raw = int(req, 'raw', { max: 4095 });
    return nowOrAt(board, req, () => board.setAdc(channel, raw));
  },
  hx711: (board, req) => {
    // attach (dout + sck), detach, then counts and/or mode now or at at_ns; replies status
    if (req.detach) {
      if (board.hx711) {
        board.hx711.detach();
        board.watch(board.hx711.sck, null);
        board.hx711 = null;
      }
      return { attached: false };
    }
    if (req.dout !== undefined || req.sck !== undefined) {
      const dout = int(req, 'dout', { max: NUM_PINS - 1 });
      const sck = int(req, 'sck', { max: NUM_PINS - 1 });
      if (dout === sck) {
        throw new RequestError('"dout" and "sck" must be different pins');
      }
      if (board.hx711) {
        board.hx711.detach();
        board.watch(board.hx711.sck, null);
      }
      board.hx711 = new HX711(board, dout, sck);
      board.watch(sck, (level, t) => board.hx711?.sckChanged(level, t));
    }
    const hx = board.hx711;
    if (!hx) {
      throw new RequestError('no HX711 attached: give "dout" and "sck" first');
    }
    const counts = req.counts === undefined ? undefined : int(req, 'counts', {
      min: RAW_MIN,
      max: RAW_MAX,
    });
    if (req.mode !== undefined && !MODES.includes(req.mode)) {
      throw new RequestError(`"mode" must be one of ${MODES.join(', ')}`);
    }
    const apply = () => {
      if (counts !== undefined) {
        hx.counts = counts;
      }
      if (req.mode !== undefined) {
        hx.setMode(req.mode);
      }
    };
    if (counts === undefined && req.mode === undefined) {
      return hx.status();
    }
    return { ...nowOrAt(board, req, apply), ...hx.status() };
  },
  screen: (board) => {
    // what the OLED's glass shows (ssd1306.mjs): 1024 bytes in the canvas's page layout
    const { panel } = board;
    return {
      time_ns: Math.round(board.now()),
      width: 128,
      height: 64,
      screen: Buffer.from(panel.screen()).toString('base64'),
      ram: Buffer.from(panel.ram).toString('base64'),
      ...panel.status(),
    };
  },
  display: (board, req) => {
    // the OLED's faults: nack 1 = it stops answering on I2C (unplugged), 0 = back;
    // power_reset 1 = it loses its supply for a moment (back at its reset state)
    const nack = req.nack === undefined ? undefined : int(req, 'nack', { max: 1 });
    const reset = int(req, 'power_reset', { max: 1, dflt: 0 });
    const apply = () => {
      if (nack !== undefined) {
        board.panel.nack = !!nack;
      }
      if (reset) {
        board.panel.powerReset();
      }
    };
    return { ...nowOrAt(board, req, apply), ...board.panel.status() };
  },
  run: (board, req) => {
    const ns = int(req, 'ns');
    return runTo(board, board.now() + ns, (t) => ({ time_ns: Math.round(t) }));
  },
  reset: (board) => {
    board.resetNow('reset');
    return { time_ns: Math.round(board.now()) };
  },
  power_cut: (board, req, ctx) => {
    const at = int(req, 'at_ns', { dflt: board.now() });
    return runTo(board, at, (t) => {
      const snapshot = board.flashBytes().slice(); // a program/erase in progress is lost
      const saved = ctx.flashPath ?? null;
      if (saved) {
        board.save(saved);
      }
      board.requestReboot('power cut', true, snapshot);
      return { time_ns: Math.round(t), saved };
    });
  },
  save_flash: (board, req, ctx) => {
    const path = req.path ?? ctx.flashPath;
    if (typeof path !== 'string' || !path) {
      throw new RequestError('save_flash needs "path" (the bridge has no --flash file)');
    }
    board.save(path);
    return { path };
  },
  quit: (board, req, ctx) => {
    setImmediate(() => ctx.shutdown(0));
    return {};
  },
};

async function handle(board, line, ctx) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not valid JSON' };
  }
  const id = req && typeof req === 'object' ? req.id : undefined;
  const fn = COMMANDS[req?.cmd];
  try {
    if (!fn) {
      throw new RequestError(`unknown cmd ${JSON.stringify(req?.cmd)}`);
    }
    const reply = await fn(board, req, ctx);
    return { ok: true, ...(id === undefined ? {} : { id }), ...reply };
  } catch (err) {
    if (!(err instanceof RequestError)) {
      process.stderr.write(`vboard: error: ${err.stack}\n`);
    }
    return { ok: false, ...(id === undefined ? {} : { id }), error: err.message };
  }
}

export function controlServer(board, ctx) {
  return createServer((sock) => {
    sock.setNoDelay(true);
    sock.setEncoding('utf8');
    let buffered = '';
    let queue = Promise.resolve();
    sock.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) {
          queue = queue.then(async () => {
            const reply = await handle(board, line, ctx);
            if (!sock.destroyed) {
              sock.write(`${JSON.stringify(reply)}\n`);
            }
          });
        }
      }
    });
    sock.on('error', () => {});
  });
}
