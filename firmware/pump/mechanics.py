# Drive mechanics: how far one microstep moves the plunger and how much it delivers.
from pump.arith import reduce
from pump.syringes import area_nl_per_mm, lookup


class Drive:
    def __init__(self, lead_um, full_steps_per_rev, microsteps):
        for name, value in (
            ("lead_um", lead_um),
            ("full_steps_per_rev", full_steps_per_rev),
            ("microsteps", microsteps),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError("%s must be a positive integer" % name)
        self.lead_um = lead_um
        self.steps_per_rev = full_steps_per_rev * microsteps


class Syringe:
    def __init__(self, syringe_id):
        label, diameter_um, nominal_ul, usable_ul, dead_ul = lookup(syringe_id)
        self.id = syringe_id
        self.label = label
        self.diameter_um = diameter_um
        self.nominal_ul = nominal_ul
        self.usable_ul = usable_ul
        self.dead_space_ul = dead_ul
        self.nl_per_mm = area_nl_per_mm(diameter_um)


def nl_per_step(syringe, drive):
    """Volume of one microstep in nL, as an exact reduced fraction (num, den)."""
    return reduce(syringe.nl_per_mm * drive.lead_um, 1000 * drive.steps_per_rev)


def steps_for_nl(volume_nl, vol):
    """Whole microsteps in volume_nl (floor): a fill never reads as more than it holds."""
    return volume_nl * vol[1] // vol[0]
