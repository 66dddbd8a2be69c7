# The dose and event log's record codec: the one module that packs and checks log records,
# for the firmware (pump.logring, drivers.flashlog) and the host tools (pumphost.logs).
# Byte layout and the reasons for it: pump/LOG-FORMAT.md (format version 1).
#
# Packs into and checks caller-owned buffers, so the append path allocates nothing of its own;
# on the rp2 binascii.crc32 returns a heap int when the CRC is >= 2**30 (3 records in 4), and
# that one short-lived object is the only allocation of an append (LOG-FORMAT.md, "Costs").
# Checks compare crc32 over a record *including* its stored CRC with RESIDUE, a small int, so
# reading a good record allocates nothing.
import binascii
import struct

from micropython import const

from pump import events

VERSION = const(1)
SECTOR = const(4096)  # the erase unit of the Pico's flash
PAGE = const(256)  # the program unit
RECORD = const(16)
HEADER = const(32)  # a sector header: the first two record slots
FIRST = const(2)  # slot of a sector's first record
SLOTS = const(256)  # slots per sector
PER_SECTOR = const(254)  # records per sector
ENTRY = const(20)  # a record as read(seq, n) and the host file carry it: seq u32 LE + record
RESIDUE = const(0x2144DF1C)  # crc32(data + crc32(data, s) as u32 LE, s) for any data and seed s
DT_MAX = const(0xFFFFFF)  # the 24-bit time field
OPENED = const(0x800000)  # in a TIME record's 24-bit field: the ring was opened (a boot)
SKIP_MASK = const(0x7FFFFF)  # in a TIME record's 24-bit field: seqs burned just before it
LOG_EPOCH = 1577836800  # 2020-01-01T00:00:00Z in Unix seconds: log UTC counts from here
MAGIC = b"PLOG"
NONE32 = -(1 << 31)  # stored for a payload value that does not fit in 32 signed bits

REC_FMT = "<BHBiiI"  # code, time low 16 bits, time high 8 bits, a, b, crc
_BODY_FMT = "<BHBii"
HEADER_FMT = "<4sBBHIII8sI"  # magic, version, record size, sectors, base seq, log id, erases
_BLANK = b"\xff" * RECORD


def fit(v):
    """A payload value as stored: itself if it fits in an i32, else NONE32."""
    if -0x40000000 <= v < 0x40000000:  # small-int fast path on the rp2
        return v
    if -0x80000000 <= v <= 0x7FFFFFFF:
        return v
    return NONE32


def pack(dest, off, body, seq, code, x, a, b):
    """Encode record `seq` at dest[off:off+16]. body: a 12-byte scratch buffer. x: the 24-bit
    field (seconds since the anchor, or a TIME/SEAL record's count)."""
    lo = x & 0xFFFF
    hi = x >> 16
    struct.pack_into(_BODY_FMT, body, 0, code, lo, hi, a, b)
    struct.pack_into(REC_FMT, dest, off, code, lo, hi, a, b, binascii.crc32(body, seq))


def check(rec, seq):
    """True if the 16 bytes in `rec` are record `seq`, intact."""
    return binascii.crc32(rec, seq) == RESIDUE


def blank(rec):
    return rec == _BLANK


def unpack(buf, off=0):
    """(code, x, a, b) of the record at buf[off:off+16] (not checked)."""
    code, lo, hi, a, b, _ = struct.unpack_from(REC_FMT, buf, off)
    return code, lo | hi << 16, a, b


def pack_header(dest, sectors, base, log_id, erases):
    struct.pack_into(
        HEADER_FMT, dest, 0, MAGIC, VERSION, RECORD, sectors, base, log_id, erases, b"", 0
    )
    struct.pack_into("<I", dest, HEADER - 4, binascii.crc32(memoryview(dest)[: HEADER - 4]))


def unpack_header(buf):
    """(sectors, base seq, log id, erases) of an intact version-1 header, else None."""
    if binascii.crc32(buf) != RESIDUE:
        return None
    magic, ver, size, sectors, base, log_id, erases, _, _ = struct.unpack_from(HEADER_FMT, buf)
    if magic != MAGIC or ver != VERSION or size != RECORD:
        return None
    return sectors, base, log_id, erases


class Clock:
    """Absolute times from the record stream: a TIME record anchors (UTC, uptime); every other
    record's 24-bit field is seconds since the last anchor. Feed records in seq order."""

    def __init__(self):
        self.utc = -1  # UTC s since LOG_EPOCH at the anchor, -1: clock not set
        self.up = -1  # uptime s at the anchor, -1: no anchor seen yet
        self.boots = 0  # TIME records that opened the ring (boots) seen

    def feed(self, code, x, a, b):
        """(uptime s, UTC s since LOG_EPOCH) of this record; -1 where unknown."""
        if code == events.TIME:
            self.utc, self.up = a, b
            if x & OPENED:
                self.boots += 1
            return b, a
        if self.up < 0:
            return -1, -1
        return self.up + x, (self.utc + x if self.utc >= 0 else -1)


def _sha256():
    try:
        import hashlib
    except ImportError:  # a port built without hashlib: no HMAC chain
        return None
    return getattr(hashlib, "sha256", None)


class Chain:
    """The optional HMAC chain: each SEAL record holds the first 8 bytes of
    HMAC-SHA256(key, previous seal's 8 bytes || the ENTRY bytes (seq + record) of every
    intact non-SEAL record since it). Needs hashlib.sha256 (the rp2 image has it; there is no
    hmac module, so HMAC is spelled out here, RFC 2104)."""

    def __init__(self, key, prev=b"\x00" * 8):
        sha = _sha256()
        if sha is None:
            raise OSError("no hashlib.sha256 on this port: no HMAC chain")
        self._sha = sha
        if len(key) > 64:
            key = sha(key).digest()
        key = bytes(key) + b"\x00" * (64 - len(key))
        self._ipad = bytes([c ^ 0x36 for c in key])
        self._opad = bytes([c ^ 0x5C for c in key])
        self.restart(prev)

    def restart(self, prev):
        self.prev = bytes(prev)
        self._h = self._sha(self._ipad)
        self._h.update(self.prev)
        self.n = 0

    def update(self, entry):
        """Feed one record: its ENTRY bytes (seq u32 LE + the 16 record bytes)."""
        self._h.update(entry)
        self.n += 1

    def update2(self, seq4, rec):
        """The same as update(seq4 + rec), without building the entry."""
        self._h.update(seq4)
        self._h.update(rec)
        self.n += 1

    def value(self):
        """The 8-byte chain value over what was fed since restart()."""
        outer = self._sha(self._opad)
        outer.update(self._h.digest())
        return outer.digest()[:8]


def mac_words(mac8):
    """The SEAL record's (a, b) for an 8-byte chain value, and back: words_mac(a, b)."""
    return struct.unpack("<ii", mac8)


def words_mac(a, b):
    return struct.pack("<ii", a, b)
