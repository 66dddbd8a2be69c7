# In-RAM event record: a preallocated ring of fixed-size records. The power-cut-safe flash
# log will persist these same records; here they only need to be counted and read back.
from micropython import const

START = const(1)
PAUSE = const(2)
RESUME = const(3)
STOP = const(4)
RATE = const(5)
COMPLETE = const(6)
ALARM = const(7)

NAMES = {
    START: "start",
    PAUSE: "pause",
    RESUME: "resume",
    STOP: "stop",
    RATE: "rate",
    COMPLETE: "complete",
    ALARM: "alarm",
}

_FIELDS = const(4)  # tick, code, a, b


class EventLog:
    def __init__(self, capacity=64):
        self._buf = [0] * (capacity * _FIELDS)
        self._cap = capacity
        self.count = 0  # records ever written; the ring keeps the newest `capacity`

    def add(self, tick, code, a=0, b=0):
        i = (self.count % self._cap) * _FIELDS
        buf = self._buf
        buf[i] = tick
        buf[i + 1] = code
        buf[i + 2] = a
        buf[i + 3] = b
        self.count += 1

    def records(self):
        first = max(0, self.count - self._cap)
        out = []
        for n in range(first, self.count):
            i = (n % self._cap) * _FIELDS
            out.append(
                (n, self._buf[i], NAMES[self._buf[i + 1]], self._buf[i + 2], self._buf[i + 3])
            )
        return out
