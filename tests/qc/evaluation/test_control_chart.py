"""I-MR limits and the Nelson rules 1-8 (qc.evaluation.control): worked examples
checked by hand, and properties that must hold for any sequence."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.evaluation.control import (
    D2,
    ControlError,
    ControlLimits,
    Rule,
    individuals_limits,
    moving_range_violations,
    rule_violations,
)

# Centre 0, σ exactly 1 (MR̄ = d2): each value below reads directly in σ.
UNIT = ControlLimits(centre=Decimal(0), sigma=Decimal(1), mr_bar=D2, n=20)


def seq(*values: float | str) -> list[Decimal]:
    return [Decimal(str(v)) for v in values]


def flagged(values: list[Decimal], limits: ControlLimits = UNIT) -> set[tuple[int, int]]:
    return {(int(v.rule), v.index) for v in rule_violations(values, limits)}


def test_individuals_limits_worked_example() -> None:
    # 10, 12, 11, 13, 12: moving ranges 2, 1, 2, 1 -> MR̄ 1.5; σ = 1.5 / 1.128.
    limits = individuals_limits(seq(10, 12, 11, 13, 12))
    assert limits.centre == Decimal("11.6")
    assert limits.mr_bar == Decimal("1.5")
    assert limits.sigma == Decimal("1.5") / Decimal("1.128")
    assert round(limits.ucl, 4) == Decimal("15.5894")
    assert round(limits.lcl, 4) == Decimal("7.6106")
    assert limits.mr_ucl == Decimal("4.9005")  # 3.267 x 1.5


def test_a_baseline_needs_two_values_that_vary() -> None:
    with pytest.raises(ControlError) as short:
        individuals_limits(seq(5))
    assert short.value.code == "baseline_too_short"
    with pytest.raises(ControlError) as flat:
        individuals_limits(seq(5, 5, 5))
    assert flat.value.code == "baseline_no_variation"


@pytest.mark.parametrize(
    ("rule", "values", "at"),
    [
        (Rule.BEYOND_3_SIGMA, seq(0, 0.5, -0.5, 3.5), 3),
        (Rule.NINE_SAME_SIDE, seq(0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5), 8),
        (Rule.SIX_TRENDING, seq(-0.5, -0.3, -0.1, 0.1, 0.3, 0.5), 5),
        (Rule.FOURTEEN_ALTERNATING, seq(*[0.5, -0.5] * 7), 13),
        (Rule.TWO_OF_THREE_BEYOND_2_SIGMA, seq(0, 2.5, 0.5, 2.5), 3),
        (Rule.FOUR_OF_FIVE_BEYOND_1_SIGMA, seq(0, 1.5, 1.5, 0.5, 1.5, 1.5), 5),
        (Rule.FIFTEEN_WITHIN_1_SIGMA, seq(*([0.2, 0.3, -0.2, -0.3] * 4)[:15]), 14),
        (Rule.EIGHT_OUTSIDE_1_SIGMA, seq(*[1.5, -1.5] * 4), 7),
    ],
)
def test_each_rule_alone_on_a_hand_checked_sequence(
    rule: Rule, values: list[Decimal], at: int
) -> None:
    assert flagged(values) == {(int(rule), at)}
    (violation,) = rule_violations(values, UNIT)
    assert violation.window[-1] == at and rule.words in violation.words


def test_the_boundaries_are_strict() -> None:
    assert flagged(seq(3)) == set()  # at 3σ, not beyond
    assert flagged(seq(*[0.5] * 8, 0)) == set()  # a point on the centre line breaks the run
    assert flagged(seq(0.1, 0.2, 0.3, 0.3, 0.4, 0.5)) == set()  # a tie breaks a trend


def test_a_big_jump_breaks_the_moving_range_limit() -> None:
    assert moving_range_violations(seq(0, 0.5, 4.2, 4), UNIT) == (2,)


values_in_sigma = st.lists(
    st.decimals(min_value=-5, max_value=5, places=2, allow_nan=False), min_size=0, max_size=40
)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(values_in_sigma)
def test_rule_one_flags_exactly_the_points_beyond_three_sigma(values: list[Decimal]) -> None:
    ones = {v.index for v in rule_violations(values, UNIT) if v.rule == Rule.BEYOND_3_SIGMA}
    assert ones == {i for i, x in enumerate(values) if abs(x) > 3}


@FAST
@given(values_in_sigma, st.integers(min_value=0, max_value=40))
def test_later_points_never_change_what_earlier_points_broke(
    values: list[Decimal], cut: int
) -> None:
    """Fixed limits: judging lot k never depends on the lots that came after it."""
    whole = rule_violations(values, UNIT)
    assert rule_violations(values[:cut], UNIT) == tuple(v for v in whole if v.index < cut)


@FAST
@given(values_in_sigma)
def test_mirroring_around_the_centre_breaks_the_same_rules(values: list[Decimal]) -> None:
    assert flagged([-x for x in values]) == flagged(values)


@FAST
@given(values_in_sigma, st.decimals(min_value=-1000, max_value=1000, places=1))
def test_the_rules_read_distances_in_sigma_not_the_unit(
    values: list[Decimal], shift: Decimal
) -> None:
    scaled = ControlLimits(centre=shift, sigma=Decimal(7), mr_bar=7 * D2, n=20)
    assert flagged([shift + 7 * x for x in values], scaled) == flagged(values)


@FAST
@given(values_in_sigma)
def test_every_window_ends_at_its_point_and_has_its_rules_length(values: list[Decimal]) -> None:
    length = {1: 1, 2: 9, 3: 6, 4: 14, 5: 3, 6: 5, 7: 15, 8: 8}
    for v in rule_violations(values, UNIT):
        assert v.window == tuple(range(v.index - length[v.rule] + 1, v.index + 1))
        assert v.window[0] >= 0


@FAST
@given(
    st.lists(st.decimals(min_value=1, max_value=10**6, places=3), min_size=2, max_size=30).filter(
        lambda xs: len(set(xs)) > 1
    ),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3),
)
def test_limits_move_with_the_data_and_sigma_ignores_a_shift(
    values: list[Decimal], shift: Decimal
) -> None:
    base, moved = individuals_limits(values), individuals_limits([x + shift for x in values])
    assert moved.sigma == base.sigma and moved.mr_bar == base.mr_bar
    assert abs(moved.centre - (base.centre + shift)) < Decimal("1e-12")
    assert base.lcl < base.centre < base.ucl and base.mr_ucl > base.mr_bar
