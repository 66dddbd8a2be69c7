"""The one piece of MicroPython's `micropython` module the core needs on CPython.

`const` marks compile-time constants for the MicroPython compiler; on CPython it is plain
identity. Nothing else is faked: allocation checks run on a real MicroPython.
"""


def const(value: int) -> int:
    return value
