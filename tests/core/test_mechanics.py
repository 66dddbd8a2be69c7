from harness import raises
from pump import mechanics, syringes


def test_catalogue_has_the_required_models():
    for sid in (
        "bd-plastipak-10ml",
        "bd-plastipak-20ml",
        "bd-plastipak-30ml",
        "bbraun-omnifix-10ml",
        "bbraun-omnifix-20ml",
    ):
        label, d_um, nominal, usable, dead = syringes.lookup(sid)
        assert 10000 < d_um < 30000
        assert 0 < usable <= nominal + nominal // 5
        assert 0 < dead < 1000


def test_area_is_pi_d_squared_over_4():
    # 14.5 mm bore: pi * 7.25**2 = 165.130 mm2 -> 165130 nL per mm
    assert syringes.area_nl_per_mm(14500) == 165130


def test_volume_per_microstep_is_an_exact_reduced_ratio():
    vol = mechanics.nl_per_step(
        mechanics.Syringe("bd-plastipak-10ml"), mechanics.Drive(800, 200, 16)
    )
    assert vol == (16513, 400)  # 165130 nL/mm * 0.25 µm = 41.2825 nL


def test_unknown_syringe_and_bad_drive_are_refused():
    raises(ValueError, mechanics.Syringe, "bd-plastipak-7ml")
    raises(ValueError, mechanics.Drive, 0, 200, 16)
    raises(ValueError, mechanics.Drive, 800, 200, 1.5)


def test_fill_converts_down_to_whole_steps():
    vol = (16513, 400)
    assert mechanics.steps_for_nl(5000000, vol) == 5000000 * 400 // 16513
