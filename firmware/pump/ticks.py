# Wrap-around tick arithmetic with MicroPython's semantics (period 2**30).
# The core never subtracts raw ticks: on the board ticks_us wraps every ~17.9 min.
from micropython import const

PERIOD = const(0x40000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def ticks_add(ticks, delta):
    return (ticks + delta) & _MASK


def ticks_diff(end, start):
    # Signed difference in (-PERIOD/2, PERIOD/2], as time.ticks_diff.
    return ((end - start + _HALF) & _MASK) - _HALF
