// Calls every entry of our boot ROM inside rp2040js and compares it with a JS reference.
// Run: node --test host_tools/vboard/bootrom/test/   (after bootrom/build.sh and `npm ci` in
// host_tools/vboard). BOOTROM=path overrides the image. tests/test_bootrom.py runs it in pytest.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
// Node resolves this by walking up from this file, so it is the bridge's own copy in
// host_tools/vboard/node_modules (the first test makes sure of that).
import { RP2040 } from 'rp2040js';

const VBOARD = new URL('../../', import.meta.url);
const ROM_PATH =
  process.env.BOOTROM || fileURLToPath(new URL('../../.cache/bootrom/bootrom.bin', VBOARD));
if (!existsSync(ROM_PATH)) {
  throw new Error(`${ROM_PATH} not found: build it with bash host_tools/vboard/bootrom/build.sh`);
}
const rom = readFileSync(ROM_PATH);

// ---- calling a ROM function on the emulated core ----

const mcu = new RP2040(); // not Simulator: its constructor would claim onBreak
mcu.loadBootrom(new Uint32Array(rom.buffer, rom.byteOffset, rom.length / 4));
const core = mcu.core;
const RETURN = 0x20000000; // a `bkpt #0x7f` the called function returns to
const RAM = 0x20010000; // scratch buffers for the memory functions
const STACK = 0x20040000;
mcu.writeUint16(RETURN, 0xbe7f);

let returned = false;
let traps = []; // every other bkpt: {code, regs r0-r3, pc} as onBreak saw them
mcu.onBreak = (code) => {
  if (code === 0x7f) returned = true;
  else traps.push({ code, regs: [0, 1, 2, 3].map((i) => core.registers[i] >>> 0), pc: core.PC });
};

const hex = (v) => `0x${(v >>> 0).toString(16)}`;
const R12 = 0x12345678;
const SAVED = [4, 5, 6, 7, 8, 9, 10, 11]; // AAPCS callee-saved registers

// Runs fn(args) until it returns or `limit` instructions have run.
function run(fn, args = [], limit = 5e6) {
  for (let i = 0; i < 4; i++) core.registers[i] = (args[i] ?? 0) >>> 0;
  for (const r of SAVED) core.registers[r] = (0xc0de0000 + r) >>> 0;
  core.registers[12] = R12;
  core.SP = STACK;
  core.LR = RETURN | 1;
  core.PC = fn & ~1;
  core.waiting = false;
  returned = false;
  traps = [];
  for (let n = 0; n < limit && !returned; n++) core.executeInstruction();
  return returned;
}

// Calls fn and returns r0-r3; a runaway or an AAPCS violation is an error.
function call(fn, args = []) {
  const name = `function at ${hex(fn)}(${args.map(hex)})`;
  if (!run(fn, args)) throw new Error(`${name} did not return`);
  if (core.SP >>> 0 !== STACK) throw new Error(`${name} left sp at ${hex(core.SP)}`);
  for (const r of SAVED) {
    if (core.registers[r] >>> 0 !== (0xc0de0000 + r) >>> 0) {
      throw new Error(`${name} clobbered r${r}`);
    }
  }
  return [0, 1, 2, 3].map((i) => core.registers[i] >>> 0);
}

// ---- ROM layout, read in JS (independent of the ROM's own lookup function) ----

const h16 = (addr) => rom.readUInt16LE(addr);
const code16 = (c) => c.charCodeAt(0) | (c.charCodeAt(1) << 8);
function walkTable(addr) {
  const entries = new Map();
  for (; h16(addr); addr += 4) entries.set(h16(addr), h16(addr + 2));
  return entries;
}
const FUNC_TABLE = h16(0x14);
const DATA_TABLE = h16(0x16);
const funcTable = walkTable(FUNC_TABLE);
const dataTable = walkTable(DATA_TABLE);
const entry = (c) => funcTable.get(code16(c)) ?? assert.fail(`no ${c} in the function table`);
const SF = dataTable.get(code16('SF'));
const SD = dataTable.get(code16('SD'));
const sf = (off, args) => call(rom.readUInt32LE(SF + off), args);
const sd = (off, args) => call(rom.readUInt32LE(SD + off), args);

// ---- collecting checks: a test reports every mismatch, not just the first ----

