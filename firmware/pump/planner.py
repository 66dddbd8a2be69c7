# Exact step planner.
#
# Progress is kept as an exact fraction of a microstep. In a segment of constant rate the
# k-th step after the segment start falls at t_k = ceil((k - p0) / s) µs, where p0 is the
# progress carried in and s the rate in steps/µs, both exact fractions over a common
# denominator L. So after any elapsed time t, the steps issued are exactly
# floor(programmed volume / volume per step): nothing drifts over days, across pause/resume
# or across rate changes.
#
# Segment setup uses unbounded integers (allowed: it runs on user commands). Per step only a
# Bresenham update runs, on 24-bit limbs, so on the rp2 (31-bit small ints) the step path
# never allocates. Output is Klipper-style batches: (count, interval µs).
from micropython import const

from pump.arith import gcd

_LIMB = const(24)
_BASE = const(0x1000000)
_LIMB_MASK = const(0xFFFFFF)
_HI_LIMIT = const(0x20000000)  # keeps hi-limb sums below 2**30
US_PER_HOUR = const(3600000000)
# A batch never spans more time than this, so an executor can add count * interval to a
# tick counter with small ints.
MAX_BATCH_SPAN_US = const(0x10000000)
# Longest allowed gap between steps: far below the 2**30 tick period, and small enough that
# an executor can hold any interval in one 32-bit word with room for a count.
MAX_INTERVAL_US = const(0x10000000)
# Shortest gap: the step pulse itself needs a few µs, and no syringe rate comes near this.
MIN_INTERVAL_US = const(20)


class PlanError(ValueError):
    pass


class StepPlanner:
    def __init__(self, vol):
        # vol: nL per microstep as (num, den), from mechanics.nl_per_step.
        self._vn, self._vd = vol
        self._pn, self._pd = 0, 1  # progress at the segment start, a fraction of one step
        self._a = 0  # steps per µs = _a / _l; 0 means halted
        self._l = 1
        self._off = 0  # progress at segment start, in 1/_l units
        self._pending = 0  # one-interval lookahead for batching, 0 = empty
        self.planned = 0  # steps handed out in this segment (lookahead excluded)

    # --- segment setup (runs on commands, may use big integers) ---

    def progress(self, done, tau_us):
        """Exact progress (num, den) in steps, `tau_us` after step `done` of this segment
        (or after the segment start when done == 0). Fails if the executor claims more
        time than the plan allowed before the next step."""
        a, l_ = self._a, self._l
        if a == 0 and done:
            raise PlanError("executor stepped while halted")
        if done == 0:
            num = self._off + tau_us * a
        else:
            n = done * l_ - self._off + a - 1
            num = a - 1 - n % a + tau_us * a
        if done < 0 or tau_us < 0 or num >= l_:
            raise PlanError("executor state outside the plan")
        g = gcd(num, l_)
        return num // g, l_ // g

    def start_segment(self, rate_num, rate_den, done=0, tau_us=0):
        """End the current segment after `done` executed steps plus `tau_us`, and continue
        at rate_num/rate_den nL/h (0 halts). Validates everything before changing state."""
        if rate_num < 0 or rate_den <= 0:
            raise PlanError("rate must be a non-negative fraction")
        pn, pd = self.progress(done, tau_us)
        if rate_num == 0:
            a, l_, off = 0, pd, pn
            q = r = 0
        else:
            sa = rate_num * self._vd
            sd = rate_den * US_PER_HOUR * self._vn
            g = gcd(sa, sd)
            sa, sd = sa // g, sd // g
            l_ = pd * sd // gcd(pd, sd)
            if (sa * (l_ // sd)) >> _LIMB >= _HI_LIMIT:
                # Denominators grow only when unrelated rates follow each other (e.g. a
                # new concentration). Round the carried progress down to the new rate's
                # own grid: under-delivers by less than 1e-9 of a step, never over.
                pn, pd, l_ = pn * sd // pd, sd, sd
            a = sa * (l_ // sd)
            off = pn * (l_ // pd)
            q, r = divmod(l_, a)
            if q + 1 > MAX_INTERVAL_US:
                raise PlanError("rate too low for the step resolution")
            if q < MIN_INTERVAL_US:
                raise PlanError("rate too high for the drive")
            if (a >> _LIMB) >= _HI_LIMIT:
                raise PlanError("rate not representable exactly")
        self._pn, self._pd = pn, pd
        self._a, self._l, self._off = a, l_, off
        self._q = q
        self._r_hi, self._r_lo = r >> _LIMB, r & _LIMB_MASK
        self._a_hi, self._a_lo = a >> _LIMB, a & _LIMB_MASK
        self._pending = 0
        self.planned = 0
        if a:
            n1 = l_ - off + a - 1
            t1, s1 = divmod(n1, a)
            self._first = t1
            self._s_hi, self._s_lo = s1 >> _LIMB, s1 & _LIMB_MASK

    def due(self, tau_us):
        """Steps of this segment due by `tau_us` after its start (exact floor)."""
        return (self._off + tau_us * self._a) // self._l

    def time_of(self, k):
        """Time of the segment's k-th step (k >= 1), in us after its start: the earliest
        integer time by which k steps are due (ceil((k * L - off) / a))."""
        return -((self._off - k * self._l) // self._a)

    def reset(self):
        """Halt and forget the carried progress. Cannot fail: stop and faults use it, and a
        plan that no longer matches the executor must never block them."""
        self._pn, self._pd = 0, 1
        self._a, self._l, self._off = 0, 1, 0
        self._pending = 0
        self.planned = 0

    def halted(self):
        return self._a == 0

    # --- step path: small integers only, no allocation ---

    def _advance(self):
        if self._pending:
            iv = self._pending
            self._pending = 0
            return iv
        if self.planned == 0:
            return self._first
        lo = self._s_lo + self._r_lo
        hi = self._s_hi + self._r_hi
        if lo >= _BASE:
            lo -= _BASE
            hi += 1
        iv = self._q
        if hi > self._a_hi or (hi == self._a_hi and lo >= self._a_lo):
            lo -= self._a_lo
            hi -= self._a_hi
            if lo < 0:
                lo += _BASE
                hi -= 1
            iv += 1
        self._s_hi = hi
        self._s_lo = lo
        return iv

    def next_batch(self, out, max_count):
        """Fill out[0] = count, out[1] = interval µs (first step's interval counts from the
        previous step or the segment start). Returns the count; 0 when halted."""
        if self._a == 0 or max_count <= 0:
            out[0] = 0
            return 0
        iv = self._advance()
        self.planned += 1
        n = 1
        span = MAX_BATCH_SPAN_US // iv
        if span < max_count:
            max_count = span
        while n < max_count:
            nxt = self._advance()
            if nxt != iv:
                self._pending = nxt
                break
            self.planned += 1
            n += 1
        out[0] = n
        out[1] = iv
        return n
