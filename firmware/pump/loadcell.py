# The load cell's pure half: HX711 counts to mN with a calibration, the cell's faults, and the
# syringe switch, behind the interface pump.api.Pump reads in its service step (`sensors`):
# take() -> the next force sample in mN or None; `fault`: 0 ok, 1 no data, 2 saturated;
# present() -> the syringe switch says seated.
#
# The board's driver (drivers/hx711.py) reads the HX711 with a PIO state machine (channel A,
# gain 128, 10 samples/s) and hands over raw 24-bit words; this part never touches hardware
# and runs on CPython, the unix port and the rp2. take() runs in the service step: small ints
# only (a count times 1000 would pass 2**30, so the conversion splits it), no tuples, no
# allocation.
#
# Calibration: force = (counts - offset) / scale, offset in counts (the unloaded reading),
# scale in counts per N. Kept on the board's filesystem as a small JSON file (/calib.json:
# {"offset": 8312, "scale": 43770}); without one the nominal figures below stand.
from micropython import const

from pump.ticks import ticks_diff

OK = const(0)
NO_DATA = const(1)  # no sample for _STALE_US: DOUT never went low (open, unpowered)
SATURATED = const(2)  # the HX711 clamps an input beyond its range (a broken bridge wire)

PERIOD_US = const(100000)  # 10 samples/s: the HX711's RATE pin low
_STALE_US = const(500000)  # 5 sample periods without data
# take() not called for this long: polling (re)starts. Above the slowest service period
# (pump.api.SERVICE_CALM_MS) with room for a step that a command delayed;
# a longer gap is the motor standing still (the driver's FIFO then holds old samples).
_RESUME_US = const(1000000)
# The HX711's clamps in counts: an input beyond its range reads as one of these. The rig and
# the false-alarm run clamp with them; the virtual board's chip model (hx711.mjs) has a copy.
RAW_MAX = const(0x7FFFFF)
RAW_MIN = const(-0x800000)
_FULL = const(0x1000000)
_SIGN = const(0x800000)
_MIN_WORD = const(RAW_MIN + _FULL)  # RAW_MIN as the 24-bit word the driver hands over

# Nominal calibration: a 5 kg bar cell (1.0 mV/V) excited at 3.3 V on an HX711 at gain 128
# (+-0.5 AVDD / 128 = +-12.9 mV full scale over 2**23 counts: 650 counts per uV), 67.3 uV per
# N: 43,770 counts per N; offset 0. Calibrate each build: hang known weights on the pusher.
DEFAULT_OFFSET = const(0)
DEFAULT_SCALE = const(43770)
SCALE_MIN = const(1000)  # counts per N: below this a count is over a mN
SCALE_MAX = const(1000000)  # above this (remainder x 1000) would leave the small ints
CALIB_PATH = "/calib.json"


def check_calibration(offset, scale):
    """Raises ValueError unless (offset, scale) are integers the conversion can take."""
    if not isinstance(offset, int) or not isinstance(scale, int):
        raise ValueError("offset and scale must be whole counts")
    if not RAW_MIN < offset < RAW_MAX:
        raise ValueError("offset must be within the HX711's 24-bit range")
    if not SCALE_MIN <= scale <= SCALE_MAX:
        raise ValueError("scale must be %d..%d counts per N" % (SCALE_MIN, SCALE_MAX))


def parse_calibration(text):
    """(offset, scale) from the calibration file's JSON text; ValueError if it is bad."""
    import json

    try:
        data = json.loads(text)
        offset, scale = data["offset"], data["scale"]
    except (ValueError, KeyError, TypeError):
        raise ValueError('calibration must be JSON {"offset": N, "scale": N}') from None
    check_calibration(offset, scale)
    return offset, scale


def calibration_json(offset, scale):
    check_calibration(offset, scale)
    return '{"offset": %d, "scale": %d}\n' % (offset, scale)


def load_calibration(path=CALIB_PATH):
    """(offset, scale, stored): the file's calibration, or the nominal one (stored False) if
    there is no file. A file that exists but is bad raises ValueError: the caller decides."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        offset = DEFAULT_OFFSET  # not a constant tuple: see LoadCell.calibrate
        scale = DEFAULT_SCALE
        return offset, scale, False
    offset, scale = parse_calibration(text)
    return offset, scale, True


def save_calibration(offset, scale, path=CALIB_PATH):
    text = calibration_json(offset, scale)
    with open(path, "w") as f:
        f.write(text)


class LoadCell:
    """read() -> the next raw 24-bit sample (0..0xFFFFFF) or -1 when none waits; clock() ->
    ticks in us; switch() -> the syringe switch's pin level, `seated` the level that means a
    syringe is in place. With `waiting` (-> how many samples wait), read() is called only
    when one does, and need not return -1: the board passes its state machine's own
    rx_fifo and get, so a sample costs no Python call of the driver's."""

    def __init__(
        self,
        read,
        clock,
        switch,
        seated=0,
        offset=DEFAULT_OFFSET,
        scale=DEFAULT_SCALE,
        waiting=None,
    ):
        self._read = read
        self._waiting = waiting
        self._clock = clock
        self._switch = switch
        self._seated = seated
        self.calibrate(offset, scale)
        self.fault = OK
        self.counts = None  # the last good sample, signed counts (REPL, calibration)
        self.samples = 0  # good samples taken
        now = clock()
        self._last = now  # tick of the last sample, or of polling (re)starting
        self._polled = now

    def calibrate(self, offset, scale):
        check_calibration(offset, scale)
        # + 0: a small int for sure. A frozen constant tuple (return 0, 43770) holds its ints
        # as long-int objects in flash, and every division by one would allocate.
        self.offset = offset + 0
        self.scale = scale + 0

    def mn(self, counts):
        """Force in mN (rounded down) for signed counts. (counts - offset) * 1000 would pass
        2**30, so whole newtons first, then the remainder (below scale, so x 1000 fits)."""
        d = counts - self.offset
        s = self.scale
        q = d // s
        return q * 1000 + (d - q * s) * 1000 // s

    def present(self):
        return self._switch() == self._seated

    def _next(self):
        w = self._waiting
        if w is None:
            return self._read()
        return self._read() if w() else -1

    def take(self):
        """The next force sample in mN, or None (nothing new, or a fault: see `fault`). The
        service step calls it until None: every sample the HX711 gave is taken, in order.
        Written for the service step's cost (it runs for every sample, 10 a second): the
        conversion of mn() inline, one clock read."""
        now = self._clock()
        if ticks_diff(now, self._polled) > _RESUME_US:
            # Nobody asked for a while (the pump was not running): what waits is stale, an
            # old fault is history, and the cell gets its full time to answer from now.
            while self._next() >= 0:
                pass
            self._last = now
            self.fault = OK
        self._polled = now
        w = self._waiting
        if w is None:
            raw = self._read()
        else:
            raw = self._read() if w() else -1
        if raw < 0:
            if ticks_diff(now, self._last) > _STALE_US:
                self.fault = NO_DATA
            return None
        self._last = now
        if raw == RAW_MAX or raw == _MIN_WORD:
            self.fault = SATURATED
            return None
        self.fault = OK
        self.samples += 1
        if raw & _SIGN:
            raw -= _FULL
        self.counts = raw
        # mn(raw), inline
        d = raw - self.offset
        s = self.scale
        q = d // s
        return q * 1000 + (d - q * s) * 1000 // s