function checker(t) {
  let count = 0;
  const fails = [];
  const show = (v) => (typeof v === 'number' && Object.is(v, -0) ? '-0' : String(v));
  return {
    // equal (same -0/NaN), or within a relative tolerance
    eq(name, got, want, rel = 0) {
      count++;
      const ok = Object.is(got, want) ||
        (rel > 0 && Math.abs(got - want) <= rel * Math.max(Math.abs(want), 1e-300));
      if (!ok) fails.push(`${name}: got ${show(got)}, want ${show(want)}`);
    },
    bytes(name, got, want) {
      count++;
      const i = want.findIndex((b, k) => b !== got[k]);
      if (i >= 0) fails.push(`${name}: byte ${i} is ${hex(got[i])}, want ${hex(want[i])}`);
    },
    done() {
      assert.ok(count > 0, 'no checks ran');
      t.diagnostic(`${count} checks`);
      if (fails.length) {
        const more = fails.length > 30 ? `\n... and ${fails.length - 30} more` : '';
        const shown = fails.slice(0, 30).join('\n');
        assert.fail(`${fails.length} of ${count} checks failed:\n${shown}${more}`);
      }
    },
  };
}

// ---- references ----

const buf = new DataView(new ArrayBuffer(8));
const fbits = (x) => (buf.setFloat32(0, x, true), buf.getUint32(0, true));
const bitsf = (u) => (buf.setUint32(0, u, true), buf.getFloat32(0, true));
const dbits = (x) => (buf.setFloat64(0, x, true), [buf.getUint32(0, true), buf.getUint32(4, true)]);
const bitsd = (lo, hi) => (
  buf.setUint32(0, lo, true), buf.setUint32(4, hi, true), buf.getFloat64(0, true));
// The RP2040 ROM has no denormals: inputs read as zero and results flush to zero.
const ftz = (x) => (x !== 0 && Math.abs(x) < 2 ** -126 ? (x < 0 ? -0 : 0) : x);
const dftz = (x) => (x !== 0 && Math.abs(x) < 2 ** -1022 ? (x < 0 ? -0 : 0) : x);
const f32 = (x) => ftz(Math.fround(x)); // a JS double as the ROM sees that float
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

const u64 = (lo, hi) => (BigInt(hi) << 32n) | BigInt(lo);
const split64 = (b) => {
  const u = BigInt.asUintN(64, b);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
};

// floor(x * 2^n) saturated to the integer type: the ROM's rounding for every float-to-fixed entry
function toFix(x, n, signed, bits) {
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = (1n << BigInt(signed ? bits - 1 : bits)) - 1n;
  if (x === Infinity) return hi;
  if (x === -Infinity) return lo;
  const v = BigInt(Math.floor(x * 2 ** n)); // exact: scaling by 2^n, then an integral double
  return v < lo ? lo : v > hi ? hi : v;
}

// A BigInt to the nearest value with `mant` significant bits, ties to even, without the double
// rounding Math.fround(Number(b)) would do.
function roundBig(b, mant) {
  const neg = b < 0n;
  let m = neg ? -b : b;
  const shift = Math.max(0, m.toString(2).length - mant);
  if (shift) {
    const rem = m & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    m >>= BigInt(shift);
    if (rem > half || (rem === half && m & 1n)) m += 1n;
  }
  const x = Number(m) * 2 ** shift;
  return neg ? -x : x;
}

// Deterministic "random" words (xorshift32), so a failure reproduces.
function words(count, seed = 0x2040) {
  const out = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push(x >>> 0);
  }
  return out;
}

// `count` 64-bit values: low words from the default seed, high words from `seed`
function pairs64(count, seed) {
  const high = words(count, seed);
  return words(count).map((w, i) => u64(w, high[i]));
}

// ---- tests ----

test('uses the bridge\'s pinned rp2040js', () => {
  const resolved = fileURLToPath(import.meta.resolve('rp2040js'));
  const own = fileURLToPath(new URL('node_modules/rp2040js/', VBOARD));
  assert.ok(resolved.startsWith(own), `rp2040js resolved to ${resolved}, not under ${own}`);
  const pinned = JSON.parse(readFileSync(new URL('package.json', VBOARD))).dependencies.rp2040js;
  const installed = JSON.parse(readFileSync(new URL('node_modules/rp2040js/package.json', VBOARD)));
  assert.equal(installed.version, pinned);
});

