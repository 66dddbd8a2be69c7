# The bedside keys (issue 20): debounce and press, click, long press, hold and auto-repeat
# events from sampled levels. Pure logic: a board driver (drivers/keypins.py) or the emulator
# hands in which keys read pressed, as a bit mask, and the time (ticks_ms, wrapping); events
# come out of a preallocated ring. Nothing here allocates after __init__ (tests/core/
# test_keys.py proves it under micropython.heap_lock), so sample() may run from a timer.
#
# Rules:
# - A level counts once it has read the same for DEBOUNCE_MS: contact bounce (a few ms of
#   chatter on press and on release) never makes two presses.
# - PRESS when a key goes down alone; CLICK when it comes up before LONG_MS (the short
#   press: the UI acts on it, so a long press never also does the short one's work); LONG at
#   LONG_MS held and HOLD at HOLD_MS held (once each); REPEAT every REPEAT_MS after
#   REPEAT_DELAY_MS on up and down; RELEASE whenever a key comes up.
# - Two keys at once: a key pressed while another is down makes both void for this press
#   (no PRESS, CLICK, LONG, HOLD or REPEAT; RELEASE still comes), so a hand across the
#   keypad does nothing. Stop is never voided: stop is never refused, on the protocol or
#   here, and another key held (or stuck) must not block it.
# - A key held STUCK_MS is reported once (STUCK) and from then on ignored until it comes up,
#   so a jammed key voids nothing else.
from micropython import const

from pump.ticks import ticks_add, ticks_diff

# Key numbers: bit k of a sample is key k (1 = pressed).
OK = const(0)  # Start/OK
STOP = const(1)  # Stop/No
UP = const(2)
DOWN = const(3)
INFO = const(4)
BOLUS = const(5)  # bolus / back
COUNT = const(6)
NAMES = ("ok", "stop", "up", "down", "info", "bolus")

# Events: get() returns kind << 3 | key, or -1 when there is none.
PRESS = const(1)
CLICK = const(2)
LONG = const(3)
HOLD = const(4)
REPEAT = const(5)
RELEASE = const(6)
STUCK = const(7)
EVENT_NAMES = ("", "press", "click", "long", "hold", "repeat", "release", "stuck")

# Debounce: tactile switches bounce for under 5 ms typically, 10 ms at worst (e.g. the
# Omron B3F's datasheet gives a bounce time of 5 ms max); 20 ms stable is twice the worst.
DEBOUNCE_MS = const(20)
LONG_MS = const(1000)  # Stop held: pause; OK held: start
HOLD_MS = const(3000)  # Info held: keypad lock on/off; Stop held while idle: power off
REPEAT_DELAY_MS = const(500)
REPEAT_MS = const(150)
STUCK_MS = const(30000)
_REPEATS = const((1 << UP) | (1 << DOWN))
_RING = const(32)  # events between two reads: far more than a hand makes in 50 ms


class Keys:
    def __init__(self, now):
        self._raw = 0  # last sampled mask
        self._stable = 0  # debounced mask
        self._void = 0  # keys whose press is void (a chord)
        self._long = 0  # keys whose LONG came
        self._hold = 0  # keys whose HOLD came
        self._stuck = 0  # keys held past STUCK_MS, ignored until they come up
        self._changed = [now] * COUNT  # when each key's raw level last changed
        self._down_at = [now] * COUNT  # when each key's debounced press began
        self._next_rep = [now] * COUNT
        self._q = bytearray(_RING)
        self._head = 0  # next to read
        self._n = 0  # events queued
        self.dropped = 0  # events lost to a full ring
        self.now = now

    def _put(self, kind, k):
        if self._n >= _RING:
            self.dropped += 1
            return
        self._q[(self._head + self._n) % _RING] = kind << 3 | k
        self._n += 1

    def get(self):
        """The next event (kind << 3 | key), or -1."""
        if not self._n:
            return -1
        e = self._q[self._head]
        self._head = (self._head + 1) % _RING
        self._n -= 1
        return e

    def pending(self):
        return self._n

    def down(self):
        """The debounced mask of keys down (stuck ones included)."""
        return self._stable

    def idle(self):
        """No key reads pressed, none is down after debounce, no event waits: a sampler may
        slow down until a key's edge."""
        return not (self._raw | self._stable | self._n)

    def held_ms(self, k, now):
        """How long key k has been down (debounced), 0 if up."""
        if not self._stable >> k & 1:
            return 0
        return ticks_diff(now, self._down_at[k])

    def sample(self, mask, now):
        """Which keys read pressed now (bit k: key k), at `now` (ticks_ms). Call every 5-10
        ms; a slower caller only delays events, it never doubles them."""
        self.now = now
        raw = self._raw
        if mask != raw:
            diff = mask ^ raw
            for k in range(COUNT):
                if diff >> k & 1:
                    self._changed[k] = now
            self._raw = mask
        new = 0  # keys whose press counts from this sample
        for k in range(COUNT):
            bit = 1 << k
            level = mask & bit
            if level != self._stable & bit:
                if ticks_diff(now, self._changed[k]) >= DEBOUNCE_MS:
                    if level:
                        new |= bit
                    else:
                        self._released(k, bit)
            elif level:
                self._held(k, bit, now)
        if new:
            self._pressed(new, now)

    def _pressed(self, new, now):
        others = self._stable & ~self._stuck
        self._stable |= new
        if others or new & (new - 1):
            # A chord (another key down, or two in one sample): every key down now is void
            # for this press, Stop excepted.
            self._void |= (others | new) & ~(1 << STOP)
        for k in range(COUNT):
            bit = 1 << k
            if new & bit:
                self._down_at[k] = now
                self._next_rep[k] = ticks_add(now, REPEAT_DELAY_MS)
                self._long &= ~bit
                self._hold &= ~bit
                if not self._void & bit:
                    self._put(PRESS, k)

    def _released(self, k, bit):
        self._stable &= ~bit
        if not (self._void | self._long | self._stuck) & bit:
            self._put(CLICK, k)
        self._void &= ~bit
        self._stuck &= ~bit
        self._long &= ~bit
        self._hold &= ~bit
        self._put(RELEASE, k)

    def _held(self, k, bit, now):
        if (self._void | self._stuck) & bit:
            return
        t = ticks_diff(now, self._down_at[k])
        if t >= STUCK_MS:
            self._stuck |= bit
            self._put(STUCK, k)
            return
        if t >= LONG_MS and not self._long & bit:
            self._long |= bit
            self._put(LONG, k)
        if t >= HOLD_MS and not self._hold & bit:
            self._hold |= bit
            self._put(HOLD, k)
        if _REPEATS & bit and ticks_diff(now, self._next_rep[k]) >= 0:
            self._next_rep[k] = ticks_add(self._next_rep[k], REPEAT_MS)
            self._put(REPEAT, k)
