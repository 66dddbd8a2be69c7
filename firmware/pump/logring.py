# The power-cut-safe dose and event log: a ring of 16-byte records (pump.logrec) over NOR
# flash. Format, recovery and the reasoning: pump/LOG-FORMAT.md.
#
# The flash is handed in: anything with readinto(off, buf), program(off, buf) (NOR: it only
# clears bits), erase(off) (one 4 KB sector to 0xFF) and size. On the Pico that is
# drivers.flashlog over rp2.Flash; on the host pumphost.logs.nor, which can cut the power at
# any byte.
#
# Costs: add() programs one 256-byte page (0.4 ms typical on the W25Q16JV) and reads the
# record back; it never erases. service(), called from the pump's service step, erases the
# next sector ahead of need (45 ms typical, once per 254 records) and writes anything left in
# the queue. Nothing here runs from an IRQ.
#
# Concurrency on the board: add() may run at the REPL (a command) and be interrupted by the
# soft-timer service step, which may add() too. The queue slot is filled and published in
# straight-line code (MicroPython runs scheduled callbacks only at jumps and calls), and the
# flash is touched by one caller at a time (_busy, test-and-set without a jump between).
from micropython import const

from pump import events, logrec
from pump.logrec import FIRST, HEADER, PAGE, PER_SECTOR, RECORD, SECTOR, SLOTS
from pump.ticks import ticks_diff

_QUEUE = const(16)  # records add() can hold while another caller is writing
_ERASE_AHEAD = const(130)  # service() erases the next sector once the head is half full
_PAGE_MAX = const(128)  # records one read() returns at most
_TRIES = const(8)  # slots one record may use up before it is given up (a failing flash)
_TIME = const(0x7E)  # events.TIME
_SEAL = const(0x7F)  # events.SEAL
_START = const(0x800000)  # in a SEAL's 24-bit field: the chain starts here
_ZERO8 = b"\x00" * 8