test('header, vectors and table lookup', (t) => {
  const c = checker(t);
  c.eq('initial SP', rom.readUInt32LE(0), 0x20042000);
  c.eq('reset vector Thumb bit', rom.readUInt32LE(4) & 1, 1);
  c.eq('magic', rom.toString('latin1', 0x10, 0x13), 'Mu\x01');
  c.eq('version', rom[0x13], 3);
  c.eq('lookup Thumb bit', h16(0x18) & 1, 1);

  const lookup = (table, code) => call(h16(0x18), [table, code])[0];
  const wanted = 'P3 L3 T3 R3 MS MC S4 C4 IF EX FC CX RE RP UB'.split(' '); // what 1.25 looks up
  for (const name of wanted) {
    const ptr = lookup(FUNC_TABLE, code16(name));
    c.eq(`lookup ${name} = table entry`, ptr, funcTable.get(code16(name)) ?? 0);
    c.eq(`${name} is Thumb code inside the ROM`, (ptr & 1) === 1 && ptr < rom.length, true);
  }
  for (const name of ['SF', 'SD']) {
    const ptr = lookup(DATA_TABLE, code16(name));
    c.eq(`lookup data ${name} = table entry`, ptr, dataTable.get(code16(name)) ?? 0);
    c.eq(`${name} word-aligned`, ptr !== 0 && ptr % 4 === 0, true);
    // pico-sdk reads the word count at table - 2, the datasheet at table - 1
    c.eq(`${name} size at -2`, rom[ptr - 2], 32);
    c.eq(`${name} size at -1`, rom[ptr - 1], 32);
    for (let off = 0; off < 0x80; off += 4) {
      const word = rom.readUInt32LE(ptr + off);
      const ok = (word & 1) === 1 && word < rom.length;
      c.eq(`${name}[${hex(off)}] is Thumb code inside the ROM`, ok, true);
    }
  }
  c.eq('lookup of a missing code', lookup(FUNC_TABLE, code16('ZZ')), 0);
  c.eq('lookup of a function code in the data table', lookup(DATA_TABLE, code16('P3')), 0);
  c.done();
});

test('bit functions match JS and preserve r12', (t) => {
  const c = checker(t);
  const pop = (x) => {
    let n = 0;
    for (; x; x >>>= 1) n += x & 1;
    return n;
  };
  const rev = (x) => {
    let r = 0;
    for (let i = 0; i < 32; i++) r = r * 2 + ((x >>> i) & 1);
    return r;
  };
  const ctz = (x) => (x === 0 ? 32 : 31 - Math.clz32(x & -x));
  const refs = { P3: pop, L3: Math.clz32, T3: ctz, R3: rev };
  const vals = [0, 1, 2, 3, 0x80000000, 0xffffffff, 0x12345678, 0x00f00000, 0x7fffffff, 0x100,
    0xdeadbeef];
  for (const v of [...vals, ...words(200)]) {
    for (const [name, ref] of Object.entries(refs)) {
      c.eq(`${name}(${hex(v)})`, call(entry(name), [v])[0], ref(v));
      c.eq(`${name}(${hex(v)}) r12`, hex(core.registers[12]), hex(R12));
    }
  }
  c.done();
});

test('memset and memcpy at every alignment', (t) => {
  const c = checker(t);
  const fill = (addr, bytes) => bytes.forEach((b, i) => mcu.writeUint8(addr + i, b));
  const read = (addr, n) => Array.from({ length: n }, (_, i) => mcu.readUint8(addr + i));
  const lengths = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 99, 100];

  // memset4 and memcpy44 want word-aligned pointers; ours share the general code, so any length
  for (const [name, offsets] of [['MS', [0, 1, 2, 3]], ['S4', [0]]]) {
    for (const off of offsets) {
      for (const n of lengths) {
        fill(RAM, new Array(140).fill(0xaa));
        const r = call(entry(name), [RAM + off, 0x1c5, n])[0]; // only the low byte of c counts
        c.eq(`${name} off=${off} n=${n} returns dst`, r, RAM + off);
        const want = Array.from({ length: 140 }, (_, i) => (i >= off && i < off + n ? 0xc5 : 0xaa));
        c.bytes(`${name} off=${off} n=${n}`, read(RAM, 140), want);
      }
    }
  }

  const SRC = RAM, DST = RAM + 0x100;
  const src = Array.from({ length: 128 }, (_, i) => (i * 7 + 1) & 0xff);
  for (const [name, offsets] of [['MC', [0, 1, 2, 3]], ['C4', [0]]]) {
    for (const so of offsets) {
      for (const dof of offsets) {
        for (const n of lengths) {
          fill(SRC, src);
          fill(DST, new Array(128).fill(0xee));
          const r = call(entry(name), [DST + dof, SRC + so, n])[0];
          const tag = `${name} src+${so} dst+${dof} n=${n}`;
          c.eq(`${tag} returns dst`, r, DST + dof);
          const want = Array.from({ length: 128 },
            (_, i) => (i >= dof && i < dof + n ? src[i - dof + so] : 0xee));
          c.bytes(tag, read(DST, 128), want);
          c.bytes(`${tag} source untouched`, read(SRC, 128), src);
        }
      }
    }
  }
  c.done();
});

