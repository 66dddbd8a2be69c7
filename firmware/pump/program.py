# Programs: what a clinician sets, validated into exact integers (nL, nL/h fractions, us, s),
# carried out on a pump.api.Pump by pump.runner.Runner.
#
# A program is one basal source (a rate in mL/h, a dose per 24 h at a concentration, a volume
# over a duration, or a time-of-day profile of up to 24 segments), optionally a titration plan
# bounded by a maximum, boluses with limits, and a VTBI after which the pump goes on at KVO or
# stops with an end-of-infusion signal. The end is final: KVO never runs above the rate in
# force, and no later titration step, profile segment, titrate or bolus raises it (a new
# program does); a VTBI goes with any basal source (PROTOCOL.md, End of infusion).
#
# Exactness: a bolus runs the pump at the basal rate plus the bolus rate for exactly the
# bolus's duration (pump.controller boost/unboost: the steps are capped at those due by the
# end, and the fraction of a step at the end is carried on), so it delivers its volume to the
# step; the VTBI ends at an exact step count (controller.target).
#
# Time: the runner keeps its own elapsed time (whole seconds plus us, allocation-free) from the
# pump's tick counter, fed by the service step. Lockout, the hourly and 24 h limits and the
# titration plan run on elapsed time, never on the device clock. The device clock (UTC plus an
# offset) only places the time-of-day profile; setting it is an explicit, logged event, and
# the profile then moves from one segment to the next only when local time crosses the next
# segment's start by the passage of time (never by a clock jump): each segment is entered once
# per cycle, in order; a jump lengthens or shortens the current one, never repeats or skips.
from micropython import const

from pump import rate as rates

_US = const(1000000)
DAY_S = const(86400)
MAX_BOLUS_US = const(480000000)  # 8 min: a bolus's end is checked on the tick counter
MAX_SEGMENTS = const(24)
MIN_SEGMENT_MIN = const(15)
MAX_STEPS = const(16)  # titration steps in a plan
MAX_NL = const(100000000)  # 100 mL: any volume in a program
MIN_UTC = 1577836800  # 2020-01-01 (not a const: above the rp2 small ints)

# Why a bolus was denied (BOLUS_DENIED records, protocol error reasons).
DENY_NONE = const(1)
DENY_ALARM = const(2)
DENY_STATE = const(3)
DENY_BUSY = const(4)
DENY_LOCKOUT = const(5)
DENY_HOUR = const(6)
DENY_DAY = const(7)
DENY_ENDED = const(8)
DENY_NAMES = {
    DENY_NONE: "no_bolus",
    DENY_ALARM: "alarm",
    DENY_STATE: "not_running",
    DENY_BUSY: "in_progress",
    DENY_LOCKOUT: "lockout",
    DENY_HOUR: "max_per_hour",
    DENY_DAY: "max_24h",
    DENY_ENDED: "infusion_ended",
}


class ProgramError(ValueError):
    """code: bad_arg (wrong key or type), out_of_range, refused (not now), hard_limit,
    soft_limit (needs confirm)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class BolusDenied(ProgramError):
    def __init__(self, reason, message):
        super().__init__("bolus_denied", message)
        self.reason = reason


# --- argument checks (values come from JSON: ints, decimal strings; never floats) ---


def is_int(v):
    """A JSON whole number: an int, not a bool."""
    return isinstance(v, int) and v is not True and v is not False


def get_int(d, key, lo, hi, default=None):
    v = d.get(key, default)
    if v is None:
        raise ProgramError("bad_arg", "%s is required" % key)
    if not is_int(v):
        raise ProgramError("bad_arg", "%s must be a whole number" % key)
    if not lo <= v <= hi:
        raise ProgramError("out_of_range", "%s is %d, allowed %d to %d" % (key, v, lo, hi))
    return v


def decimal(v, key):
    """A JSON number for `key`, a whole number or a decimal string ('0.136'), as an exact
    (num, den); else ProgramError."""
    if is_int(v):
        return v, 1
    if not isinstance(v, str) or len(v) > 16:
        raise ProgramError("bad_arg", "%s must be a decimal string such as '0.136'" % key)
    try:
        return rates.parse_decimal(v, key)
    except ValueError as e:
        raise ProgramError("bad_arg", str(e)) from None


def get_nl(d, key, lo_nl=1, hi_nl=MAX_NL):
    """A volume in mL (decimal string) -> whole nL."""
    if d.get(key) is None:
        raise ProgramError("bad_arg", "%s is required" % key)
    num, den = decimal(d[key], key)
    if num * 1000000 % den:
        raise ProgramError("out_of_range", "%s: give mL to at most 6 decimals" % key)
    nl = num * 1000000 // den
    if not lo_nl <= nl <= hi_nl:
        raise ProgramError(
            "out_of_range",
            "%s is %s mL, allowed %s to %s mL" % (key, d[key], ml(lo_nl), ml(hi_nl)),
        )
    return nl


def get_rate(d, key):
    """A rate in mL/h (decimal string) -> exact (nL/h num, den), in the pump's range."""
    num, den = decimal(d[key], key)
    try:
        return rates.from_ml_per_h(num, den)
    except ValueError as e:
        raise ProgramError("out_of_range", "%s: %s" % (key, e)) from None


