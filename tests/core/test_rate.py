from harness import raises
from pump import rate


def test_octreotide_dose_is_exactly_0136_ml_per_h():
    assert rate.from_dose(1632, 500) == (136000, 1)


def test_dose_with_a_repeating_decimal_stays_exact():
    num, den = rate.from_dose(1633, 300)
    assert num * 24 * 300 == 1633 * 1000000 * den


def test_ml_per_h_fraction():
    assert rate.from_ml_per_h(136, 1000) == (136000, 1)
    assert rate.from_ml_per_h(100) == (100000000, 1)


def test_out_of_range_and_bad_input_are_refused():
    raises(rate.RateError, rate.from_ml_per_h, 1, 1000)  # 0.001 mL/h
    raises(rate.RateError, rate.from_ml_per_h, 101)
    raises(rate.RateError, rate.from_ml_per_h, 0)
    raises(rate.RateError, rate.from_dose, 0, 500)
    raises(rate.RateError, rate.from_dose, 1632, -1)
    raises(rate.RateError, rate.from_ml_per_h, 1, 0)


def test_display_rounds_to_four_decimals():
    assert rate.ml_per_h_str(136000, 1) == "0.1360"
    assert rate.ml_per_h_str(*rate.from_dose(1633, 300)) == "0.2268"


def test_parse_decimal_without_floats():
    assert rate.parse_decimal("0.136") == (136, 1000)
    assert rate.parse_decimal("5") == (5, 1)
    assert rate.parse_decimal(" 12.50 ") == (1250, 100)
    assert rate.parse_decimal(".5") == (5, 10)
    for bad in ("", ".", "1.2.3", "-1", "1e3", "abc"):
        raises(rate.RateError, rate.parse_decimal, bad)
    raises(rate.RateError, rate.parse_decimal, 0.136)


def test_out_of_range_message_shows_the_exact_value_and_the_side():
    # 0.0099999 once read "0.0100 mL/h, outside 0.01-100 mL/h": rounding hid why.
    e = raises(rate.RateError, rate.from_ml_per_h, *rate.parse_decimal("0.0099999"))
    assert "0.0099999 mL/h" in str(e) and "below" in str(e), str(e)
    e = raises(rate.RateError, rate.from_ml_per_h, *rate.parse_decimal("100.00001"))
    assert "100.00001 mL/h" in str(e) and "above" in str(e), str(e)
    e = raises(rate.RateError, rate.from_ml_per_h, 0)
    assert "0 mL/h" in str(e) and "below" in str(e), str(e)
    # A dose that is not a terminating decimal: digits enough to see it, then "...".
    e = raises(rate.RateError, rate.from_dose, 1, 10000)  # 0.000004166... mL/h
    assert "0.0000041666" in str(e) and "..." in str(e) and "below" in str(e), str(e)


def test_parse_decimal_says_what_it_wanted():
    e = raises(rate.RateError, rate.parse_decimal, 5, "fill in mL", "5")
    assert "give the fill in mL as a decimal string, e.g. '5'" in str(e), str(e)
    assert "rate" not in str(e)
    e = raises(rate.RateError, rate.parse_decimal, "abc", "fill in mL", "5")
    assert "fill in mL" in str(e) and "rate" not in str(e), str(e)
    e = raises(rate.RateError, rate.parse_decimal, 0.136)  # the default is still the rate
    assert "give the rate as a decimal string, e.g. '0.136'" in str(e), str(e)