test('float table SF', (t) => {
  const c = checker(t);
  const F = (off, args) => bitsf(sf(off, args)[0]);
  const nums = [0, -0, 1, -1, 1.5, -2.75, 3.14159, 1e-3, 123456.7, -1e30, 1e38, 2 ** -126, 1e-40,
    -1e-44, Infinity, -Infinity, 0.1, 7, 1e10, -0.5, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 63, 4e9];
  const SIN = 2e-7; // the scientific entries are within about 1 ulp

  for (const a of nums) {
    for (const b of nums) {
      const [A, B, ab] = [f32(a), f32(b), [fbits(a), fbits(b)]];
      c.eq(`fadd ${a} ${b}`, F(0x00, ab), f32(A + B));
      c.eq(`fsub ${a} ${b}`, F(0x04, ab), f32(A - B));
      c.eq(`fmul ${a} ${b}`, F(0x08, ab), f32(A * B));
      c.eq(`fdiv ${a} ${b}`, F(0x0c, ab), f32(A / B));
      c.eq(`fcmp ${a} ${b}`, sf(0x54, ab)[0] | 0, cmp(A, B));
    }
  }

  const toFixEntries = [ // [offset, name, signed, bits, n]
    [0x1c, 'float2int', true, 32, 0], [0x20, 'float2fix', true, 32, 8],
    [0x24, 'float2uint', false, 32, 0], [0x28, 'float2ufix', false, 32, 4],
    [0x6c, 'float2int64', true, 64, 0], [0x70, 'float2fix64', true, 64, 12],
    [0x74, 'float2uint64', false, 64, 0], [0x78, 'float2ufix64', false, 64, 20],
  ];
  for (const a of nums) {
    const A = f32(a);
    const x = fbits(a);
    c.eq(`fsqrt ${a}`, F(0x18, [x]), A < 0 ? -Infinity : f32(Math.sqrt(A)));
    for (const [off, name, signed, bits, n] of toFixEntries) {
      const [lo, hi] = sf(off, [x, n]);
      const raw = bits === 64 ? u64(lo, hi) : BigInt(lo);
      const got = signed ? BigInt.asIntN(bits, raw) : raw;
      c.eq(`${name}(${a}, ${n})`, got, toFix(A, n, signed, bits));
    }
    const [dlo, dhi] = sf(0x7c, [x]);
    c.eq(`float2double ${a}`, bitsd(dlo, dhi), A);
    if (Number.isFinite(A) && Math.abs(A) < 100) {
      for (const off of [0x40, 0x48]) { // fsin, and the V3 sincos slot: sin in r0, cos in r1
        const [s, co] = sf(off, [x]);
        c.eq(`SF[${hex(off)}] sin ${a}`, bitsf(s), f32(Math.sin(A)), SIN);
        c.eq(`SF[${hex(off)}] cos ${a}`, bitsf(co), f32(Math.cos(A)), SIN);
      }
      c.eq(`fcos ${a}`, F(0x3c, [x]), f32(Math.cos(A)), SIN);
      c.eq(`ftan ${a}`, F(0x44, [x]), f32(Math.tan(A)), SIN);
      c.eq(`fexp ${a}`, F(0x4c, [x]), f32(Math.exp(A)), SIN);
    }
    if (A > 0) c.eq(`fln ${a}`, F(0x50, [x]), f32(Math.log(A)), SIN);
    c.eq(`fatan2 ${a} -0.75`, F(0x58, [x, fbits(-0.75)]), f32(Math.atan2(A, f32(-0.75))), SIN);
  }

  const ints = [0, 1, -1, 7, 123456789, -2147483648, 2147483647, 16777217, 16777219, -33554435];
  for (const v of ints) {
    c.eq(`int2float ${v}`, F(0x2c, [v]), Math.fround(v));
    c.eq(`fix2float ${v} 3`, F(0x30, [v, 3]), Math.fround(v) / 8);
    c.eq(`uint2float ${v >>> 0}`, F(0x34, [v]), Math.fround(v >>> 0));
    c.eq(`ufix2float ${v >>> 0} 2`, F(0x38, [v, 2]), Math.fround(v >>> 0) / 4);
  }
  // 64-bit values past 2^53 catch conversions that round twice (through a double)
  const big = [0n, 1n, -1n, 1000003n * 123456789n, (1n << 62n) + (1n << 38n) + 1n,
    (1n << 63n) + (1n << 39n), (1n << 63n) - 1n, -(1n << 63n), -((1n << 60n) + (1n << 36n) + 1n),
    ...pairs64(24, 99)];
  for (const b of big) {
    const [lo, hi] = split64(b);
    const [s, u] = [BigInt.asIntN(64, b), BigInt.asUintN(64, b)];
    c.eq(`int642float ${s}`, F(0x5c, [lo, hi]), roundBig(s, 24));
    c.eq(`fix642float ${s} 10`, F(0x60, [lo, hi, 10]), roundBig(s, 24) / 1024);
    c.eq(`uint642float ${u}`, F(0x64, [lo, hi]), roundBig(u, 24));
    c.eq(`ufix642float ${u} 7`, F(0x68, [lo, hi, 7]), roundBig(u, 24) / 128);
  }
  c.done();
});

