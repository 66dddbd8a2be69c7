# Drug library: a data file (firmware/druglib.json, JSON) the firmware loads and validates,
# and the limits it puts on a pump.program.Program. A hard limit rejects the program; a soft
# limit needs an explicit confirmation ("confirm": true in the program).
#
# Per drug: id, name, unit ("ug": dosed in ug at one of the allowed concentrations, ug/mL;
# "ml": a plain mL/h drug), and limits, each {soft_min, soft_max, hard_min, hard_max} (any may
# be left out): continuous (ug/24 h, or mL/h as decimal strings), bolus (ug, or mL) and
# max_24h (the program's 24 h maximum, ug or mL). A "ug" drug must be programmed as doses:
# a mL/h figure for it is refused, so mL/h and ug/24 h cannot be confused.
from pump import program as pg
from pump import rate as rates

_LIMIT_KEYS = ("soft_min", "soft_max", "hard_min", "hard_max")
_DRUG_KEYS = ("id", "name", "unit", "concentrations_ug_ml", "continuous", "bolus", "max_24h")
MAX_DRUGS = 32


class LibraryError(ValueError):
    pass


def _lib_err(where, what):
    raise LibraryError("drug library: %s: %s" % (where, what))


class Drug:
    def __init__(self, d, where):
        if not isinstance(d, dict):
            _lib_err(where, "must be an object")
        for k in d:
            if k not in _DRUG_KEYS:
                _lib_err(where, "unknown key %r" % k)
        self.id = d.get("id")
        if not isinstance(self.id, str) or not 0 < len(self.id) <= 32:
            _lib_err(where, "id must be a name of 1 to 32 characters")
        self.name = d.get("name", self.id)
        self.unit = d.get("unit")
        if self.unit not in ("ug", "ml"):
            _lib_err(where, "unit must be 'ug' or 'ml'")
        self.concs = d.get("concentrations_ug_ml", [])
        if self.unit == "ug":
            if not isinstance(self.concs, list) or not self.concs:
                _lib_err(where, "a ug drug needs concentrations_ug_ml")
            for c in self.concs:
                if not pg.is_int(c) or not 0 < c <= 100000:
                    _lib_err(where, "concentrations must be whole ug/mL")
        elif self.concs:
            _lib_err(where, "a mL drug has no concentrations")
        self.limits = {}
        for key in ("continuous", "bolus", "max_24h"):
            lim = d.get(key, {})
            if not isinstance(lim, dict):
                _lib_err(where, "%s must be an object" % key)
            vals = {}
            for k, v in lim.items():
                if k not in _LIMIT_KEYS:
                    _lib_err(where, "%s: unknown key %r" % (key, k))
                vals[k] = self._value(v, "%s.%s.%s" % (where, key, k), key)
            for lo, hi in (("soft_min", "soft_max"), ("hard_min", "hard_max")):
                if lo in vals and hi in vals and vals[lo] > vals[hi]:
                    _lib_err(where, "%s: %s above %s" % (key, lo, hi))
            for soft, hard, sign in (("soft_max", "hard_max", 1), ("soft_min", "hard_min", -1)):
                if soft in vals and hard in vals and (vals[soft] - vals[hard]) * sign > 0:
                    _lib_err(where, "%s: %s outside %s" % (key, soft, hard))
            self.limits[key] = vals

    def _value(self, v, where, key):
        # ug drugs: whole ug (ug/24 h); mL drugs: decimal strings, kept as nL (or nL/h).
        if self.unit == "ug":
            if not pg.is_int(v) or v < 0:
                _lib_err(where, "must be whole ug")
            return v
        try:
            num, den = pg.decimal(v, where)
        except ValueError as e:
            _lib_err(where, str(e))
        if num * 1000000 % den:
            _lib_err(where, "at most 6 decimals")
        return num * 1000000 // den  # nL, or nL/h for continuous

    def _amounts(self, prog):
        """The program's figures in this drug's units: continuous (every basal it can
        reach), bolus and max_24h, as exact fractions (num, den)."""
        if self.unit == "ug":
            if prog.conc not in self.concs:
                raise pg.ProgramError(
                    "hard_limit",
                    "%s comes at %s ug/mL, not %d"
                    % (self.id, ", ".join("%d" % c for c in self.concs), prog.conc),
                )
            cont = []
            for r in _rates(prog):
                # nL/h -> ug/24 h: r * 24 * conc / 1e6
                cont.append((r[0] * 24 * prog.conc, r[1] * 1000000))
            bol = (prog.bolus_nl * prog.conc, 1000000) if prog.bolus_nl else None
            m24 = (prog.max24_nl * prog.conc, 1000000) if prog.max24_nl else None
        else:
            cont = list(_rates(prog))
            bol = (prog.bolus_nl, 1) if prog.bolus_nl else None
            m24 = (prog.max24_nl, 1) if prog.max24_nl else None
        return {"continuous": cont, "bolus": [bol] if bol else [], "max_24h": [m24] if m24 else []}

    def check(self, prog):
        """Raise ProgramError('hard_limit') past a hard limit; return the soft limits passed
        (messages), which need the program's confirm."""
        if self.unit == "ug" and _uses_ml(prog.spec):
            raise pg.ProgramError(
                "hard_limit", "%s is dosed in ug: give doses, not mL/h or mL" % self.id
            )
        soft = []
        unit = {"ug": ("ug/24 h", "ug", "ug"), "ml": ("nL/h", "nL", "nL")}[self.unit]
        for i, key in enumerate(("continuous", "bolus", "max_24h")):
            lim = self.limits[key]
            for num, den in self._amounts(prog)[key]:
                for name, v in lim.items():
                    below = name.endswith("min") and num < v * den
                    above = name.endswith("max") and num > v * den
                    if below or above:
                        msg = "%s %s is %s the %s %s of %d %s" % (
                            self.id,
                            key,
                            "below" if below else "above",
                            "hard" if name.startswith("hard") else "soft",
                            "minimum" if below else "maximum",
                            v,
                            unit[i],
                        )
                        if name.startswith("hard"):
                            raise pg.ProgramError("hard_limit", msg)
                        soft.append(msg)
        return soft


