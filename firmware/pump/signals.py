# Alarm signals a person hears and sees, after IEC 60601-1-8: the buzzer's bursts and the LED's
# flashing per priority, as bit patterns a driver plays without Python (drivers/alarmsignal.py:
# PIO fed by DMA from a ring, so the timing holds while Python is busy, interrupts are off for
# a flash write, or the interpreter is stuck), and the annunciator that tells the driver what
# to play from the alarm manager's state. Pure logic: integers, time passed in.
from micropython import const

from pump import alarms

HIGH = alarms.HIGH
MEDIUM = alarms.MEDIUM
LOW = alarms.LOW

# --- The standard's ranges ---
# IEC 60601-1-8:2006 (+A1:2012), 6.3.3.1, the tables of burst and pulse characteristics of
# auditory alarm signals (Tables 3 and 4 of that edition), and 6.3.2.2, the table of alarm
# indicator lights. Times in ms, frequencies in Hz or mHz. Burst: high is 10 pulses spaced
# x, x, 2x + td, x, (0.35-1.30 s), x, x, 2x + td, x ("3 + 2, pause, 3 + 2"), x in 50-125 ms;
# medium 3 pulses and low 1-2 pulses spaced y in 125-250 ms; x and y within +-5 % inside a
# burst. Interburst interval tb (end of a burst to the next one's start): high 2.5-15 s,
# medium 2.5-30 s, low over 15 s or no repeat. Pulse: fundamental 150-1000 Hz with at least 4
# harmonic components in 300-4000 Hz; effective duration td 75-200 ms (high), 125-250 ms
# (medium, low); rise time 10-20 % of td. Light: high red flashing at 1.4-2.8 Hz, medium
# yellow flashing at 0.4-0.8 Hz, both 20-60 % on; low yellow (or cyan), steady.
# The project's reference summary (issue 20) gives the pulse counts, the repeat ranges, 150-1000
# Hz and the light's colours and frequencies; the widths, spacings, rise time and duty cycle
# are the standard's as quoted from memory of the 2006 edition: check every figure against a
# purchased copy before a type test.
IEC = {
    HIGH: {
        "pulses": (10, 10),
        "td_ms": (75, 200),
        "x_ms": (50, 125),
        "pause_ms": (350, 1300),
        "tb_ms": (2500, 15000),
        "flash_mhz": (1400, 2800),
    },
    MEDIUM: {
        "pulses": (3, 3),
        "td_ms": (125, 250),
        "y_ms": (125, 250),
        "tb_ms": (2500, 30000),
        "flash_mhz": (400, 800),
    },
    LOW: {
        "pulses": (1, 2),
        "td_ms": (125, 250),
        "y_ms": (125, 250),
        "tb_ms": (15001, 0x3FFFFFFF),  # over 15 s (or no repeat)
        "flash_mhz": (0, 0),  # steady
    },
}
IEC_TONE_HZ = (150, 1000)
IEC_DUTY_PCT = (20, 60)
IEC_SPREAD_PCT = const(5)  # x and y within +-5 % inside a burst

# --- What this pump plays ---
# A square wave from a GPIO into a passive piezo: its harmonics are the odd ones, so 4 of them
# in 300-4000 Hz (f, 3f, 5f, 7f) need f <= 571 Hz; 500 Hz gives 500, 1500, 2500 and 3500 Hz,
# and a 1 ms half period. No amplitude envelope: a pin cannot shape the rise time (the
# piezo's own response does, a little), so the 10-20 % rise time is not met by this circuit.
TONE_HZ = const(500)
SLOT_MS = const(1)  # one half period of the tone: one bit of the tone pattern
_HIGH_TD = const(150)
_HIGH_X = const(100)
_HIGH_PAUSE = const(500)
_MED_TD = const(200)
_MED_Y = const(200)
_LOW_TD = const(200)
_LOW_Y = const(200)
# Burst period (ms): a power of two of 8 ms slots, so the pattern is a DMA ring (byte size a
# power of two) that repeats by itself. High 8.192 s (tb 4.9 s), medium 8.192 s (tb 7.2 s),
# low 16.384 s (tb 15.8 s).
PERIOD_MS = {HIGH: 8192, MEDIUM: 8192, LOW: 16384}

# The light: two LED elements, red on the first pin, green on the second; yellow is both.
RED = const(1)
GREEN = const(2)
LIGHT_SLOT_MS = const(16)  # 2 bits per slot
# (period ms, on ms, colour): high 512 ms (1.95 Hz), medium 2048 ms (0.49 Hz), both 50 % on.
_FLASH = {HIGH: (512, 256, RED), MEDIUM: (2048, 1024, RED | GREEN)}


