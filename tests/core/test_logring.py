# The flash log ring (pump.logring) on CPython and the MicroPython unix port, over a small
# honest NOR flash in RAM: erase sets a sector to 0xFF, programming only clears bits, and the
# power can be cut after any number of bytes. The hypothesis power-cut fuzzing is in
# tests/test_log_fuzz.py; these are the deterministic cases.
import binascii
import struct

from ramnor import PowerCut, RamNor

from harness import raises
from pump import events, logrec
from pump.logring import LogRing
from pump.ticks import ticks_add

SECOND = 1000000


def _scan(ring, fn, lo=0):
    """Calls fn(seq, code, a, b) for every intact record from lo on, read through the ring's
    own read(), page by page (the unix port's 192 KB heap holds no list of a whole log)."""
    seq = lo
    while True:
        page = ring.read(seq, 50)
        if not page:
            return
        for off in range(0, len(page), 20):
            s = int.from_bytes(page[off : off + 4], "little")
            rec = page[off + 4 : off + 20]
            if logrec.check(rec, s):
                code, _, a, b = logrec.unpack(rec)
                fn(s, code, a, b)
            seq = s + 1


def _intact(ring):
    """[(seq, code, a, b)] of every intact record: for small logs."""
    out = []
    _scan(ring, lambda s, c, a, b: out.append((s, c, a, b)))
    return out


def _digest(ring, lo=0, hi=1 << 40):
    """(count, crc32) over the intact user records with lo <= seq < hi."""
    acc = [0, 0]

    def fn(s, c, a, b):
        if s < hi and c not in (events.TIME, events.SEAL):
            acc[0] += 1
            acc[1] = binascii.crc32(struct.pack("<IBii", s, c, a, b), acc[1])

    _scan(ring, fn, lo)
    return acc[0], acc[1]


def _user(recs):
    return [r for r in recs if r[1] not in (events.TIME, events.SEAL)]


def _lookup(recs, seq):
    for r in recs:
        if r[0] == seq:
            return r[1:]
    return None


def test_records_survive_a_reopen():
    nor = RamNor()
    ring = LogRing(nor)
    for i in range(10):
        ring.add(i * SECOND, events.DELIVERED, i * 1000, i)
    before = _user(_intact(ring))
    assert [r[2] for r in before] == [i * 1000 for i in range(10)]
    assert [r[3] for r in before] == list(range(10))
    ring2 = LogRing(nor)
    assert _user(_intact(ring2)) == before
    ring2.add(0, events.START)
    after = _intact(ring2)
    assert after[-1][0] > before[-1][0] and after[-1][1:] == (events.START, 0, 0)


def test_the_ring_wraps_and_sequence_numbers_go_on():
    nor = RamNor(3)
    ring = LogRing(nor)
    for i in range(2000):
        ring.add(i * 10, events.DELIVERED, i, -i)
        if i % 50 == 0:
            ring.service(i * 10)
    seen = [-1, 0, True]  # first value, how many, each one more than the one before

    def fn(s, c, a, b):
        if c == events.DELIVERED:
            if seen[1]:
                seen[2] = seen[2] and a == seen[0] + seen[1]
            else:
                seen[0] = a
            seen[1] += 1

    _scan(ring, fn)
    first, n, consecutive = seen
    assert consecutive and first + n == 2000  # the newest, none missing, in order
    assert n >= 254  # at least one full sector besides the head
    assert min(nor.erases) >= 2  # erases spread over every sector
    assert max(nor.erases) - min(nor.erases) <= 1
    before = _digest(ring)
    assert before[0] == n
    assert _digest(LogRing(nor), 0, ring.count) == before


def test_sequence_numbers_cross_2_to_the_30():
    nor = RamNor(3)
    first = (1 << 30) - 300
    ring = LogRing(nor, first_seq=first)
    for i in range(600):
        ring.add(0, events.DELIVERED, i, 0)
    seqs = [None, -1, True]  # first, last, increasing

    def fn(s, c, a, b):
        seqs[0] = s if seqs[0] is None else seqs[0]
        seqs[2] = seqs[2] and s > seqs[1]
        seqs[1] = s

    _scan(ring, fn)
    assert seqs[0] >= first and seqs[1] > (1 << 30) + 250 and seqs[2]
    ring = LogRing(nor)
    ring.add(0, events.STOP, 1)
    last = []
    _scan(ring, lambda s, c, a, b: last.append((s, c, a, b)), ring.count - 3)
    assert last[-1] == (ring.count - 1, events.STOP, 1, 0)


def test_a_cut_at_every_byte_of_an_append_loses_only_that_record():
    cuts = []
    for cut in range(0, 300, 7):
        nor = RamNor(3)
        ring = LogRing(nor)
        for i in range(5):
            ring.add(0, events.DELIVERED, i, i)
        committed = _intact(ring)
        nor.budget = cut
        try:
            ring.add(0, events.ALARM, 99, 1)
            committed = _intact(ring)  # the power lasted: it is committed
        except PowerCut:
            cuts.append(cut)
        nor.budget = -1
        after = _intact(LogRing(nor))
        for r in committed:
            assert _lookup(after, r[0]) == r[1:], (cut, r)
        for r in after:
            assert r in committed or r[1:] == (events.ALARM, 99, 1) or r[1] == events.TIME, cut
    # The append programs one page: the power is cut at every byte of it, and lasts after.
    assert cuts == [c for c in range(0, 300, 7) if c < 256], cuts


