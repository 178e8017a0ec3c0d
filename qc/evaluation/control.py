"""Control charts for continued process verification: individuals and moving range
(I-MR), and the Nelson rules 1-8 judged against *fixed* limits.

Pure: plain Decimals in, limits and rule violations out; no Django, no I/O.

FDA "Process Validation: General Principles and Practices" (2011), stage 3
(continued process verification) asks for statistical trending of lot data; a
control chart whose limits move with every new lot hides the very drift it is
there to show.  So the limits are computed once, by :func:`individuals_limits`,
from a baseline of lots QA chose and signed, stored, and every later judgement
(:func:`rule_violations`) takes them as an argument and never recomputes them.

Formulas (Montgomery, *Introduction to Statistical Quality Control*, 7th ed.,
§6.4; NIST/SEMATECH e-Handbook §6.3.2.2):

* centre line = mean of the baseline values;
* MR̄ = mean of |x_i - x_(i-1)| over the baseline;
* σ̂ = MR̄ / d2, with d2 = 1.128 for ranges of two;
* UCL/LCL = centre ± 3σ̂; the moving-range chart's UCL = D4 · MR̄ with D4 = 3.267
  (its LCL is 0).

The rules (L. S. Nelson, "The Shewhart control chart — tests for special causes",
J. Qual. Technol. 16(4), 1984), each flagged on the point that completes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

D2 = Decimal("1.128")  # d2 for moving ranges of two consecutive points
D4 = Decimal("3.267")  # D4 for n = 2: the moving-range chart's upper limit factor


class ControlError(ValueError):
    """A baseline that cannot give control limits; ``code`` says why."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlLimits:
    """An individuals chart's centre and 3σ limits, and its moving-range chart's."""

    centre: Decimal
    sigma: Decimal
    mr_bar: Decimal
    n: int

    @property
    def ucl(self) -> Decimal:
        return self.centre + 3 * self.sigma

    @property
    def lcl(self) -> Decimal:
        return self.centre - 3 * self.sigma

    @property
    def mr_ucl(self) -> Decimal:
        return D4 * self.mr_bar

    def zone(self, value: Decimal) -> Decimal:
        """How many σ ``value`` lies from the centre, signed (above is positive)."""
        return (value - self.centre) / self.sigma