def _rates(prog):
    yield prog.basal
    for _, r, _ in prog.segments or ():
        yield r
    for _, r, _ in prog.steps:
        yield r
    if prog.tmax is not None:
        yield prog.tmax
    if prog.kvo is not None:
        yield prog.kvo


def _uses_ml(spec):
    for k in ("rate_ml_h", "volume_ml", "vtbi_ml", "max_24h_ml"):
        if k in spec:
            return True
    for seg in spec.get("profile") or ():
        if "rate_ml_h" in seg:
            return True
    t = spec.get("titration") or {}
    if "max_rate_ml_h" in t:
        return True
    for s in t.get("steps", ()):
        if "rate_ml_h" in s:
            return True
    return "volume_ml" in (spec.get("bolus") or {})


class Library:
    def __init__(self, data):
        if not isinstance(data, dict) or not isinstance(data.get("drugs"), list):
            raise LibraryError("drug library: needs a list 'drugs'")
        if data.get("version") != 1:
            raise LibraryError("drug library: version must be 1")
        if not 0 < len(data["drugs"]) <= MAX_DRUGS:
            raise LibraryError("drug library: 1 to %d drugs" % MAX_DRUGS)
        self.note = data.get("note", "")
        self.drugs = {}
        for i, d in enumerate(data["drugs"]):
            drug = Drug(d, "drugs[%d]" % i)
            if drug.id in self.drugs:
                _lib_err("drugs[%d]" % i, "duplicate id %r" % drug.id)
            self.drugs[drug.id] = drug

    def check(self, prog):
        """The soft limits the program passes (it needs confirm for those); raises on a hard
        limit or a drug not in the library."""
        if prog.drug is None:
            raise pg.ProgramError("hard_limit", "name the drug: the library has %s" % self.ids())
        d = self.drugs.get(prog.drug)
        if d is None:
            raise pg.ProgramError(
                "hard_limit", "%r is not in the drug library (%s)" % (prog.drug, self.ids())
            )
        return d.check(prog)

    def ids(self):
        names = list(self.drugs)
        names.sort()
        return ", ".join(names)

    def summary(self):
        return [{"id": d.id, "name": d.name, "unit": d.unit} for d in self.drugs.values()]


def load(path):
    import json

    with open(path) as f:
        return Library(json.load(f))


# A mL/h drug's continuous limits are nL/h: show them in mL/h in messages elsewhere.
ml_per_h_str = rates.ml_per_h_str
