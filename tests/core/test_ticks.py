from pump.ticks import PERIOD, ticks_add, ticks_diff


def test_add_wraps_at_period():
    assert ticks_add(PERIOD - 1, 1) == 0
    assert ticks_add(PERIOD - 10, 25) == 15
    assert ticks_add(5, -10) == PERIOD - 5


def test_diff_is_signed_across_the_wrap():
    assert ticks_diff(15, PERIOD - 10) == 25
    assert ticks_diff(PERIOD - 10, 15) == -25
    assert ticks_diff(ticks_add(123, PERIOD // 2 - 1), 123) == PERIOD // 2 - 1


def test_diff_inverts_add_for_half_a_period():
    for start in (0, 1, PERIOD // 2, PERIOD - 1, PERIOD - 7777):
        for delta in (0, 1, 999999, PERIOD // 2 - 1, -(PERIOD // 2)):
            assert ticks_diff(ticks_add(start, delta), start) == delta


def test_matches_the_running_interpreter():
    # On MicroPython, compare with the real time.ticks_add/ticks_diff.
    try:
        from time import ticks_add as real_add
        from time import ticks_diff as real_diff
    except ImportError:
        return  # CPython has no ticks functions; the fixed cases above cover it
    if real_add(PERIOD - 1, 1) != 0:
        # The unix port's ticks period is its small-int range, not 2**30; the rp2 image
        # runs this same test in the HIL suite.
        print("SKIP test_matches_the_running_interpreter: ticks period here is not 2**30")
        return
    for a in (0, 5, PERIOD - 3, PERIOD // 2):
        for d in (0, 7, PERIOD // 2 - 1, -100):
            assert ticks_add(a, d) == real_add(a, d)
            assert ticks_diff(ticks_add(a, d), a) == real_diff(real_add(a, d), a)