def moving_ranges(values: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """|x_i - x_(i-1)| for i = 1..n-1 (the first point has none)."""
    return tuple(abs(b - a) for a, b in itertools.pairwise(values))


def individuals_limits(values: Sequence[Decimal]) -> ControlLimits:
    """I-MR limits of a baseline (see the module doc); at least two values that differ."""
    if len(values) < 2:
        raise ControlError(
            f"a baseline needs at least 2 values for a moving range; it has {len(values)}",
            code="baseline_too_short",
        )
    ranges = moving_ranges(values)
    mr_bar = sum(ranges, Decimal(0)) / len(ranges)
    if mr_bar == 0:
        raise ControlError(
            "the baseline values never change from one lot to the next: σ would be 0",
            code="baseline_no_variation",
        )
    return ControlLimits(
        centre=sum(values, Decimal(0)) / len(values),
        sigma=mr_bar / D2,
        mr_bar=mr_bar,
        n=len(values),
    )


class Rule(IntEnum):
    BEYOND_3_SIGMA = 1
    NINE_SAME_SIDE = 2
    SIX_TRENDING = 3
    FOURTEEN_ALTERNATING = 4
    TWO_OF_THREE_BEYOND_2_SIGMA = 5
    FOUR_OF_FIVE_BEYOND_1_SIGMA = 6
    FIFTEEN_WITHIN_1_SIGMA = 7
    EIGHT_OUTSIDE_1_SIGMA = 8

    @property
    def words(self) -> str:
        return RULE_WORDS[self]


RULE_WORDS: dict[Rule, str] = {
    Rule.BEYOND_3_SIGMA: "one point more than 3σ from the centre line",
    Rule.NINE_SAME_SIDE: "nine points in a row on the same side of the centre line",
    Rule.SIX_TRENDING: "six points in a row steadily increasing or decreasing",
    Rule.FOURTEEN_ALTERNATING: "fourteen points in a row alternating up and down",
    Rule.TWO_OF_THREE_BEYOND_2_SIGMA: (
        "two of three points in a row more than 2σ from the centre line, on the same side"
    ),
    Rule.FOUR_OF_FIVE_BEYOND_1_SIGMA: (
        "four of five points in a row more than 1σ from the centre line, on the same side"
    ),
    Rule.FIFTEEN_WITHIN_1_SIGMA: "fifteen points in a row within 1σ of the centre line",
    Rule.EIGHT_OUTSIDE_1_SIGMA: (
        "eight points in a row more than 1σ from the centre line, on either side"
    ),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """Rule ``rule`` is broken at point ``index`` by the points ``window`` (indices)."""

    rule: Rule
    index: int
    window: tuple[int, ...]

    @property
    def words(self) -> str:
        return self.rule.words


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _runs(flags: Sequence[bool]) -> list[int]:
    """For each position, how many ``True`` end there in a row (0 where it is False)."""
    run, out = 0, []
    for flag in flags:
        run = run + 1 if flag else 0
        out.append(run)
    return out


def rule_violations(values: Sequence[Decimal], limits: ControlLimits) -> tuple[Violation, ...]:
    """Every Nelson rule 1-8 broken by ``values`` against the fixed ``limits``.

    A violation is flagged on the point that completes the pattern (the last of its
    window), once per rule and point, in the order (index, rule).  Strict inequalities
    throughout: a point exactly on the centre line is on neither side, one exactly
    at 3σ is not beyond it, and equal neighbours break a trend or an alternation.
    """
    z = [limits.zone(v) for v in values]
    side = [_sign(d) for d in z]
    # step[i]: the direction from point i-1 to point i (0 for the first point).
    step = [0, *(_sign(b - a) for a, b in itertools.pairwise(values))]
    above, below = _runs([s > 0 for s in side]), _runs([s < 0 for s in side])
    rising, falling = _runs([d > 0 for d in step]), _runs([d < 0 for d in step])
    turns = _runs([i >= 2 and step[i] != 0 and step[i] == -step[i - 1] for i in range(len(step))])
    inside = _runs([abs(d) < 1 for d in z])
    outside = _runs([abs(d) > 1 for d in z])
    found: list[Violation] = []
    for i in range(len(values)):

        def flag(rule: Rule, length: int, at: int = i) -> None:
            found.append(Violation(rule, at, tuple(range(at - length + 1, at + 1))))

        if abs(z[i]) > 3:
            flag(Rule.BEYOND_3_SIGMA, 1)
        if max(above[i], below[i]) >= 9:
            flag(Rule.NINE_SAME_SIDE, 9)
        if max(rising[i], falling[i]) >= 5:  # six points: five steps one way
            flag(Rule.SIX_TRENDING, 6)
        if turns[i] >= 12:  # fourteen points: thirteen steps, each reversing the last
            flag(Rule.FOURTEEN_ALTERNATING, 14)
        for rule, length, need, beyond in (
            (Rule.TWO_OF_THREE_BEYOND_2_SIGMA, 3, 2, 2),
            (Rule.FOUR_OF_FIVE_BEYOND_1_SIGMA, 5, 4, 1),
        ):
            # The point that completes the pattern is itself one of the extreme ones.
            if i + 1 >= length and abs(z[i]) > beyond:
                window = range(i - length + 1, i + 1)
                if sum(1 for j in window if abs(z[j]) > beyond and side[j] == side[i]) >= need:
                    flag(rule, length)
        if inside[i] >= 15:
            flag(Rule.FIFTEEN_WITHIN_1_SIGMA, 15)
        if outside[i] >= 8:
            flag(Rule.EIGHT_OUTSIDE_1_SIGMA, 8)
    return tuple(found)


def moving_range_violations(values: Sequence[Decimal], limits: ControlLimits) -> tuple[int, ...]:
    """The points whose moving range (from the point before) exceeds the MR chart's UCL."""
    return tuple(i + 1 for i, mr in enumerate(moving_ranges(values)) if mr > limits.mr_ucl)
