"""Sanity-check a built boot ROM image: header, lookup tables, Thumb bits, size."""

import struct
import sys

FUNCS = ["P3", "L3", "T3", "R3", "MS", "MC", "S4", "C4", "IF", "EX", "FC", "CX", "RE", "RP", "UB"]
DATA = ["SF", "SD"]


def hword(rom, addr):
    return struct.unpack_from("<H", rom, addr)[0]


def table(rom, addr):
    entries = {}
    while (code := hword(rom, addr)) != 0:
        entries[bytes([code & 0xFF, code >> 8]).decode()] = hword(rom, addr + 2)
        addr += 4
    return entries


def main(path):
    rom = open(path, "rb").read()
    errors = []
    sp, reset = struct.unpack_from("<II", rom, 0)
    if sp != 0x20042000 or not reset & 1:
        errors.append(f"vectors: sp={sp:#x} reset={reset:#x}")
    if rom[0x10:0x14] != b"Mu\x01\x03":
        errors.append(f"header {rom[0x10:0x14]!r}")
    if not hword(rom, 0x18) & 1:
        errors.append("lookup pointer lacks the Thumb bit")
    funcs, data = table(rom, hword(rom, 0x14)), table(rom, hword(rom, 0x16))
    for code in FUNCS:
        if not funcs.get(code, 0) & 1:
            errors.append(f"function {code} missing or without Thumb bit")
    for code in DATA:
        ptr = data.get(code, 0)
        if not ptr or ptr & 3 or rom[ptr - 2] != 32 or rom[ptr - 1] != 32:
            errors.append(f"data table {code} missing, misaligned or unsized")
            continue
        for i, word in enumerate(struct.unpack_from("<32I", rom, ptr)):
            if not word & 1 or word >= len(rom):
                errors.append(f"{code}[{i * 4:#x}] = {word:#x}")
    if errors:
        sys.exit("bootrom check failed:\n  " + "\n  ".join(errors))
    used = len(rom.rstrip(b"\0"))
    print(f"bootrom: {used} of {len(rom)} bytes used, {len(funcs)} functions, {len(data)} tables")


if __name__ == "__main__":
    main(sys.argv[1])
