# The log record codec (pump.logrec) on CPython and the MicroPython unix port.
import binascii
import struct

from harness import raises
from pump import events, logrec


def _rec(seq, code=events.STOP, x=5, a=1234, b=-7):
    buf = bytearray(16)
    logrec.pack(buf, 0, bytearray(12), seq, code, x, a, b)
    return buf


def test_round_trip_and_crc_residue():
    for seq in (0, 1, 253, (1 << 30) - 1, 1 << 30, (1 << 30) + 5, (1 << 32) - 1):
        for a, b in ((0, 0), (-1, 1), (0x7FFFFFFF, -0x80000000), (123456789, -987654321)):
            r = _rec(seq, events.DELIVERED, 0xABCDEF, a, b)
            assert logrec.check(r, seq)
            assert binascii.crc32(r, seq) == logrec.RESIDUE
            assert logrec.unpack(r) == (events.DELIVERED, 0xABCDEF, a, b)


def test_layout_is_the_spec():
    r = _rec(7, events.RATE, 0x030201, 136000, 1)
    assert r[0] == events.RATE
    assert bytes(r[1:4]) == b"\x01\x02\x03"
    assert struct.unpack("<ii", r[4:12]) == (136000, 1)
    assert struct.unpack("<I", r[12:16])[0] == binascii.crc32(bytes(r[:12]), 7)


def test_the_crc_binds_the_sequence_number():
    r = _rec(1000)
    assert not logrec.check(r, 999) and not logrec.check(r, 1001)
    assert not logrec.check(r, 1000 + (1 << 32) // 2)


def test_every_single_bit_flip_is_caught():
    r = _rec(42)
    for i in range(16 * 8):
        bad = bytearray(r)
        bad[i // 8] ^= 1 << (i % 8)
        assert not logrec.check(bad, 42), i


def test_every_torn_prefix_is_caught():
    # A program cut at byte k leaves the first k bytes and erased flash after them.
    for seq in range(50):
        r = _rec(seq, events.ALARM, seq, seq * 3, -seq)
        for k in range(16):
            torn = bytearray(r[:k]) + b"\xff" * (16 - k)
            if torn != r:
                assert not logrec.check(torn, seq), (seq, k)


def test_blank_and_header():
    assert logrec.blank(bytearray(b"\xff" * 16))
    assert not logrec.blank(_rec(3))
    h = bytearray(32)
    logrec.pack_header(h, 192, 254 * 5, 0x1234567, 9)
    assert bytes(h[:4]) == b"PLOG" and h[4] == 1 and h[5] == 16
    assert logrec.unpack_header(h) == (192, 254 * 5, 0x1234567, 9)
    h[9] ^= 4
    assert logrec.unpack_header(h) is None
    assert logrec.unpack_header(bytearray(b"\xff" * 32)) is None


def test_fit_marks_what_does_not_fit():
    assert logrec.fit(0) == 0 and logrec.fit(-(1 << 31)) == -(1 << 31)
    assert logrec.fit((1 << 31) - 1) == (1 << 31) - 1
    assert logrec.fit(1 << 31) == logrec.NONE32 and logrec.fit(-(1 << 31) - 1) == logrec.NONE32


def test_clock_turns_anchors_into_times():
    c = logrec.Clock()
    assert c.feed(events.START, 3, 0, 0) == (-1, -1)
    assert c.feed(events.TIME, logrec.OPENED | 1, -1, 10) == (10, -1)
    assert c.boots == 1
    assert c.feed(events.START, 5, 0, 0) == (15, -1)
    assert c.feed(events.TIME, 0, 1000, 20) == (20, 1000)
    assert c.feed(events.DELIVERED, 60, 0, 0) == (80, 1060)


def test_hmac_is_rfc_4231_case_2():
    try:
        ch = logrec.Chain(b"Jefe", b"")
    except OSError:
        return  # a port without hashlib.sha256: the chain is optional
    ch.restart(b"")
    ch.update(b"what do ya want for nothing?")
    assert binascii.hexlify(ch.value()) == b"5bdcc146bf60754e"
    assert logrec.words_mac(*logrec.mac_words(b"12345678")) == b"12345678"


def test_bad_header_geometry_is_refused():
    h = bytearray(32)
    logrec.pack_header(h, 3, 0, 0, 0)
    h[5] = 32  # another record size: not this version's layout
    h[28:32] = struct.pack("<I", binascii.crc32(bytes(h[:28])))
    assert logrec.unpack_header(h) is None
    raises(Exception, logrec.pack_header, bytearray(8), 3, 0, 0, 0)  # too small a buffer