def pulses(priority):
    """The burst of `priority` as (start ms, width ms) per pulse, the first at 0; [] for 0."""
    if priority == HIGH:
        td, x = _HIGH_TD, _HIGH_X
        gaps = (x, x, 2 * x + td, x, _HIGH_PAUSE, x, x, 2 * x + td, x)
    elif priority == MEDIUM:
        td, gaps = _MED_TD, (_MED_Y, _MED_Y)
    elif priority == LOW:
        td, gaps = _LOW_TD, (_LOW_Y,)
    else:
        return []
    out = [(0, td)]
    t = 0
    for g in gaps:
        t += td + g
        out.append((t, td))
    return out


def tone_bits(priority, buf):
    """Fills buf (PERIOD_MS[priority] // 8 bytes; any size for 0) with the pin's level per
    1 ms slot, bit i of the pattern in byte i >> 3, LSB first (the PIO shifts 32-bit little
    endian words out to the right): the tone toggles through each pulse, low elsewhere."""
    for i in range(len(buf)):
        buf[i] = 0
    if not priority:
        return
    if len(buf) * 8 * SLOT_MS != PERIOD_MS[priority]:
        raise ValueError("tone buffer must be %d bytes" % (PERIOD_MS[priority] // 8))
    for start, width in pulses(priority):
        for i in range(start, start + width, 2):  # high on every other slot: TONE_HZ
            buf[i >> 3] |= 1 << (i & 7)


def light_bytes(priority):
    """Size of the light pattern of `priority` in bytes (a power of two, at least a word)."""
    f = _FLASH.get(priority)
    return f[0] // LIGHT_SLOT_MS // 4 if f else 4


def light_bits(priority, buf):
    """Fills buf (light_bytes(priority) bytes) with the LED levels per 16 ms slot, 2 bits
    (red, green) per slot, LSB first."""
    if len(buf) != light_bytes(priority):
        raise ValueError("light buffer must be %d bytes" % light_bytes(priority))
    f = _FLASH.get(priority)
    for i in range(len(buf)):
        buf[i] = 0x55 * (RED | GREEN) if priority == LOW else 0
    if f is None:
        return
    for i in range(f[1] // LIGHT_SLOT_MS):
        buf[i >> 2] |= f[2] << (2 * (i & 3))


class Annunciator:
    """Tells `driver` what to play: driver.show(sound, light), each a priority (0: quiet, dark),
    called at once when an alarm is raised, acknowledged, silenced or cleared (the manager's
    hook) and from update(now), which the service step calls so that a silence ends after
    2 minutes. Sound: the manager's sounding(); light: the highest active alarm, acknowledged
    or silenced too, until it is cleared. A driver that raises never stops an alarm: errors
    counts that, error keeps the last exception, and the next update tries again."""

    def __init__(self, manager, driver, now):
        self._m = manager
        self._driver = driver
        self.sound = -1
        self.light = -1
        self.errors = 0
        self.error = ""
        manager.changed = self.update
        self.update(now)

    def update(self, now):
        m = self._m
        sound = m.sounding(now)
        light = m.lit()
        if sound == self.sound and light == self.light:
            return
        try:
            self._driver.show(sound, light)
        except Exception as e:  # noqa: BLE001 - the alarm stands whatever the driver did
            # Kept as it is (a repr could need memory the driver just lacked); the next
            # update tries again.
            self.errors += 1
            self.error = e
            return
        self.sound = sound
        self.light = light


class Recorder:
    """A driver for a target without buzzer or LED (the emulator, tests): timeline holds
    (clock(), sound, light) at every change; expand() turns it into the pulses the board
    plays. The emulator gives a clock of elapsed us (monotonic, not a wrapping tick)."""

    def __init__(self, clock):
        self._clock = clock
        self.timeline = []

    def show(self, sound, light):
        self.timeline.append((self._clock(), sound, light))


def expand(timeline, end):
    """The tone pulses a board plays for `timeline` (Recorder's, times in us, monotonic) up
    to `end`, as (us since the timeline's first entry, width us). A new sound starts its
    burst afresh at the change (the driver restarts the pattern); a change of light alone
    does not."""
    if not timeline:
        return []
    t0 = timeline[0][0]
    segs = []  # (us, sound) where the sound changes
    for t, s, _ in timeline:
        if not segs or segs[-1][1] != s:
            segs.append((t - t0, s))
    stop = end - t0
    out = []
    for k in range(len(segs)):
        base, s = segs[k]
        upto = segs[k + 1][0] if k + 1 < len(segs) else stop
        if not s:
            continue
        while base < upto:
            for start, width in pulses(s):
                a = base + start * 1000
                if a >= upto:
                    break
                w = width * 1000
                out.append((a, w if a + w <= upto else upto - a))
            base += PERIOD_MS[s] * 1000
    return out
