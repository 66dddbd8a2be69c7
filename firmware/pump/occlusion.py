# Occlusion detector: the force on the plunger against the volume pushed. Pure integers, fed
# load-cell samples (mN) and the steps delivered; it never sees time, so it works the same at
# 0.1 and 5 mL/h.
#
# A blocked line traps everything pushed: pressure rises by V / C (C: syringe + line
# compliance), and the force by that pressure times the stopper's area, about 63 mN per uL
# on a 10 mL syringe. Friction changes by ~1 mN per uL along the stroke, and the line's own
# flow pressure settles within a few uL. So the detector keeps the mean force of each uL
# delivered and raises when the newest two uL sit RISE_FRACTION of an occlusion's rise above
# the lowest of the ten before them: about 7 uL after the line blocks, at any rate. The
# first uL after a start or resume is the take-up (the pusher loading the stopper, samples
# from before the first step): it is left out, so the window is full 13 uL after a start.
# An absolute ceiling (low/medium/high 300/500/800 mmHg above the friction seen since the
# start, all below 20 psi = 1034 mmHg) catches a slow rise.
from micropython import const

_NL_PER_BUCKET = const(1000)  # one uL of delivery per force mean
_WINDOW = const(12)  # buckets kept: 10 for the reference, the newest 2 for the test
# Raise at RISE_NUM/10 of the force 10 uL trapped would add (7). Public: the host's alarm
# bench sweeps it (pumphost.bench.alarms); read when a detector is made.
RISE_NUM = 7
_RISE_DEN = const(10)
_REF_UL = const(10)
_TAKE_UP = const(1)  # buckets left out after a reset
CEILINGS_MMHG = {"low": 300, "medium": 500, "high": 800}
_UN_PER_MMHG_PER_MM2 = const(133)  # 1 mmHg on 1 mm^2 is 133.3 uN

OK = const(0)
OCCLUSION = const(1)
CEILING = const(2)


class OcclusionDetector:
    def __init__(self, vol, area_nl_per_mm, compliance_nl_per_mmhg, ceiling="medium"):
        if ceiling not in CEILINGS_MMHG:
            raise ValueError("ceiling must be low, medium or high")
        # uN per mmHg on the stopper: area in mm^2 is area_nl_per_mm / 1000.
        self.un_per_mmhg = area_nl_per_mm * _UN_PER_MMHG_PER_MM2 // 1000
        # mN the trapped 10 uL would add, and the rise that raises.
        full = _REF_UL * 1000 * self.un_per_mmhg // compliance_nl_per_mmhg // 1000
        self.rise_mn = full * RISE_NUM // _RISE_DEN
        self.ceiling_mn = CEILINGS_MMHG[ceiling] * self.un_per_mmhg // 1000
        self._compliance = compliance_nl_per_mmhg
        # Steps per uL bucket, rounded up: vol = nL per step as (num, den).
        self._bucket_steps = (_NL_PER_BUCKET * vol[1] + vol[0] - 1) // vol[0]
        self._means = [0] * _WINDOW
        self.reset(0)

    def reset(self, steps):
        """A new segment of delivery (start, resume): forget the force history."""
        self._n = 0  # buckets filled so far (up to _WINDOW)
        self._take_up = _TAKE_UP
        self._next = steps + self._bucket_steps
        self._sum = 0
        self._count = 0
        self.floor_mn = None  # lowest bucket mean since the reset: the friction
        self.rise = 0  # the last test's rise, mN (for status and the bench)
        self.excess_mn = 0  # at a detection: the newest uL's force above its reference
        self.found = OK  # the last detection: OCCLUSION or CEILING

    def feed(self, force_mn, steps):
        """One sample at `steps` delivered. Returns OK, OCCLUSION or CEILING."""
        self._sum += force_mn
        self._count += 1
        if steps < self._next:
            return OK
        mean = self._sum // self._count
        self._sum = self._count = 0
        self._next = steps + self._bucket_steps
        if self._take_up:
            self._take_up -= 1
            return OK
        m = self._means
        for i in range(_WINDOW - 1):
            m[i] = m[i + 1]
        m[_WINDOW - 1] = mean
        if self._n < _WINDOW:
            self._n += 1
        if self.floor_mn is None or mean < self.floor_mn:
            self.floor_mn = mean
        if mean - self.floor_mn >= self.ceiling_mn:
            self.excess_mn = mean - self.floor_mn
            self.found = CEILING
            return CEILING
        if self._n < _WINDOW:
            return OK
        low = m[0]
        for i in range(1, _WINDOW - 2):
            if m[i] < low:
                low = m[i]
        self.rise = (m[_WINDOW - 1] + m[_WINDOW - 2]) // 2 - low
        if self.rise < self.rise_mn:
            return OK
        self.excess_mn = m[_WINDOW - 1] - low
        self.found = OCCLUSION
        return OCCLUSION

    def relief_nl(self):
        """After a detection: the volume trapped above the pressure the reference force
        saw, from the force excess, the stopper's area and the compliance. Drawing the
        plunger back by this much relieves the line without sucking from the patient
        (rounded down)."""
        e = self.excess_mn
        if e <= 0:
            return 0
        # eighths of a mmHg: small ints all the way (the cell's full scale is 50 N)
        mmhg8 = (e if e < 100000 else 100000) * 8000 // self.un_per_mmhg
        return mmhg8 * self._compliance // 8
