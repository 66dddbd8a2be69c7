# Programmed rates as exact fractions of nL/h, from mL/h or from a dose and concentration.
from micropython import const

from pump.arith import reduce

# Selectable range of this CSCI pump: 0.01-100 mL/h (the Generic Infusion Pump requirements
# allow 0.1-999 mL/h; subcutaneous use needs lower rates and never large ones).
MIN_NL_PER_H = const(10000)
MAX_NL_PER_H = const(100000000)


class RateError(ValueError):
    pass


def _check(num, den, what):
    # The message shows the exact value (never rounded into the range) and which side it is.
    if num < MIN_NL_PER_H * den:
        side = "below the minimum, 0.01 mL/h"
    elif num > MAX_NL_PER_H * den:
        side = "above the maximum, 100 mL/h"
    else:
        return reduce(num, den)
    raise RateError("%s is %s mL/h, %s" % (what, ml_per_h_exact(num, den), side))


def from_ml_per_h(num, den=1):
    """Rate num/den mL/h -> (nL/h num, den)."""
    if not isinstance(num, int) or not isinstance(den, int) or den <= 0:
        raise RateError("rate must be a fraction of integers")
    return _check(num * 1000000, den, "rate")


def from_dose(dose_ug_per_24h, conc_ug_per_ml):
    """Dose µg/24 h at concentration µg/mL -> (nL/h num, den), exactly."""
    for name, v in (("dose", dose_ug_per_24h), ("concentration", conc_ug_per_ml)):
        if not isinstance(v, int) or v <= 0:
            raise RateError("%s must be a positive whole number" % name)
    what = "dose %d ug/24 h at %d ug/mL" % (dose_ug_per_24h, conc_ug_per_ml)
    return _check(dose_ug_per_24h * 1000000, 24 * conc_ug_per_ml, what)


def ml_per_h_str(num, den):
    # Display only: 0.0001 mL/h (100 nL/h) units, rounded half up, integer maths.
    u = (num + den * 50) // (den * 100)
    return "%d.%04d" % (u // 10000, u % 10000)


def ml_per_h_exact(num, den, digits=12):
    """num/den nL/h as mL/h in plain decimals, exact when it ends within `digits` decimals,
    else cut there and marked "...": for messages, where rounding could mislead."""
    den *= 1000000
    whole, rest = divmod(num, den)
    frac = ""
    while rest and len(frac) < digits:
        d, rest = divmod(rest * 10, den)
        frac += "%d" % d
    text = "%d.%s" % (whole, frac) if frac else "%d" % whole
    return text + "..." if rest else text


def parse_decimal(text, what="rate", example="0.136"):
    """'0.136' -> (136, 1000) without floats: device floats are 32-bit. `what` and `example`
    name the quantity in messages: parse_decimal(fill, "fill in mL", "5")."""
    if not isinstance(text, str):
        raise RateError("give the %s as a decimal string, e.g. '%s'" % (what, example))
    whole, _, frac = text.strip().partition(".")
    if not (whole or frac) or not (whole + frac).isdigit():
        raise RateError("the %s is not a decimal number: %r" % (what, text))
    den = 10 ** len(frac)
    return int(whole or "0") * den + int(frac or "0"), den