def ml(nl):
    """nL -> mL as a plain decimal string (display)."""
    s = "%d.%06d" % (nl // 1000000, nl % 1000000)
    return s.rstrip("0").rstrip(".") if "." in s else s


def _dose_rate(dose, conc, key):
    try:
        return rates.from_dose(dose, conc)
    except ValueError as e:
        raise ProgramError("out_of_range", "%s: %s" % (key, e)) from None


def _ug_nl(ug, conc):
    return ug * 1000000 // conc  # floor: never more than the dose


def gt(a, b):
    """a > b, for fractions (num, den) with positive denominators."""
    return a[0] * b[1] > b[0] * a[1]


def add(a, b):
    """a + b, for fractions (num, den), reduced."""
    n = a[0] * b[1] + b[0] * a[1]
    d = a[1] * b[1]
    g = _gcd(n, d)
    return n // g, d // g


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


_TOP = (
    "drug",
    "conc_ug_ml",
    "rate_ml_h",
    "dose_ug_24h",
    "volume_ml",
    "duration_min",
    "profile",
    "utc_offset_min",
    "titration",
    "bolus",
    "vtbi_ml",
    "then",
    "kvo_ml_h",
    "max_24h_ug",
    "max_24h_ml",
    "confirm",
)


def _keys(d, allowed, where):
    if not isinstance(d, dict):
        raise ProgramError("bad_arg", "%s must be an object" % where)
    for k in d:
        if k not in allowed:
            raise ProgramError("bad_arg", "%s: unknown key %r" % (where, k))


class Program:
    """A validated program. spec: the dict the protocol was given (see PROTOCOL.md)."""

    def __init__(self, spec):
        _keys(spec, _TOP, "program")
        self.spec = spec
        self.drug = spec.get("drug")
        if self.drug is not None and (not isinstance(self.drug, str) or len(self.drug) > 32):
            raise ProgramError("bad_arg", "drug must be a name of at most 32 characters")
        self.conc = get_int(spec, "conc_ug_ml", 1, 100000, 0) if "conc_ug_ml" in spec else 0
        given = [k for k in ("rate_ml_h", "dose_ug_24h", "volume_ml", "profile") if k in spec]
        if len(given) != 1:
            raise ProgramError(
                "bad_arg", "give exactly one of rate_ml_h, dose_ug_24h, volume_ml, profile"
            )
        self.mode = given[0]
        self.steps = []  # titration: [(at_s after the start, rate, dose)]
        self.tmax = None
        self.dose = 0  # ug/24 h of a dose program (the log's PROGRAM record)
        self.segments = None  # profile: [(start_min, rate, dose)]
        self.utc_offset_min = 0
        if self.mode == "rate_ml_h":
            self.basal = get_rate(spec, "rate_ml_h")
        elif self.mode == "dose_ug_24h":
            self.dose = get_int(spec, "dose_ug_24h", 1, 10000000)
            self.basal = _dose_rate(self.dose, self._conc("dose_ug_24h"), "dose_ug_24h")
        elif self.mode == "volume_ml":
            vol = get_nl(spec, "volume_ml")
            mins = get_int(spec, "duration_min", 1, 31 * 1440)
            # The T34's way: the loaded volume over a duration; the VTBI is that volume.
            self.basal = self._nl_h(vol * 60, mins, "volume_ml over duration_min")
            if "vtbi_ml" in spec:
                raise ProgramError("bad_arg", "volume_ml already sets the VTBI")
        else:
            self._profile(spec)
        if self.mode != "volume_ml" and "duration_min" in spec:
            raise ProgramError("bad_arg", "duration_min goes with volume_ml")
        self.vtbi_nl = vol if self.mode == "volume_ml" else 0
        if "vtbi_ml" in spec:
            self.vtbi_nl = get_nl(spec, "vtbi_ml")
        self.then = spec.get("then", "stop")
        if self.then not in ("stop", "kvo"):
            raise ProgramError("bad_arg", "then must be 'stop' or 'kvo'")
        self._titration(spec.get("titration"))
        self.kvo = None
        if self.then == "kvo":
            if not self.vtbi_nl:
                raise ProgramError("bad_arg", "then = 'kvo' needs a VTBI")
            if "kvo_ml_h" not in spec:
                raise ProgramError("bad_arg", "then = 'kvo' needs kvo_ml_h")
            self.kvo = get_rate(spec, "kvo_ml_h")
            if gt(self.kvo, self.basal_max()):
                raise ProgramError("out_of_range", "kvo_ml_h is above the program's rate")
        elif "kvo_ml_h" in spec:
            raise ProgramError("bad_arg", "kvo_ml_h goes with then = 'kvo'")
        self.max24_nl = 0
        if "max_24h_ug" in spec:
            self.max24_nl = _ug_nl(get_int(spec, "max_24h_ug", 1, 10000000), self._conc("max"))
        if "max_24h_ml" in spec:
            if self.max24_nl:
                raise ProgramError("bad_arg", "give one of max_24h_ug and max_24h_ml")
            self.max24_nl = get_nl(spec, "max_24h_ml")
        self._bolus(spec.get("bolus"))
        if self.max24_nl and self.basal24_max() > self.max24_nl:
            raise ProgramError(
                "out_of_range",
                "the highest basal rate gives %s mL in 24 h, above the 24 h maximum %s mL"
                % (ml(self.basal24_max()), ml(self.max24_nl)),
            )
        self.confirm = spec.get("confirm", False)
        if self.confirm is not True and self.confirm is not False:
            raise ProgramError("bad_arg", "confirm must be true or false")

    def _conc(self, key):
        if not self.conc:
            raise ProgramError("bad_arg", "%s needs conc_ug_ml" % key)
        return self.conc

    def _nl_h(self, num, den, what):
        try:
            return rates.from_ml_per_h(num, den * 1000000)
        except ValueError as e:
            raise ProgramError("out_of_range", "%s: %s" % (what, e)) from None

    def one_rate(self, d, where):
        """A rate_ml_h or a dose_ug_24h (at the program's concentration) -> (rate, dose)."""
        if ("rate_ml_h" in d) == ("dose_ug_24h" in d):
            raise ProgramError("bad_arg", "%s: give one of rate_ml_h and dose_ug_24h" % where)
        if "rate_ml_h" in d:
            return get_rate(d, "rate_ml_h"), 0
        dose = get_int(d, "dose_ug_24h", 1, 10000000)
        return _dose_rate(dose, self._conc(where), where), dose

    def _profile(self, spec):
        segs = spec["profile"]
        if not isinstance(segs, list) or not 1 <= len(segs) <= MAX_SEGMENTS:
            raise ProgramError("bad_arg", "profile must be a list of 1 to 24 segments")
        self.utc_offset_min = get_int(spec, "utc_offset_min", -720, 840, 0)
        out = []
        for i, s in enumerate(segs):
            where = "profile[%d]" % i
            _keys(s, ("start_min", "rate_ml_h", "dose_ug_24h"), where)
            start = get_int(s, "start_min", 0, 1439)
            r, dose = self.one_rate(s, where)
            if out and start - out[-1][0] < MIN_SEGMENT_MIN:
                raise ProgramError(
                    "out_of_range",
                    "%s: segments start in increasing order, at least 15 min apart" % where,
                )
            out.append((start, r, dose))
        if len(out) > 1 and out[0][0] + 1440 - out[-1][0] < MIN_SEGMENT_MIN:
            raise ProgramError("out_of_range", "the last segment is shorter than 15 min")
        self.segments = out
        self.basal = out[0][1]

    def _titration(self, t):
        if t is None:
            return
        _keys(t, ("max_rate_ml_h", "max_dose_ug_24h", "steps"), "titration")
        if self.mode == "profile":
            raise ProgramError("bad_arg", "a profile is not titrated: set a new profile")
        if self.mode == "volume_ml":
            raise ProgramError("bad_arg", "a volume over a duration is not titrated")
        if ("max_rate_ml_h" in t) == ("max_dose_ug_24h" in t):
            raise ProgramError("bad_arg", "titration: give one of max_rate_ml_h, max_dose_ug_24h")
        if "max_dose_ug_24h" in t:
            m = get_int(t, "max_dose_ug_24h", 1, 10000000)
            self.tmax = _dose_rate(m, self._conc("titration"), "titration.max_dose_ug_24h")
        else:
            self.tmax = get_rate(t, "max_rate_ml_h")
        if gt(self.basal, self.tmax):
            raise ProgramError("out_of_range", "the starting rate is above the titration maximum")
        steps = t.get("steps", [])
        if not isinstance(steps, list) or len(steps) > MAX_STEPS:
            raise ProgramError("bad_arg", "titration.steps must be a list of at most 16")
        last = 0
        for i, s in enumerate(steps):
            where = "titration.steps[%d]" % i
            _keys(s, ("at_min", "rate_ml_h", "dose_ug_24h"), where)
            at = get_int(s, "at_min", 1, 31 * 1440) * 60
            if at <= last:
                raise ProgramError("out_of_range", "%s: steps go in increasing at_min" % where)
            r, dose = self.one_rate(s, where)
            if gt(r, self.tmax):
                raise ProgramError("out_of_range", "%s is above the titration maximum" % where)
            self.steps.append((at, r, dose))
            last = at

    def _bolus(self, b):
        self.bolus_nl = 0
        if b is None:
            return
        _keys(
            b,
            ("dose_ug", "volume_ml", "rate_ml_h", "lockout_min", "max_per_h"),
            "bolus",
        )
        if ("dose_ug" in b) == ("volume_ml" in b):
            raise ProgramError("bad_arg", "bolus: give one of dose_ug and volume_ml")
        if "dose_ug" in b:
            self.bolus_ug = get_int(b, "dose_ug", 1, 1000000)
            nl = _ug_nl(self.bolus_ug, self._conc("bolus.dose_ug"))
        else:
            self.bolus_ug = 0
            nl = get_nl(b, "volume_ml", 1, 10000000)
        if "rate_ml_h" not in b:
            raise ProgramError("bad_arg", "bolus.rate_ml_h is required")
        self.bolus_rate = get_rate(b, "rate_ml_h")
        top = add(self.basal_max(), self.bolus_rate)
        if top[0] > rates.MAX_NL_PER_H * top[1]:
            raise ProgramError("out_of_range", "basal plus bolus rate is above 100 mL/h")
        # Duration: nl / rate h, in whole us (floor: never more than the bolus).
        span = nl * 3600000000 * self.bolus_rate[1] // self.bolus_rate[0]
        if span > MAX_BOLUS_US:
            raise ProgramError(
                "out_of_range", "the bolus would take more than 8 min: raise bolus.rate_ml_h"
            )
        if span < 1:
            raise ProgramError("out_of_range", "the bolus is too small")
        self.bolus_us = span
        self.lockout_s = get_int(b, "lockout_min", 1, 1440) * 60
        self.max_per_h = get_int(b, "max_per_h", 1, 2)
        if not self.max24_nl:
            raise ProgramError("bad_arg", "a bolus needs max_24h_ug or max_24h_ml")
        # What a bolus delivers exactly: the bolus rate over its whole-us duration.
        self.bolus_nl = nl
        if self.basal24_max() + nl > self.max24_nl:
            raise ProgramError("out_of_range", "the 24 h maximum leaves no room for a bolus")

    # --- derived ---

    def basal_max(self):
        """The highest basal rate this program can reach (nL/h fraction)."""
        top = self.basal
        for _, r, _ in self.segments or ():
            if gt(r, top):
                top = r
        if self.tmax is not None and gt(self.tmax, top):
            top = self.tmax
        return top

    def basal24_max(self):
        """nL the basal can deliver in any 24 h, at most (rounded up)."""
        n, d = self.basal_max()
        return -(-n * 24 // d)

    def summary(self):
        """What the clinician confirms: every number in the units of the program."""
        s = {"mode": self.mode, "rate_ml_h": rates.ml_per_h_str(*self.basal)}
        if self.drug:
            s["drug"] = self.drug
        if self.conc:
            s["conc_ug_ml"] = self.conc
        if self.dose:
            s["dose_ug_24h"] = self.dose
        s["ml_per_24h"] = ml(self.basal[0] * 24 // self.basal[1])
        if self.segments:
            s["profile"] = [
                {"start_min": a, "rate_ml_h": rates.ml_per_h_str(*r)} for a, r, _ in self.segments
            ]
            s["utc_offset_min"] = self.utc_offset_min
        if self.tmax is not None:
            s["titration_max_ml_h"] = rates.ml_per_h_str(*self.tmax)
            s["titration_steps"] = [
                {"at_min": a // 60, "rate_ml_h": rates.ml_per_h_str(*r)} for a, r, _ in self.steps
            ]
        if self.bolus_nl:
            s["bolus_ml"] = ml(self.bolus_nl)
            s["bolus_rate_ml_h"] = rates.ml_per_h_str(*self.bolus_rate)
            s["bolus_s"] = self.bolus_us // _US
            s["lockout_min"] = self.lockout_s // 60
            s["max_per_h"] = self.max_per_h
        if self.max24_nl:
            s["max_24h_ml"] = ml(self.max24_nl)
        if self.vtbi_nl:
            s["vtbi_ml"] = ml(self.vtbi_nl)
            s["then"] = self.then
            if self.kvo:
                s["kvo_ml_h"] = rates.ml_per_h_str(*self.kvo)
        return s
