# The changes the bedside keys edit (pump/ui.py): load a syringe, program a dose or a rate,
# titrate. A Form holds the fields being edited, what is in force now (the review shows old
# and new), and the protocol arguments they make. Nothing here changes the pump.
from micropython import const

from pump import syringes

# Field kinds
F_CHOICE = const(0)  # one of a list
F_INT = const(1)  # a whole number
F_MILLI = const(2)  # thousandths, shown with 3 decimals (mL/h)
F_TENTH = const(3)  # tenths, shown with 1 decimal (mL)


class Field:
    def __init__(self, key, label, kind, value, lo=0, hi=0, choices=None):
        self.key = key  # the protocol argument (or a name of the form's own)
        self.label = label
        self.kind = kind
        self.value = value
        self.lo = lo
        self.hi = hi
        self.choices = choices  # F_CHOICE: [(value, shown)]
        self.old = value  # what is in force now (the review shows it), None: nothing
        self.on = True  # used by this change (a dose program has no mL/h rate)

    def shown(self):
        return self.show(self.value)

    def show(self, v):
        if v is None:
            return "-"
        if self.kind == F_CHOICE:
            for c, s in self.choices:
                if c == v:
                    return s
            return str(v)
        if self.kind == F_MILLI:
            return "none" if v == 0 and self.lo == 0 else milli(v)
        if self.kind == F_TENTH:
            return "%d.%d" % (v // 10, v % 10)
        return "none" if v == 0 and self.lo == 0 else "%d" % v

    def step(self, sign, reps):
        """Up (sign 1) or down (-1); reps: repeats of a held key so far."""
        if self.kind == F_CHOICE:
            n = len(self.choices)
            i = 0
            for j in range(n):
                if self.choices[j][0] == self.value:
                    i = j
            self.value = self.choices[(i - sign) % n][0]  # Down: the next, as in a menu
            return
        # Held: 1 for the first 10 repeats, then 10, then 100 (as the T34's keys speed up).
        d = 1 if reps < 10 else (10 if reps < 20 else 100)
        v = self.value + sign * d
        if d > 1:
            v -= v % d if sign > 0 else -(-v % d)  # land on round figures
        self.value = self.lo if v < self.lo else (self.hi if v > self.hi else v)


class Form:
    """act: "load", "program" or "titrate"; the fields start at what is in force."""

    def __init__(self, act, pump, runner, library):
        self.act = act
        self.runner = runner
        self.library = library
        if act == "load":
            self.fields = _load_fields(pump)
        elif act == "program":
            self.fields = _program_fields(runner, library)
        else:
            self.fields = _titrate_fields(runner, pump)
        self.sync()

    def editable(self, f):
        # A field with one choice is shown on the review, not edited; one not used this
        # time (a rate in a dose program) neither.
        return f.on and not (f.kind == F_CHOICE and len(f.choices) <= 1)

    def sync(self):
        """The program's fields follow the drug: its concentrations, its unit."""
        if self.act != "program":
            return
        fd, fm, fc, fdose, fr, fx, fxr = self.fields
        lib = self.library
        drug = lib.drugs.get(fd.value) if lib is not None else None
        if drug is not None:
            unit = "dose" if drug.unit == "ug" else "rate"
            fm.choices = [(unit, "µg/24 h" if unit == "dose" else "mL/h")]
            fm.value = unit
            if drug.concs:
                fc.kind = F_CHOICE
                fc.choices = [(c, "%d" % c) for c in drug.concs]
                if fc.value not in drug.concs:
                    fc.value = drug.concs[0]
            cont = drug.limits.get("continuous", {})
            if fx.old is None and fx.value == 0 and unit == "dose" and "soft_max" in cont:
                fx.value = cont["soft_max"]  # a proposal: the review shows it
        dose = fm.value == "dose"
        for f in (fc, fdose, fx):
            f.on = dose
        for f in (fr, fxr):
            f.on = not dose

    def args(self):
        """The protocol arguments: load's, titrate's, or the program object."""
        v = {}
        for f in self.fields:
            if f.on:
                v[f.key] = f.value
        if self.act == "load":
            t = v["fill_ml"]
            return {"syringe": v["syringe"], "fill_ml": "%d.%d" % (t // 10, t % 10)}
        if self.act == "titrate":
            if "dose_ug_24h" in v:
                return {"dose_ug_24h": v["dose_ug_24h"]}
            return {"rate_ml_h": milli(v["rate_ml_h"])}
        spec = {}
        if v.get("drug") is not None:
            spec["drug"] = v["drug"]
        if v.get("mode") == "dose":
            spec["conc_ug_ml"] = v["conc_ug_ml"]
            spec["dose_ug_24h"] = v["dose_ug_24h"]
            if v.get("max_dose"):
                spec["titration"] = {"max_dose_ug_24h": v["max_dose"]}
        else:
            spec["rate_ml_h"] = milli(v["rate_ml_h"])
            if v.get("max_rate"):
                spec["titration"] = {"max_rate_ml_h": milli(v["max_rate"])}
        old = self.runner.prog
        if old is not None and old.drug == spec.get("drug"):
            if old.conc == spec.get("conc_ug_ml", 0):
                # What the keys do not edit goes on as it was: the bolus, its 24 h maximum.
                for k in ("bolus", "max_24h_ug", "max_24h_ml"):
                    if k in old.spec:
                        spec[k] = old.spec[k]
        return spec

    def question(self):
        """The confirmation's question (step 2)."""
        a = self.args()
        if self.act == "load":
            return "Load %s with %s mL?" % (a["syringe"], a["fill_ml"])
        if self.act == "titrate":
            if "dose_ug_24h" in a:
                return "Titrate to %d µg/24 h?" % a["dose_ug_24h"]
            return "Titrate to %s mL/h?" % a["rate_ml_h"]
        if "dose_ug_24h" in a:
            return "Set %d µg/24 h at %d µg/mL?" % (a["dose_ug_24h"], a["conc_ug_ml"])
        return "Set %s mL/h?" % a["rate_ml_h"]


def _load_fields(pump):
    ids = list(syringes.CATALOGUE)
    ids.sort()
    cur = pump.syringe
    choices = [(i, syringes.CATALOGUE[i][0]) for i in ids]
    f1 = Field("syringe", "Syringe", F_CHOICE, cur.id if cur else ids[0], choices=choices)
    f1.old = cur.id if cur else None
    fill = pump.fill_nl // 100000 if cur else 0
    f2 = Field("fill_ml", "Fill mL", F_TENTH, fill or 50, 1, 1000)
    f2.old = fill or None
    return [f1, f2]


def _program_fields(runner, lib):
    p = runner.prog
    s = p.summary() if p is not None else {}
    if lib is not None:
        ids = list(lib.drugs)
        ids.sort()
        drugs = [(i, i) for i in ids]
    else:
        drugs = [(None, "-")]
    fd = Field("drug", "Drug", F_CHOICE, s.get("drug", drugs[0][0]), choices=drugs)
    fd.old = s.get("drug") if p is not None else None
    units = [("dose", "µg/24 h"), ("rate", "mL/h")]
    fm = Field("mode", "Set as", F_CHOICE, "dose", choices=units)
    fm.old = None if p is None else ("dose" if p.dose else "rate")
    if p is not None:
        fm.value = fm.old
    fc = Field("conc_ug_ml", "Conc µg/mL", F_INT, s.get("conc_ug_ml", 500), 1, 100000)
    fc.old = s.get("conc_ug_ml")
    dose = p.dose if p is not None and p.dose else 0
    fdose = Field("dose_ug_24h", "Dose µg/24 h", F_INT, dose or 1000, 1, 10000000)
    fdose.old = dose or None
    rate = milli_of(s.get("rate_ml_h"))
    fr = Field("rate_ml_h", "Rate mL/h", F_MILLI, rate or 1000, 10, 100000)
    fr.old = rate or None
    fx = Field("max_dose", "Titrate to", F_INT, 0, 0, 10000000)
    fx.old = None
    if p is not None and p.tmax is not None and p.conc:
        fx.value = fx.old = dose_of(p.tmax, p.conc)
    tmax = milli_of(s.get("titration_max_ml_h"))
    fxr = Field("max_rate", "Titrate to mL/h", F_MILLI, tmax, 0, 100000)
    fxr.old = tmax if p is not None and p.tmax is not None else None
    return [fd, fm, fc, fdose, fr, fx, fxr]


def _titrate_fields(runner, pump):
    p = runner.prog
    r = pump.program_rate
    # Any figure: the protocol refuses one above the plan's maximum, in its own words.
    if p.conc and p.dose:
        d = dose_of(r, p.conc) if r else p.dose
        f = Field("dose_ug_24h", "Dose µg/24 h", F_INT, d, 1, 10000000)
    else:
        d = r[0] // r[1] // 1000 if r else 0  # nL/h -> thousandths of mL/h
        f = Field("rate_ml_h", "Rate mL/h", F_MILLI, d, 10, 100000)
    f.old = d
    return [f]


def milli(v):
    return "%d.%03d" % (v // 1000, v % 1000)


def milli_of(s):
    """A rate string "0.1360" -> thousandths of mL/h (rounded down); None or "" -> 0."""
    if not s:
        return 0
    i, _, f = s.partition(".")
    return int(i) * 1000 + int((f + "000")[:3])


def dose_of(r, conc):
    """µg/24 h of rate r (nL/h fraction) at conc µg/mL, to the nearest µg."""
    return (r[0] * 24 * conc + r[1] * 500000) // (r[1] * 1000000)
