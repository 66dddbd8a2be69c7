# Wrap-around tick arithmetic with MicroPython's semantics (period 2**30).
# The core never subtracts raw ticks: on the board ticks_us wraps every ~17.9 min.
# Written so no intermediate leaves the 31-bit small-int range of the rp2 (no allocation).
from micropython import const

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
PERIOD = _MASK + 1  # for callers and tests; not used on the hot path


def ticks_add(ticks, delta):
    return ((ticks - _MASK - 1) + (delta & _MASK)) & _MASK


def ticks_diff(end, start):
    # Signed difference in [-PERIOD/2, PERIOD/2), as time.ticks_diff.
    d = (end - start) & _MASK
    return d - _MASK - 1 if d >= _HALF else d


try:
    # The board's own is in C, about twice as fast in the service step; only where its period
    # is ours (the rp2's is; the 64-bit unix port's is 2**62).
    from time import ticks_diff as _c_diff

    if _c_diff(0, _MASK) == 1 and _c_diff(_MASK, 0) == -1:
        ticks_diff = _c_diff  # noqa: F811
except ImportError:  # CPython
    pass
