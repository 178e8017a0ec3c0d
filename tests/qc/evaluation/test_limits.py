"""Limits, rounding and censored results: the arithmetic every numeric criterion uses."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.evaluation.limits import Limits
from qc.evaluation.rounding import format_decimal, format_limit, round_half_up, to_decimal

D = Decimal


@pytest.mark.requirement("USP-GN-rounding")
@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        ("0.125", 2, "0.13"),  # half rounds up
        ("0.135", 2, "0.14"),  # not banker's rounding
        ("0.1249999", 2, "0.12"),
        ("-0.125", 2, "-0.13"),  # halves away from zero
        ("2.5", 0, "3"),
        ("2.14999E+11", -9, "2.15E+11"),  # negative decimals: multiples of 10^9
        ("0.5", None, "0.5"),
    ],
)
def test_round_half_up(value: str, decimals: int | None, expected: str) -> None:
    assert round_half_up(D(value), decimals) == D(expected)


@pytest.mark.requirement("USP-GN-rounding")
@given(
    hundredths=st.integers(min_value=-10_000, max_value=10_000),
    decimals=st.integers(min_value=0, max_value=4),
)
def test_a_half_always_rounds_up_in_magnitude(hundredths: int, decimals: int) -> None:
    # x.xx5 (one digit past the rounding place) always moves away from zero.
    value = D(hundredths).scaleb(-decimals) + D(5).scaleb(-decimals - 1) * (
        1 if hundredths >= 0 else -1
    )
    rounded = round_half_up(value, decimals)
    assert abs(rounded) > abs(value)
    assert abs(rounded - value) == D(5).scaleb(-decimals - 1)


@pytest.mark.requirement("USP-GN-rounding")
@pytest.mark.parametrize(
    ("value", "inclusive", "expected"),
    [
        ("0.504", True, "inside"),  # rounds to 0.50: at the limit, inclusive
        ("0.505", True, "above"),  # rounds to 0.51
        ("0.504", False, "above"),  # 0.50 is not < 0.50
        ("0.494", False, "inside"),
        ("0.495", False, "above"),  # rounds to 0.50
    ],
)
def test_rounding_happens_before_comparison(value: str, inclusive: bool, expected: str) -> None:
    limits = Limits(low=None, high=D("0.50"), high_inclusive=inclusive)
    assert limits.judge(D(value), None, 2) == expected


@pytest.mark.requirement("USP-GN-rounding")
@given(
    steps=st.integers(min_value=-2000, max_value=2000),
    low_inclusive=st.booleans(),
    high_inclusive=st.booleans(),
)
def test_bounds_at_the_rounding_grid(steps: int, low_inclusive: bool, high_inclusive: bool) -> None:
    """Oracle: compare integers of hundredths after rounding half up by hand."""
    value = D(steps).scaleb(-3)  # thousandths: every third digit is a rounding decision
    limits = Limits(
        low=D("-0.50"), high=D("0.50"), low_inclusive=low_inclusive, high_inclusive=high_inclusive
    )
    hundredths = (abs(steps) + 5) // 10 * (1 if steps >= 0 else -1)
    above = hundredths > 50 or (hundredths == 50 and not high_inclusive)
    below = hundredths < -50 or (hundredths == -50 and not low_inclusive)
    expected = "below" if below else "above" if above else "inside"
    assert limits.judge(value, None, 2) == expected


@pytest.mark.requirement("USP-GN-rounding")
@pytest.mark.parametrize(
    ("qualifier", "value", "limits", "decimals", "expected"),
    [
        # "< 0.05" proves "<= 0.5"; "< 1.0" does not.
        ("<", "0.05", Limits(None, D("0.5")), 2, "inside"),
        ("<", "1.0", Limits(None, D("0.5")), 2, "unproven_high"),
        ("<", "0.50", Limits(None, D("0.50")), 2, "inside"),  # v < 0.50 shows <= 0.50
        ("<", "0.50", Limits(None, D("0.50"), high_inclusive=False), 2, "unproven_high"),
        ("<", "0.50", Limits(None, D("0.50"), high_inclusive=False), None, "inside"),
        ("<", "0.505", Limits(None, D("0.50"), high_inclusive=False), 2, "unproven_high"),
        ("<", "0.505", Limits(None, D("0.51"), high_inclusive=False), 2, "inside"),
        # a lower limit can never be shown by "<"; below it is plainly below.
        ("<", "40", Limits(D("50"), None), 0, "below"),
        ("<", "50", Limits(D("50"), None), None, "below"),
        ("<", "50", Limits(D("50"), None), 0, "unproven_low"),  # 49.6 rounds to 50
        ("<", "60", Limits(D("50"), D("200")), 0, "unproven_low"),
        # ">" mirrors it.
        (">", "1000", Limits(D("50"), None), 0, "inside"),
        (">", "20", Limits(D("50"), None), 0, "unproven_low"),
        (">", "250", Limits(D("50"), D("200")), 0, "above"),
        (">", "200", Limits(D("50"), D("200")), None, "above"),
        (">", "199", Limits(D("50"), D("200")), 0, "unproven_high"),
        (">", "50", Limits(D("50"), None, low_inclusive=False), None, "inside"),
        (">", "50", Limits(D("50"), None, low_inclusive=False), 0, "unproven_low"),
    ],
)
def test_censored_results_conform_only_when_every_possible_value_does(
    qualifier: str, value: str, limits: Limits, decimals: int | None, expected: str
) -> None:
    assert limits.judge(D(value), qualifier, decimals) == expected  # type: ignore[arg-type]


@given(
    bound=st.decimals(min_value=D("0.001"), max_value=D("10"), places=3),
    true_value=st.decimals(min_value=D("0"), max_value=D("10"), places=4),
    high=st.decimals(min_value=D("0.01"), max_value=D("10"), places=2),
    inclusive=st.booleans(),
    decimals=st.sampled_from([None, 1, 2]),
)
def test_a_censored_pass_implies_every_value_it_stands_for_passes(
    bound: Decimal, true_value: Decimal, high: Decimal, inclusive: bool, decimals: int | None
) -> None:
    limits = Limits(low=None, high=high, high_inclusive=inclusive)
    if true_value < bound and limits.judge(bound, "<", decimals) == "inside":
        assert limits.judge(true_value, None, decimals) == "inside"


@pytest.mark.parametrize(
    ("limits", "unit", "decimals", "text"),
    [
        (Limits(None, D("0.5")), "EU/mL", 2, "\u2264 0.50 EU/mL"),
        (Limits(D("50"), D("200")), "nm", 0, "50\u2013200 nm"),
        (
            Limits(D("3E+10"), None),
            "particles/\u00b5g",
            None,
            "\u2265 3\u00d710^10 particles/\u00b5g",
        ),
        (Limits(D("0"), D("10"), low_inclusive=False), "%", 1, "> 0.0 and \u2264 10.0 %"),
        (Limits(None, D("0.505")), "EU/mL", 2, "\u2264 0.505 EU/mL"),  # never rounded
    ],
)
def test_limit_texts(limits: Limits, unit: str, decimals: int | None, text: str) -> None:
    assert limits.describe(unit, decimals) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.80", "0.80"),
        ("121", "121"),
        ("1E+2", "100"),
        ("2.10E+11", "2.10\u00d710^11"),
        ("0.00005", "5\u00d710^-5"),
        ("0", "0"),
    ],
)
def test_number_texts(value: str, text: str) -> None:
    assert format_decimal(D(value)) == text


def test_limits_are_padded_to_the_lines_decimals() -> None:
    assert format_limit(D("0.5"), 2) == "0.50"
    assert format_limit(D("0.5"), None) == "0.5"


@pytest.mark.parametrize("raw", [True, "abc", float("nan"), "Infinity", None, [1]])
def test_params_refuse_non_numbers(raw: object) -> None:
    with pytest.raises(ValueError, match="min"):
        to_decimal(raw, where="min")


def test_params_take_floats_by_their_shortest_text() -> None:
    assert to_decimal(0.1, where="max") == D("0.1")
    assert to_decimal(3e10, where="min") == D("3E+10")
