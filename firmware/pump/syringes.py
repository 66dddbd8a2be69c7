# Syringe catalogue. Figures are per model; every entry must be checked gravimetrically
# before clinical use (see README "Syringe catalogue" for sources and caveats).
#
# id: (label, inner diameter µm, nominal µL, usable µL, dead space µL)
#   inner diameter: syringe-pump vendors' published syringe tables (not the syringe maker);
#   nominal/usable: the barrel's graduated scale (usable = last graduation we allow to load);
#   dead space: BD Plastipak technical data sheet (March 2016) maximum figures; Omnifix figures
#   are our estimates pending the B. Braun data sheet.
CATALOGUE = {
    "bd-plastipak-10ml": ("BD Plastipak 10 mL", 14500, 10000, 10000, 100),
    "bd-plastipak-20ml": ("BD Plastipak 20 mL", 19130, 20000, 20000, 150),
    "bd-plastipak-30ml": ("BD Plastipak 30 mL", 21700, 30000, 30000, 170),
    "bbraun-omnifix-10ml": ("B. Braun Omnifix 10 mL", 15900, 10000, 10000, 100),
    "bbraun-omnifix-20ml": ("B. Braun Omnifix 20 mL", 20050, 20000, 20000, 150),
}


def area_nl_per_mm(diameter_um):
    # pi*d^2/4 in nL per mm of plunger travel, rounded to 1 nL/mm, with pi ~ 355/113
    # (error 8.5e-8). Integer maths so every runtime gets the same calibration.
    return (355 * diameter_um * diameter_um + 226000) // 452000


def lookup(syringe_id):
    try:
        return CATALOGUE[syringe_id]
    except KeyError:
        raise ValueError("unknown syringe %r" % syringe_id) from None