class LogRing:
    """add(tick, code, a=0, b=0) as pump.events.EventLog, kept in flash.

    tick: the pump's clock (ticks_us semantics) when the log is opened; uptime: seconds since
    boot at that moment. key: bytes to keep the HMAC chain (None: no chain). log_id and
    first_seq are used only when the region holds no log yet (a new log is started)."""

    def __init__(self, flash, tick=0, uptime=0, key=None, log_id=0, first_seq=0, seal_every=64):
        self._f = flash
        self.sectors = flash.size // SECTOR
        if self.sectors < 3:
            raise ValueError("a log needs at least 3 sectors")
        self._page = bytearray(b"\xff" * PAGE)
        self._body = bytearray(12)
        self._rec = bytearray(RECORD)
        self._hdr = bytearray(HEADER)
        self._seqb = bytearray(4)
        self._q = [0] * (_QUEUE * 4)
        self._qh = 0
        self._qt = 0
        self._busy = 0
        self.dropped = 0  # records refused because the queue was full
        self.errors = 0  # records given up after _TRIES failed writes
        self._tick = tick
        self._us = 0
        self.uptime = uptime
        self._utc_off = 0  # UTC s since LOG_EPOCH minus uptime, once set
        self._utc_set = False
        self._aup = 0  # uptime of the last TIME anchor
        self._anchor_due = True
        self._skip = 0  # seqs burned since the last anchor (its 24-bit field tells)
        self._opened = logrec.OPENED
        self._ready = False  # the sector after the head was erased in this session
        self._next_erases = 0
        self._chain = None
        self._seal_every = seal_every
        self._chain_start = False
        self._open(log_id, first_seq)
        if key:
            self._chain = logrec.Chain(key)
            self._chain_start = not self._rebuild_chain()
        self._append(_TIME, self.uptime, 0, 0)  # the opening anchor
        if self._chain_start:  # no seal before: the chain starts after the opening anchor
            self._seal()

    # --- the interface the pump uses ---

    @property
    def count(self):
        """Sequence numbers used so far (records ever written, with those a power cut or a
        bad write burned), plus records waiting in the queue."""
        return self._seq + self._qt - self._qh

    def add(self, tick, code, a=0, b=0):
        a = logrec.fit(a)
        b = logrec.fit(b)
        up = self._clock(tick)
        i = self._qt
        if i - self._qh >= _QUEUE:
            self.dropped += 1
            return
        # Fill, then publish: no jump or call between these lines, so no scheduled
        # callback (the service step) runs in the middle.
        q = self._q
        j = (i % _QUEUE) * 4
        q[j] = up
        q[j + 1] = code
        q[j + 2] = a
        q[j + 3] = b
        self._qt = i + 1
        self._flush()

    def service(self, tick):
        """From the pump's service step (at least every 8 min, so no tick wrap is missed):
        keeps the uptime, writes what is queued, erases the next sector ahead of need."""
        self._clock(tick)
        if self._qh != self._qt:
            self._flush()
        if not self._ready and self._slot >= _ERASE_AHEAD:
            was = self._busy
            self._busy = 1
            if was:
                return
            try:
                self._erase_next()
            finally:
                self._busy = 0

    def set_utc(self, utc_s):
        """The device clock was set to utc_s (Unix seconds): logs CLOCK (from, to) and
        anchors the new time. Past records keep the time they were written with."""
        new = utc_s - logrec.LOG_EPOCH
        old = self.uptime + self._utc_off if self._utc_set else -1
        self.add(self._tick, events.CLOCK, old, new)
        self._utc_off = new - self.uptime
        self._utc_set = True
        self.add(self._tick, _TIME)

    def utc(self):
        """UTC now in s since LOG_EPOCH, or -1 if the clock was never set."""
        return self.uptime + self._utc_off if self._utc_set else -1

    def read(self, seq, n=32):
        """Up to n records from sequence number seq onward, oldest first, as ENTRY-byte
        entries (seq u32 LE + the 16 bytes as in flash, checked or not: the reader checks).
        Only written records; nothing changes: ask again from the last seq + 1 to go on.
        At most _PAGE_MAX records per call."""
        n = min(n, _PAGE_MAX)
        out = bytearray(n * logrec.ENTRY)
        mv = memoryview(out)
        head, hb, end = self._sec, self._base, self._seq
        k = 0
        if seq < hb:
            k = min((hb - seq + PER_SECTOR - 1) // PER_SECTOR, self.sectors - 1)
        hdr = bytearray(HEADER)
        got = 0
        while k >= 0 and got < n:
            i = (head - k) % self.sectors
            base = hb - k * PER_SECTOR
            k -= 1
            if not self._same_base(i, base, hdr):
                continue
            mark = got
            s = max(seq, base)
            while s < base + PER_SECTOR and s < end and got < n:
                o = got * logrec.ENTRY
                rec = mv[o + 4 : o + logrec.ENTRY]
                self._f.readinto(i * SECTOR + (s - base + FIRST) * RECORD, rec)
                if not logrec.blank(out[o + 4 : o + logrec.ENTRY]):
                    out[o] = s & 0xFF
                    out[o + 1] = (s >> 8) & 0xFF
                    out[o + 2] = (s >> 16) & 0xFF
                    out[o + 3] = (s >> 24) & 0xFF
                    got += 1
                s += 1
            if not self._same_base(i, base, hdr):  # erased under us meanwhile: not these
                got = mark
        if got < n:
            out = out[: got * logrec.ENTRY]
        return out

    def records(self, n=64):
        """The newest n intact records, oldest first: (seq, uptime s, name, a, b, UTC s since
        LOG_EPOCH or -1). Allocates: for the REPL and tests, not the service step."""
        start = max(0, self._seq - n)
        first = self._base - ((self._base - start + PER_SECTOR - 1) // PER_SECTOR) * PER_SECTOR
        clock = logrec.Clock()
        out = []
        seq = min(first, start)
        while True:
            page = self.read(seq, 64)
            if not page:
                break
            for off in range(0, len(page), logrec.ENTRY):
                s = int.from_bytes(page[off : off + 4], "little")
                rec = page[off + 4 : off + logrec.ENTRY]
                seq = s + 1
                if not logrec.check(rec, s):
                    continue
                code, x, a, b = logrec.unpack(rec)
                up, utc = clock.feed(code, x, a, b)
                if s >= start and code != _SEAL and code != _TIME:
                    out.append((s, up, events.NAMES.get(code, "code%d" % code), a, b, utc))
        return out[-n:]

    def first(self):
        """The oldest sequence number still in the ring (its slot may be empty)."""
        hdr = bytearray(HEADER)
        for k in range(self.sectors - 1, -1, -1):
            base = self._base - k * PER_SECTOR
            if base >= 0 and self._same_base((self._sec - k) % self.sectors, base, hdr):
                return base
        return self._base

    # --- recovery ---

    def _header(self, i, buf):
        self._f.readinto(i * SECTOR, buf)
        return logrec.unpack_header(buf)

    def _same_base(self, i, base, buf):
        h = self._header(i, buf)
        return h is not None and h[0] == self.sectors and h[1] == base and h[2] == self.log_id

    def _open(self, log_id, first_seq):
        """Finds the head in bounded time: one header read per sector, then at most 254
        record reads in the head sector (LOG-FORMAT.md, "Recovery")."""
        head = -1
        hbase = 0
        self.log_id = log_id
        for i in range(self.sectors):
            h = self._header(i, self._hdr)
            if h is not None and h[0] == self.sectors and (head < 0 or h[1] > hbase):
                head, hbase, self.log_id = i, h[1], h[2]
        if head < 0:  # no log here yet: sector 0 is the first, erased before use
            self._sec = self.sectors - 1
            self._base = first_seq - PER_SECTOR
            self._slot = SLOTS
            self._seq = first_seq
            return
        self._sec = head
        self._base = hbase
        last = FIRST - 1  # the header
        rec = self._rec
        for slot in range(SLOTS - 1, FIRST - 1, -1):
            self._f.readinto(head * SECTOR + slot * RECORD, rec)
            if not logrec.blank(rec):
                last = slot
                if not logrec.check(rec, hbase + slot - FIRST):
                    self._skip = 1  # torn by the power cut: no intact record under this seq
                break
        # Never program the slot after the last written one again: a program cut short may
        # have left cells that read as erased but are not (LOG-FORMAT.md, "Recovery").
        if last + 2 > SLOTS:
            self._slot = SLOTS
        else:
            self._slot = last + 2
            self._skip += 1
        self._seq = hbase + self._slot - FIRST
        # Past the erase-ahead point the next sector was, or was about to be, erased, and an
        # erase cut short leaves any mix of old and erased bytes, in an order no datasheet
        # gives: finish it now, so no reader ever sees half of it (LOG-FORMAT.md).
        if self._slot >= _ERASE_AHEAD:
            self._erase_next()

    def _rebuild_chain(self):
        """Feeds the chain the intact records after the last SEAL of the last two sectors;
        False if there is none (the chain then starts anew)."""
        start = max(0, self._base - PER_SECTOR)
        entries = []
        seal = None
        seq = start
        while True:
            page = self.read(seq, 64)
            if not page:
                break
            for off in range(0, len(page), logrec.ENTRY):
                e = bytes(page[off : off + logrec.ENTRY])
                s = int.from_bytes(e[:4], "little")
                seq = s + 1
                if not logrec.check(e[4:], s):
                    continue
                code, x, a, b = logrec.unpack(e, 4)
                if code == _SEAL:
                    seal = logrec.words_mac(a, b)
                    entries = []
                else:
                    entries.append(e)
        if seal is None:
            return False
        self._chain.restart(seal)
        for e in entries:
            self._chain.update(e)
        return True

    # --- writing ---

    def _clock(self, tick):
        d = ticks_diff(tick, self._tick)
        if d > 0:
            self._tick = tick
            us = self._us + d
            if us >= 1000000:
                self.uptime += us // 1000000
                us %= 1000000
            self._us = us
        return self.uptime

    def _flush(self):
        was = self._busy
        self._busy = 1
        if was:  # another caller is writing; it (or the next service step) takes ours too
            return
        try:
            q = self._q
            while self._qh != self._qt:
                j = (self._qh % _QUEUE) * 4
                self._append(q[j + 1], q[j], q[j + 2], q[j + 3])
                self._qh += 1
        finally:
            self._busy = 0

    def _append(self, code, up, a, b):
        if code == _TIME:
            self._anchor_due = True
        for _ in range(_TRIES):
            if self._slot >= SLOTS:
                self._advance()
            dt = up - self._aup
            if self._anchor_due or dt < 0 or dt > logrec.DT_MAX:
                utc = up + self._utc_off if self._utc_set else -1
                if self._prog(_TIME, self._skip | self._opened, utc, up):
                    self._skip = 0
                    self._opened = 0
                    self._anchor_due = False
                    self._aup = up
                    if code == _TIME:
                        return True
                continue
            if self._prog(code, dt, a, b):
                ch = self._chain
                if ch is not None and ch.n >= self._seal_every:
                    self._seal()
                return True
        self.errors += 1
        return False

    def _seal(self):
        """Writes a SEAL over the records since the last one. Nothing is written between
        computing it and writing it, not even a TIME anchor: a SEAL needs no time."""
        ch = self._chain
        x = ch.n
        if self._chain_start:
            ch.restart(_ZERO8)
            x = _START
        mac = ch.value()
        a, b = logrec.mac_words(mac)
        for _ in range(_TRIES):
            if self._slot >= SLOTS:
                self._advance()
            if self._prog(_SEAL, x, a, b):
                break
        else:
            self.errors += 1
        ch.restart(mac)
        self._chain_start = False

    def _prog(self, code, x, a, b):
        """Programs the next slot and reads it back; False (slot burned) if it is not intact."""
        seq = self._seq
        off = self._sec * SECTOR + self._slot * RECORD
        o = off & (PAGE - 1)
        page = self._page
        logrec.pack(page, o, self._body, seq, code, x, a, b)
        try:
            self._f.program(off - o, page)
        finally:
            for k in range(o, o + RECORD):
                page[k] = 0xFF
        self._seq = seq + 1
        self._slot += 1
        rec = self._rec
        self._f.readinto(off, rec)
        if not logrec.check(rec, seq):
            self._skip += 1
            self._anchor_due = True
            return False
        if self._chain is not None and code != _SEAL:
            sb = self._seqb
            sb[0] = seq & 0xFF
            sb[1] = (seq >> 8) & 0xFF
            sb[2] = (seq >> 16) & 0xFF
            sb[3] = (seq >> 24) & 0xFF
            self._chain.update2(sb, rec)
        return True

    def _erase_next(self):
        nxt = (self._sec + 1) % self.sectors
        h = self._header(nxt, self._hdr)
        self._next_erases = h[3] + 1 if h is not None else 1
        self._f.erase(nxt * SECTOR)
        self._ready = True

    def _advance(self):
        """Opens the next sector: erased (now, unless service() did it ahead), then its
        header programmed; the first record in it is a TIME anchor."""
        if not self._ready:
            self._erase_next()
        nxt = (self._sec + 1) % self.sectors
        base = self._base + PER_SECTOR
        if self._seq < base:
            self._skip += base - self._seq  # the rest of the old sector stays empty
        page = self._page
        for _ in range(_TRIES):
            logrec.pack_header(page, self.sectors, base, self.log_id, self._next_erases)
            try:
                self._f.program(nxt * SECTOR, page)
            finally:
                for k in range(HEADER):
                    page[k] = 0xFF
            if self._same_base(nxt, base, self._hdr):
                break
            self._f.erase(nxt * SECTOR)
            self._next_erases += 1
        else:
            raise OSError("log sector %d cannot be written" % nxt)
        self._ready = False
        self._sec = nxt
        self._base = base
        self._slot = FIRST
        self._seq = base
        self._anchor_due = True