def test_a_cut_during_an_erase_loses_nothing_committed():
    for cut in (0, 1, 100, 2048, 4095, 4096, 4200):
        nor = RamNor(3)
        ring = LogRing(nor)
        n = 0
        while ring._slot < 200:
            ring.add(0, events.DELIVERED, n, 0)
            n += 1
        end = ring.count
        committed = _digest(ring)
        nor.budget = cut
        try:
            ring.service(0)  # erases the next sector ahead
            assert cut >= 4096, "the power lasted through the erase"
        except PowerCut:
            assert cut < 4096, "the power was cut after the erase"
        assert nor.erases[1] == 1
        nor.budget = -1
        ring2 = LogRing(nor)
        assert _digest(ring2, 0, end) == committed, cut
        for i in range(400):
            ring2.add(0, events.DELIVERED, i, 1)
        last = []
        _scan(ring2, lambda s, c, a, b, last=last: last.append((s, c, a, b)), ring2.count - 2)
        assert last[-1] == (ring2.count - 1, events.DELIVERED, 399, 1)


def test_read_pages_are_resumable_and_idempotent():
    ring = LogRing(RamNor(3))
    for i in range(300):
        ring.add(0, events.DELIVERED, i, 0)
    first = ring.read(0, 1000)
    assert len(first) == 128 * 20  # at most 128 records a page
    assert ring.read(0, 1000) == first
    whole = [0, 0]  # (entries, crc32) over every page of 128
    seq = 0
    while True:
        page = ring.read(seq, 128)
        if not page:
            break
        whole[0] += len(page) // 20
        whole[1] = binascii.crc32(page, whole[1])
        seq = int.from_bytes(page[-20:-16], "little") + 1
    small = [0, 0]  # the same in pages of 7
    seq = 0
    while True:
        page = ring.read(seq, 7)
        if not page:
            break
        assert len(page) <= 7 * 20
        small[0] += len(page) // 20
        small[1] = binascii.crc32(page, small[1])
        seq = int.from_bytes(page[-20:-16], "little") + 1
    assert small == whole and whole[0] >= 300
    assert ring.read(ring.count, 5) == b""


def test_uptime_and_utc_through_tick_wraps():
    t0 = (1 << 30) - 5 * SECOND
    ring = LogRing(RamNor(), tick=t0)
    t = t0
    for _ in range(40):  # 20 min: the us tick wraps (period 17.9 min)
        t = ticks_add(t, 30 * SECOND)
        ring.service(t)
    ring.add(t, events.START)
    ring.set_utc(logrec.LOG_EPOCH + 86400)
    t = ticks_add(t, 61 * SECOND)
    ring.service(t)
    ring.add(t, events.DELIVERED, 5, 6)
    recs = ring.records(10)
    names = [r[2] for r in recs]
    assert names == ["start", "clock", "delivered"], recs
    assert recs[0][1] == 1200 and recs[0][5] == -1
    assert recs[1][3:5] == (-1, 86400)
    assert recs[2][1] == 1261 and recs[2][5] == 86400 + 61


def test_payloads_that_do_not_fit_are_marked():
    ring = LogRing(RamNor())
    ring.add(0, events.RATE, 1 << 40, -(1 << 33))
    assert ring.records(1)[0][3:5] == (logrec.NONE32, logrec.NONE32)


def test_a_full_queue_drops_and_counts():
    ring = LogRing(RamNor())
    ring._busy = 1  # another caller is writing
    for i in range(20):
        ring.add(0, events.DELIVERED, i)
    assert ring.dropped == 4
    ring._busy = 0
    ring.service(0)
    assert [r[3] for r in ring.records(20)] == list(range(16))


def test_too_small_a_region_is_refused():
    raises(ValueError, LogRing, RamNor(2))


def test_the_hmac_chain_seals_and_goes_on_after_a_reopen():
    try:
        logrec.Chain(b"k")
    except OSError:
        return  # no hashlib.sha256 here: the chain is optional
    key = b"device key 0001"
    nor = RamNor(4)
    ring = LogRing(nor, key=key, seal_every=8)
    for i in range(30):
        ring.add(0, events.DELIVERED, i)
    ring = LogRing(nor, key=key, seal_every=8)
    for i in range(30):
        ring.add(0, events.DELIVERED, 100 + i)
    # Recompute every seal from the records, as a reviewer does.
    prev = None
    acc = None
    seals = 0
    page = ring.read(0, 1000)
    for off in range(0, len(page), 20):
        e = bytes(page[off : off + 20])
        s = int.from_bytes(e[:4], "little")
        assert logrec.check(e[4:], s)
        code, x, a, b = logrec.unpack(e, 4)
        if code == events.SEAL:
            mac = logrec.words_mac(a, b)
            if x & 0x800000:
                ch = logrec.Chain(key)
                assert ch.value() == mac
            else:
                assert acc is not None and acc.n == x and acc.value() == mac, s
            seals += 1
            acc = logrec.Chain(key, mac)
        elif acc is not None:
            acc.update(e)
        prev = code
    assert seals >= 7 and prev is not None
