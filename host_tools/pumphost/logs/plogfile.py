"""The pulled log file (.plog): what `pumpctl logs pull` writes and the other commands read.

    header  32 bytes  b"PLOGFILE", version u16 LE (1), entry size u16 LE (20), 20 zero bytes
    entries 20 bytes  each as the device's read(seq, n) gives it: seq u32 LE + the 16 record
                      bytes exactly as in flash (checked or not: verify checks them)
    footer  16 bytes  b"PEND", entry count u32 LE, last seq u32 LE, crc32 of all bytes before

Entries are in increasing seq order and each seq appears once. A pull appends only entries
with a seq above the last one and rewrites the footer, so a copy cut short (no footer, or a
footer that does not match) is caught by verify. Spec: firmware/pump/LOG-FORMAT.md.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pumphost import paths

paths.use_firmware_core()
from pump import logrec  # noqa: E402

MAGIC = b"PLOGFILE"
FILE_VERSION = 1
HEAD = 32
FOOT = 16
ENTRY = logrec.ENTRY


class PlogError(Exception):
    pass


@dataclass
class Plog:
    data: bytes  # the entries, ENTRY bytes each
    footer_ok: bool
    problems: list[str]

    @property
    def count(self) -> int:
        return len(self.data) // ENTRY

    def seqs(self) -> list[int]:
        return [
            int.from_bytes(self.data[i : i + 4], "little") for i in range(0, len(self.data), ENTRY)
        ]

    def last_seq(self) -> int | None:
        if not self.data:
            return None
        return int.from_bytes(self.data[-ENTRY : -ENTRY + 4], "little")


def header() -> bytes:
    return MAGIC + struct.pack("<HH", FILE_VERSION, ENTRY) + bytes(HEAD - 12)


def footer(body: bytes) -> bytes:
    entries = body[HEAD:]
    n = len(entries) // ENTRY
    last = int.from_bytes(entries[-ENTRY : -ENTRY + 4], "little") if n else 0
    return b"PEND" + struct.pack("<II", n, last) + struct.pack("<I", zlib.crc32(body))


def read(path: Path) -> Plog:
    """The entries of a .plog, with what is wrong with its frame (never raises on content)."""
    raw = Path(path).read_bytes()
    if raw[:8] != MAGIC:
        raise PlogError(f"{path}: not a pulled log (.plog) file")
    version, esize = struct.unpack_from("<HH", raw, 8)
    if version != FILE_VERSION or esize != ENTRY:
        raise PlogError(f"{path}: file version {version}, entry size {esize}: not supported")
    problems: list[str] = []
    body, foot = raw[:-FOOT], raw[-FOOT:]
    ok = len(raw) >= HEAD + FOOT and foot[:4] == b"PEND"
    if ok:
        n, last = struct.unpack_from("<II", foot, 4)
        (crc,) = struct.unpack_from("<I", foot, 12)
        entries = body[HEAD:]
        if len(entries) % ENTRY or n != len(entries) // ENTRY or zlib.crc32(body) != crc:
            ok = False
    if not ok:
        problems.append(
            "the file does not end with a matching footer: it was cut short or changed after "
            "the pull (entry count, last seq or file CRC disagree)"
        )
        entries = raw[HEAD:]
        if len(entries) % ENTRY:
            problems.append(
                f"the file ends inside an entry ({len(entries) % ENTRY} stray bytes at offset "
                f"{HEAD + len(entries) - len(entries) % ENTRY}): truncated"
            )
            entries = entries[: len(entries) - len(entries) % ENTRY]
    return Plog(bytes(entries), ok, problems)


def write(path: Path, entries: bytes) -> None:
    body = header() + entries
    Path(path).write_bytes(body + footer(body))


def append(path: Path, entries: bytes) -> int:
    """Appends the entries whose seq is above the file's last one; returns how many. Creates
    the file if it does not exist. Refuses a file whose frame is broken."""
    p = Path(path)
    if not p.exists():
        write(p, b"")
    log = read(p)
    if not log.footer_ok:
        raise PlogError(f"{p}: {'; '.join(log.problems)}; not appending to it")
    last = log.last_seq()
    new = bytearray()
    for i in range(0, len(entries), ENTRY):
        seq = int.from_bytes(entries[i : i + 4], "little")
        if last is None or seq > last:
            new += entries[i : i + ENTRY]
            last = seq
    if new:
        body = p.read_bytes()[:-FOOT] + bytes(new)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_bytes(body + footer(body))
        tmp.replace(p)  # the old file stays whole until the new one is
    return len(new) // ENTRY
