"""Entries straight from a raw image of the log region (a saved flash file, a picotool
dump), read-only: the sectors with an intact header, oldest first, every non-blank slot."""

from __future__ import annotations

from pump import logrec

# Where the region sits in the Pico's 2 MB flash (drivers/flashlog.py).
STORAGE_BASE = 0x0A0000
FS_BYTES = 655360
LOG_OFFSET = STORAGE_BASE + FS_BYTES
LOG_BYTES = 786432


def entries(region: bytes) -> bytes:
    sectors = []
    for i in range(len(region) // logrec.SECTOR):
        o = i * logrec.SECTOR
        h = logrec.unpack_header(bytearray(region[o : o + logrec.HEADER]))
        if h is not None:
            sectors.append((h[1], o))
    out = bytearray()
    blank = b"\xff" * logrec.RECORD
    for base, o in sorted(sectors):
        for slot in range(logrec.FIRST, logrec.SLOTS):
            rec = region[o + slot * logrec.RECORD : o + (slot + 1) * logrec.RECORD]
            if rec != blank:
                out += (base + slot - logrec.FIRST).to_bytes(4, "little") + rec
    return bytes(out)


def from_flash_image(image: bytes) -> bytes:
    return entries(image[LOG_OFFSET : LOG_OFFSET + LOG_BYTES])
