from harness import drive_vol, raises
from pump import occlusion as occ
from pump.syringes import area_nl_per_mm

VOL = drive_vol()  # BD Plastipak 10 mL: 41.28 nL per step
AREA = area_nl_per_mm(14500)


def _detector(ceiling="medium"):
    return occ.OcclusionDetector(VOL, AREA, 350, ceiling)


def _steps(ul):
    return ul * 1000 * VOL[1] // VOL[0]


def test_thresholds_follow_the_syringe():
    d = _detector()
    # 165 mm^2 stopper: 22 mN per mmHg; 10 uL into 0.35 uL/mmHg is 28.6 mmHg, 628 mN.
    assert 21000 <= d.un_per_mmhg <= 22500
    assert abs(d.rise_mn - 440) < 10  # 7/10 of it
    assert d.ceiling_mn == 500 * d.un_per_mmhg // 1000
    raises(ValueError, occ.OcclusionDetector, VOL, AREA, 350, "extreme")


def test_flat_friction_never_alarms_and_a_trapped_rise_does_within_10_ul():
    d = _detector()
    for s in range(0, _steps(40), 5):  # 40 uL of steady friction, 3 N
        assert d.feed(3000, s) == occ.OK
    start = _steps(40)
    for s in range(start, start + _steps(20), 5):
        # occluded: +63 mN per uL pushed
        force = 3000 + (s - start) * VOL[0] * 628 // (VOL[1] * 10000)
        if d.feed(force, s) == occ.OCCLUSION:
            displaced_nl = (s - start) * VOL[0] // VOL[1]
            assert 5000 < displaced_nl <= 10000
            return
    raise AssertionError("no occlusion alarm within 20 uL")


def test_the_ceiling_catches_a_slow_rise():
    d = _detector("low")
    s = 0
    force = 3000
    while force < 3000 + 300 * d.un_per_mmhg // 1000 + 100:
        s += 25  # about one uL a bucket, rising 2 mN a uL: far below the rate test
        force += 2
        if d.feed(force, s) == occ.CEILING:
            return
    raise AssertionError("ceiling not reached")


def test_the_take_up_after_a_start_is_not_a_rise():
    # The first uL after a start or resume holds samples from before the stopper was loaded
    # (the pusher taking up slack; a sample before the first step): a low first mean would
    # be a reference the loaded friction then "rises" from.
    d = _detector()
    for s in range(0, _steps(30), 5):
        force = 300 if s < _steps(1) // 2 else 3400  # half the first uL at rest
        assert d.feed(force, s) == occ.OK, s


def test_a_line_blocked_from_the_start_still_alarms_within_10_ul_of_the_window():
    d = _detector()
    for s in range(0, _steps(30), 5):
        force = 3000 + s * VOL[0] * 628 // (VOL[1] * 10000)  # trapped from the first step
        if d.feed(force, s) == occ.OCCLUSION:
            assert s * VOL[0] // VOL[1] <= 14000  # the window (12 uL) after the take-up
            return
    raise AssertionError("no occlusion alarm within 30 uL")