test('double table SD', (t) => {
  const c = checker(t);
  const D = (off, args) => { const [lo, hi] = sd(off, args); return bitsd(lo, hi); };
  const nums = [0, -0, 1, -1, 1.5, Math.PI, -2.5e-300, 1e-310, 123456.789, -1e300, 1e300, 0.1,
    Infinity, -Infinity, 7, 2 ** 31, -(2 ** 31) - 0.5, 2 ** 64, -(2 ** 63), 9.2e18];
  const SIN = 1e-15;

  for (const a of nums) {
    for (const b of nums) {
      const [A, B, ab] = [dftz(a), dftz(b), [...dbits(a), ...dbits(b)]];
      c.eq(`dadd ${a} ${b}`, D(0x00, ab), dftz(A + B));
      c.eq(`dsub ${a} ${b}`, D(0x04, ab), dftz(A - B));
      c.eq(`dmul ${a} ${b}`, D(0x08, ab), dftz(A * B));
      c.eq(`ddiv ${a} ${b}`, D(0x0c, ab), dftz(A / B));
      c.eq(`dcmp ${a} ${b}`, sd(0x54, ab)[0] | 0, cmp(A, B));
    }
  }

  const toFixEntries = [ // [offset, name, signed, bits, n]; n is passed in r2
    [0x1c, 'double2int', true, 32, 0], [0x20, 'double2fix', true, 32, 8],
    [0x24, 'double2uint', false, 32, 0], [0x28, 'double2ufix', false, 32, 4],
    [0x6c, 'double2int64', true, 64, 0], [0x70, 'double2fix64', true, 64, 12],
    [0x74, 'double2uint64', false, 64, 0], [0x78, 'double2ufix64', false, 64, 20],
  ];
  for (const a of nums) {
    const A = dftz(a);
    const x = dbits(a);
    c.eq(`dsqrt ${a}`, D(0x18, x), A < 0 ? -Infinity : Math.sqrt(A));
    for (const [off, name, signed, bits, n] of toFixEntries) {
      const [lo, hi] = sd(off, [...x, n]);
      const raw = bits === 64 ? u64(lo, hi) : BigInt(lo);
      const got = signed ? BigInt.asIntN(bits, raw) : raw;
      c.eq(`${name}(${a}, ${n})`, got, toFix(A, n, signed, bits));
    }
    c.eq(`double2float ${a}`, bitsf(sd(0x7c, x)[0]), f32(A));
    if (Number.isFinite(A) && Math.abs(A) < 1000) {
      for (const off of [0x40, 0x48]) { // dsin and V3 dsincos: sin in r0:r1, cos in r2:r3
        const [sl, sh, cl, ch] = sd(off, x);
        c.eq(`SD[${hex(off)}] sin ${a}`, bitsd(sl, sh), Math.sin(A), SIN);
        c.eq(`SD[${hex(off)}] cos ${a}`, bitsd(cl, ch), Math.cos(A), SIN);
      }
      c.eq(`dcos ${a}`, D(0x3c, x), Math.cos(A), SIN);
      c.eq(`dtan ${a}`, D(0x44, x), Math.tan(A), SIN);
      c.eq(`dexp ${a}`, D(0x4c, x), dftz(Math.exp(A)), SIN);
    }
    if (A > 0) c.eq(`dln ${a}`, D(0x50, x), Math.log(A), SIN);
    c.eq(`datan2 ${a} -3.5`, D(0x58, [...x, ...dbits(-3.5)]), Math.atan2(A, -3.5), SIN);
  }

  for (const v of [0, 1, -1, -7, 123456789, -2147483648, 2147483647]) {
    c.eq(`int2double ${v}`, D(0x2c, [v]), v);
    c.eq(`fix2double ${v} 2`, D(0x30, [v, 2]), v / 4);
    c.eq(`uint2double ${v >>> 0}`, D(0x34, [v]), v >>> 0);
    c.eq(`ufix2double ${v >>> 0} 5`, D(0x38, [v, 5]), (v >>> 0) / 32);
  }
  const big = [0n, 1n, -1n, -(1n << 63n), (1n << 63n) - 1n, (1n << 62n) + (1n << 9n) + 1n,
    (1n << 63n) + (1n << 10n), ...pairs64(24, 7)];
  for (const b of big) {
    const [lo, hi] = split64(b);
    const [s, u] = [BigInt.asIntN(64, b), BigInt.asUintN(64, b)];
    c.eq(`int642double ${s}`, D(0x5c, [lo, hi]), roundBig(s, 53));
    c.eq(`fix642double ${s} 10`, D(0x60, [lo, hi, 10]), roundBig(s, 53) / 1024);
    c.eq(`uint642double ${u}`, D(0x64, [lo, hi]), roundBig(u, 53));
    c.eq(`ufix642double ${u} 7`, D(0x68, [lo, hi, 7]), roundBig(u, 53) / 128);
  }
  c.done();
});

