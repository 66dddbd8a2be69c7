"""The pulled log file (.plog): what `pumpctl logs pull` writes and the other commands read.

    header  32 bytes  b"PLOGFILE", version u16 LE (1), entry size u16 LE (20), the pump:
                      its unique id (8 bytes), its serial (12 bytes ASCII, NUL-padded); zeros:
                      not named (files from before pumps named themselves)
    entries 20 bytes  each as the device's read(seq, n) gives it: seq u32 LE + the 16 record
                      bytes exactly as in flash (checked or not: verify checks them)
    footer  16 bytes  b"PEND", entry count u32 LE, last seq u32 LE, crc32 of all bytes before

Entries are in increasing seq order and each seq appears once. A pull appends only entries
with a seq above the last one and rewrites the footer, so a copy cut short (no footer, or a
footer that does not match) is caught by verify. Spec: firmware/pump/LOG-FORMAT.md.

`parse` (and `read`) is the one reader every path uses (verify, export, report, pull's
resume, the review service's uploads): it refuses, with one line naming the reason and the
seq, what no pull of one pump's log can hold (LOG-FORMAT.md, "What the reader refuses").
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pump import logrec

MAGIC = b"PLOGFILE"
FILE_VERSION = 1
HEAD = 32
FOOT = 16
ENTRY = logrec.ENTRY
MAX_JUMP = 1 << 24  # seqs two neighbouring entries may skip (LOG-FORMAT.md)
MAX_DISORDER = 16  # entries out of order or repeated that verify reports one by one
_SEQS = struct.Struct("<I16x")


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


UID = 8  # bytes of the board's unique id in the header (offset 12)
SERIAL = 12  # bytes of the pump's serial in the header (offset 20)


@dataclass(frozen=True)
class Ident:
    """Who a log is from, as the pump says (`pump.ident()`): its serial ("" none) and the
    board's unique id in hex ("" none). Unnamed: neither (older files and firmware)."""

    serial: str = ""
    uid: str = ""

    @property
    def named(self) -> bool:
        return bool(self.serial or self.uid)

    def __str__(self) -> str:
        if not self.named:
            return "a pump that does not name itself"
        parts = [f"pump {self.serial}" if self.serial else "a pump with no serial"]
        return " ".join(parts + ([f"(unique id {self.uid})"] if self.uid else []))

    @classmethod
    def of(cls, d: dict[str, object]) -> Ident:
        """From the pump's own answer (`ident()`, the protocol's status); checked so that it
        fits the header. PlogError if it does not."""
        serial, uid = str(d.get("serial") or ""), str(d.get("uid") or "").lower()
        try:
            ok = len(serial) <= SERIAL and serial.isascii() and len(bytes.fromhex(uid)) in (0, UID)
        except ValueError:
            ok = False
        if not ok:
            raise PlogError(f"the pump named itself {serial!r}, unique id {uid!r}: not valid")
        return cls(serial, "" if uid.strip("0") == "" else uid)

    def pack(self) -> bytes:
        uid = bytes.fromhex(self.uid) if self.uid else bytes(UID)
        return uid + self.serial.encode().ljust(SERIAL, b"\0")


def ident_of(raw: bytes) -> Ident:
    """The pump a .plog's bytes name in its header (Ident() when none, or too short)."""
    if len(raw) < HEAD:
        return Ident()
    uid, serial = raw[12 : 12 + UID], raw[12 + UID : HEAD]
    name = serial.rstrip(b"\0").decode("ascii", "replace")
    return Ident(name, uid.hex() if any(uid) else "")


def header(ident: Ident | None = None) -> bytes:
    name = (ident or Ident()).pack()
    return MAGIC + struct.pack("<HH", FILE_VERSION, ENTRY) + name


def footer(body: bytes) -> bytes:
    entries = body[HEAD:]
    n = len(entries) // ENTRY
    last = int.from_bytes(entries[-ENTRY : -ENTRY + 4], "little") if n else 0
    return b"PEND" + struct.pack("<II", n, last) + struct.pack("<I", zlib.crc32(body))


def read(path: Path) -> Plog:
    """The entries of a .plog, with what is wrong with its frame; PlogError (one line) when
    it is not a pulled log or holds what no pull of one log can (see `parse`)."""
    return parse(Path(path).read_bytes(), str(path))


def parse(raw: bytes, name: str) -> Plog:
    """The entries of a .plog's bytes, and what is wrong with its frame (a footer that does not
    match, stray bytes at the end: verify reports them). Refused with PlogError, one line
    naming the reason and where: not a .plog, shorter than its header, another version, and
    seqs that no pull of one pump's log holds (`check_seqs`)."""
    if raw[:8] != MAGIC[: len(raw[:8])] or not raw:
        raise PlogError(f"{name}: not a pulled log (.plog) file")
    if len(raw) < HEAD:
        raise PlogError(
            f"{name}: {len(raw)} bytes, shorter than the {HEAD}-byte header of a pulled log "
            "(.plog): cut short, refused"
        )
    version, esize = struct.unpack_from("<HH", raw, 8)
    if version != FILE_VERSION or esize != ENTRY:
        raise PlogError(f"{name}: file version {version}, entry size {esize}: not supported")
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
    check_seqs(entries, name)
    return Plog(bytes(entries), ok, problems)


def check_seqs(entries: bytes, name: str) -> None:
    """PlogError unless every seq is at most MAX_JUMP above the highest before it and at most
    MAX_DISORDER entries are not above it: a pull of one log never holds more. What is left
    (a few records removed, altered, repeated or swapped) verify reports seq by seq."""
    prev = -1
    bad: tuple[int, int, int] | None = None  # the first entry out of order: seq, prev, offset
    disorder = 0
    for i, (seq,) in enumerate(_SEQS.iter_unpack(entries)):
        if seq <= prev:
            disorder += 1
            bad = bad or (seq, prev, HEAD + i * ENTRY)
        elif prev >= 0 and seq - prev > MAX_JUMP:
            raise PlogError(
                f"{name}: seq {seq} follows seq {prev} (byte {HEAD + i * ENTRY}): a jump of "
                f"over 2^24 seqs, which no pump log makes (bytes appended, two files joined or "
                "a damaged seq): refused"
            )
        else:
            prev = seq
    if disorder > MAX_DISORDER and bad is not None:
        raise PlogError(
            f"{name}: seq {bad[0]} follows seq {bad[1]} (byte {bad[2]}), and {disorder - 1} more "
            f"entries are out of order or repeated (over {MAX_DISORDER}): not one pulled log "
            "(two joined, or seqs damaged): refused"
        )


def write(path: Path, entries: bytes, ident: Ident | None = None) -> None:
    """A whole .plog naming `ident`, written to a temporary file then renamed: there is never
    a part-written file under the name."""
    p = Path(path)
    body = header(ident) + entries
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(body + footer(body))
    tmp.replace(p)


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
        check_seqs(body[HEAD:], f"{p} with the new entries")  # never write what read refuses
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_bytes(body + footer(body))
        tmp.replace(p)  # the old file stays whole until the new one is
    return len(new) // ENTRY
