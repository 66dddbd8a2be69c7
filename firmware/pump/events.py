# Event codes, shared by the in-RAM EventLog below and the power-cut-safe flash log
# (pump.logring, format in pump/LOG-FORMAT.md, which says what a and b mean for each code).
# Codes are one byte in the flash record: 0x00 and 0xFF are never used (0xFF is erased flash).
# A code's meaning never changes once released; new codes take new numbers.
from micropython import const

START = const(1)  # a, b: 0
PAUSE = const(2)  # a: steps delivered from the loaded syringe (0 in older logs), b: 0
RESUME = const(3)  # a, b: 0
STOP = const(4)  # a: steps delivered from the loaded syringe
RATE = const(5)  # a/b: the new rate in nL/h, an exact fraction (num, den)
COMPLETE = const(6)  # a: steps delivered (the syringe is empty)
ALARM = const(7)  # a: alarm kind code (pump.alarms.KINDS), b: ALARM_RAISED ... ALARM_CLEARED
BOOT = const(8)  # a: reset cause (CAUSE_*), b: steps delivered before the reset, or -1
LOAD = const(9)  # a: syringe code (SYRINGES), b: fill in nL
PROGRAM = const(10)  # a: dose ug/24 h, b: concentration ug/mL (0, 0: a plain mL/h program)
CONFIG = const(11)  # a: setting key (CONFIG_*), b: the new value (old: the previous record)
CLOCK = const(12)  # a: UTC before, b: UTC after (s since logrec.LOG_EPOCH; -1: not set)
FAULT = const(13)  # a: fault code (an alarm kind code), b: detail (e.g. steps late)
DELIVERED = const(14)  # a: nL delivered from the loaded syringe, b: its steps (cumulative)
BOLUS = const(15)  # a: bolus nL granted, b: its duration in ms (pump.program)
INFUSION_END = const(16)  # a: steps delivered, b: 0 stopped, 1 KVO (the VTBI was delivered)
BOLUS_DENIED = const(17)  # a: reason code (pump.program.DENY_*), b: 0
PIN = const(18)  # a: 1 wrong PIN, 2 locked out, 3 PIN changed, 4 mode changed; b: detail
BACKOFF = const(19)  # a: nL drawn back after an occlusion, b: steps delivered after it
SUPPLY = const(20)  # a: what (pump.power: 1 mains lost ... 6 depleted), b: the cell's mV
# Written by the flash log itself (pump.logring), never by callers:
TIME = const(0x7E)  # time anchor: a: UTC s since LOG_EPOCH or -1, b: uptime s
SEAL = const(0x7F)  # HMAC chain link: a, b: the first 8 bytes of the chain value

# b of an ALARM record (pump.alarms writes them).
ALARM_RAISED = const(1)
ALARM_ACKNOWLEDGED = const(2)
ALARM_SILENCED = const(3)
ALARM_CLEARED = const(4)

# a of a BOOT record.
CAUSE_POWER_ON = const(1)  # power-up or RUN pin: nothing survived in RAM
CAUSE_SOFT = const(2)  # soft reset (Ctrl-D, mpremote's connect-time reset)
CAUSE_WATCHDOG = const(3)
CAUSE_OTHER = const(4)

# a of a CONFIG record.
CONFIG_DELIVERED_S = const(1)  # seconds between DELIVERED records while running (default 60)
CONFIG_PIN_TRIES = const(2)  # protocol config.set: wrong PINs before the lockout (default 5)
CONFIG_LOCKOUT_MIN = const(3)  # protocol config.set: the lockout, minutes (default 15)

# a of a LOAD record: the catalogue ids of pump.syringes, numbered for good.
SYRINGES = {
    "bd-plastipak-10ml": 1,
    "bd-plastipak-20ml": 2,
    "bd-plastipak-30ml": 3,
    "bbraun-omnifix-10ml": 4,
    "bbraun-omnifix-20ml": 5,
}

NAMES = {
    START: "start",
    PAUSE: "pause",
    RESUME: "resume",
    STOP: "stop",
    RATE: "rate",
    COMPLETE: "complete",
    ALARM: "alarm",
    BOOT: "boot",
    LOAD: "load",
    PROGRAM: "program",
    CONFIG: "config",
    CLOCK: "clock",
    FAULT: "fault",
    DELIVERED: "delivered",
    BOLUS: "bolus",
    INFUSION_END: "infusion_end",
    BOLUS_DENIED: "bolus_denied",
    PIN: "pin",
    BACKOFF: "backoff",
    SUPPLY: "supply",
    TIME: "time",
    SEAL: "seal",
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
