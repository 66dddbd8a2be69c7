// The Pico's 2 MB QSPI flash: persistence, and the work behind our boot ROM's flash traps.
// rp2040js stubs the flash controller, so the ROM's erase/program functions execute
// `bkpt #0x10` / `bkpt #0x11` and the host does the work here.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const FLASH_SIZE = 2 * 1024 * 1024;
const SECTOR = 4096;
const PAGE = 256;
const BLOCK = 65536;

// Busy times of a W25Q16JV (datasheet "typ"), so that a power cut can land inside an operation.
export const FLASH_TIMING = {
  typ: { pageNs: 400_000, sectorNs: 45_000_000, blockNs: 150_000_000 },
  none: { pageNs: 0, sectorNs: 0, blockNs: 0 },
};

/** Flash contents at start: the saved image if any (else erased), then the firmware over it. */
export function initialFlash({ flashPath, imagePath, fresh }) {
  const flash = new Uint8Array(FLASH_SIZE).fill(0xff);
  if (flashPath && !fresh && existsSync(flashPath)) {
    const saved = readFileSync(flashPath);
    flash.set(saved.subarray(0, FLASH_SIZE));
  }
  if (imagePath) {
    // Like dragging a UF2 onto a real board: the image replaces its own range, littlefs stays.
    const image = readFileSync(imagePath);
    if (image.length > FLASH_SIZE) {
      throw new Error(`firmware image is larger than the 2 MB flash: ${imagePath}`);
    }
    flash.set(image);
  }
  return flash;
}

export function saveFlash(path, bytes) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes.subarray(0, FLASH_SIZE));
  renameSync(tmp, path);
}

/**
 * Turns a trap into an operation. Erase and program act on the chip's own flash array, which
 * is also what XIP reads, so the mapped view always matches. `apply` runs when the chip has
 * finished; until then the operation is pending and a power cut drops it.
 */
export function flashOp(chip, code, timing) {
  const r = chip.core.registers;
  const offset = r[0] & 0x00ffffff; // the ROM takes flash offsets; tolerate XIP addresses
  if (code === 0x10) {
    const count = r[1] >>> 0;
    const blockSize = r[2] >>> 0;
    const start = Math.floor(offset / SECTOR) * SECTOR; // a sector erase clears the whole sector
    const end = Math.min(FLASH_SIZE, Math.ceil((offset + count) / SECTOR) * SECTOR);
    let ns = 0;
    for (let a = start; a < end; ) {
      const big = blockSize >= BLOCK && a % BLOCK === 0 && end - a >= BLOCK;
      ns += big ? timing.blockNs : timing.sectorNs;
      a += big ? BLOCK : SECTOR;
    }
    return {
      what: `erase 0x${start.toString(16)}+${end - start}`,
      ns,
      apply: () => chip.flash.fill(0xff, start, Math.max(start, end)),
    };
  }
  const src = r[1] >>> 0;
  const count = Math.min(r[2] >>> 0, Math.max(0, FLASH_SIZE - offset));
  const data = new Uint8Array(count); // copied now: the CPU could reuse its buffer afterwards
  for (let i = 0; i < count; i++) {
    data[i] = chip.readUint8(src + i);
  }
  const pages = Math.ceil((offset + count) / PAGE) - Math.floor(offset / PAGE);
  return {
    what: `program 0x${offset.toString(16)}+${count}`,
    ns: count ? pages * timing.pageNs : 0,
    apply: () => {
      const { flash } = chip;
      for (let i = 0; i < count; i++) {
        flash[offset + i] &= data[i]; // NOR flash: programming only clears bits
      }
    },
  };
}