test('flash and USB-boot traps call onBreak with the contract registers', (t) => {
  const c = checker(t);
  // The host sees r0-r3 as passed, and the PC right after the bkpt that raised the code.
  const expectTrap = (name, code, args, nregs) => {
    c.eq(`${name}: exactly one trap`, traps.length, 1);
    const trap = traps[0];
    if (!trap) return;
    c.eq(`${name}: code`, hex(trap.code), hex(code));
    const bkpt = hex(mcu.readUint16(trap.pc - 2));
    c.eq(`${name}: PC follows bkpt #${hex(code)}`, bkpt, hex(0xbe00 | code));
    for (let i = 0; i < nregs; i++) c.eq(`${name}: r${i}`, hex(trap.regs[i]), hex(args[i]));
  };

  const erase = [0xa0000, 0x1000, 0x10000, 0xd8];
  c.eq('flash_range_erase returns', run(entry('RE'), erase), true);
  expectTrap('flash_range_erase', 0x10, erase, 4);
  const program = [0xa0000, 0x20001000, 256];
  c.eq('flash_range_program returns', run(entry('RP'), program), true);
  expectTrap('flash_range_program', 0x11, program, 3);

  for (const name of ['IF', 'EX', 'FC', 'CX']) {
    c.eq(`${name} returns`, run(entry(name)), true);
    c.eq(`${name} does not trap`, traps.length, 0);
  }

  core.PM = false;
  const usb = [1 << 25, 0];
  c.eq('reset_usb_boot never returns', run(entry('UB'), usb, 10000), false);
  expectTrap('reset_usb_boot', 0x12, usb, 2);
  c.eq('reset_usb_boot disables interrupts', core.PM, true);
  core.PM = false;
  c.done();
});
