"""``derived_ratio``: numerator test / denominator test, in the line's unit, within limits.

Params (the line's ``unit`` is the ratio's unit, e.g. ``particles/µg``)::

    {"numerator": "NTA-CONC", "numerator_unit": "particles/mL",
     "denominator": "BCA-PROTEIN", "denominator_unit": "µg/mL",
     "min": "3e10", "requires_run": false}

The conversion factor from ``numerator_unit / denominator_unit`` to the line's unit is
worked out with :mod:`qc.units` once, when the line is compiled (a wrong dimension is a
spec error), never per lot. Purity by particle:protein ratio: Webber & Clayton, JEV
2013 (>= 3x10^10 particles/µg "high purity").

Every pair of a valid numerator and a valid denominator result is judged (an OOS
result is not averaged away). Either input missing: ``missing`` (or ``invalid``). A
censored input makes the ratio censored (``< n / d`` is ``<``; ``n / (< d)`` is
``>``); two inputs censored the same way leave the ratio unbounded, which cannot
demonstrate anything and is reported as such (``does_not_conform``).
"""

from __future__ import annotations

from decimal import Decimal

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    canonical_unit,
    check_keys,
    param_text,
    where,
)
from qc.evaluation.criteria.numeric import Judged, NumericLimits
from qc.evaluation.limits import LIMIT_KEYS, show
from qc.evaluation.rounding import DECIMAL_CONTEXT
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    Qualifier,
    ResultInput,
    ShownValue,
    SpecLine,
)
from qc.units import UnitError, check_unit, conversion_factor

_INVERTED: dict[Qualifier, Qualifier] = {"<": ">", ">": "<"}


def numerator_check(result: ResultInput) -> str | None:
    if result.value is None:
        return "no numeric value was reported"
    if result.value < 0:
        return "a negative amount cannot enter a ratio"
    return None


def denominator_check(result: ResultInput) -> str | None:
    if result.value is None:
        return "no numeric value was reported"
    if result.value <= 0:
        return "the ratio is undefined for a denominator of zero or less"
    return None


def ratio_qualifier(
    numerator: Qualifier | None, denominator: Qualifier | None
) -> tuple[bool, Qualifier | None]:
    """(bounded, qualifier) of n/d from the inputs' qualifiers."""
    inverted = _INVERTED[denominator] if denominator else None
    if numerator is None or inverted is None or numerator == inverted:
        return True, numerator or inverted
    return False, None


class DerivedRatio(CompiledLine):
    __slots__ = (
        "denominator",
        "denominator_unit",
        "factor",
        "limits",
        "numerator",
        "numerator_unit",
        "unit",
    )

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        keys = {"numerator", "numerator_unit", "denominator", "denominator_unit"}
        check_keys(line.params, LIMIT_KEYS | keys | self.COMMON_KEYS, where=context)
        check_keys(line.alert_params or {}, LIMIT_KEYS, where=f"{context} alert")
        self.unit = canonical_unit(line)
        self.limits = NumericLimits.from_line(line, unit=self.unit, where=context)
        self.numerator = param_text(line.params, "numerator", where=context)
        self.denominator = param_text(line.params, "denominator", where=context)
        if self.numerator == self.denominator:
            raise CriterionError(f"{context}: numerator and denominator are the same test")
        self.numerator_unit = param_text(line.params, "numerator_unit", where=context)
        self.denominator_unit = param_text(line.params, "denominator_unit", where=context)
        try:
            check_unit(self.numerator_unit)
            check_unit(self.denominator_unit)
            self.factor = conversion_factor(
                f"({self.numerator_unit})/({self.denominator_unit})", self.unit
            )
        except UnitError as exc:
            raise CriterionError(f"{context}: {exc.reason}") from None
        self.test_codes = (self.numerator, self.denominator)

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        numerators = self.select(
            ctx, self.numerator, unit=self.numerator_unit, check=numerator_check
        )
        denominators = self.select(
            ctx, self.denominator, unit=self.denominator_unit, check=denominator_check
        )
        selections = [numerators, denominators]
        if not numerators.valid or not denominators.valid:
            waiting = [
                code
                for code, s in ((self.numerator, numerators), (self.denominator, denominators))
                if not s.valid
            ]
            return self.not_judgeable(selections, missing=f"no result yet for {', '.join(waiting)}")
        judged: list[Judged] = []
        unbounded: list[tuple[str, tuple[str, ...]]] = []
        shown: list[ShownValue] = []
        for n in numerators.valid:
            for d in denominators.valid:
                n_value, d_value = n.value or Decimal(0), d.value or Decimal(1)
                label = f"{n.result_id}/{d.result_id}"
                inputs = (
                    f"{show(n_value, n.qualifier, self.numerator_unit, None)} \u00f7 "
                    f"{show(d_value, d.qualifier, self.denominator_unit, None)}"
                )
                bounded, qualifier = ratio_qualifier(n.qualifier, d.qualifier)
                if not bounded:
                    unbounded.append(
                        (
                            f"{self.line.name} cannot be bounded from {inputs} "
                            f"(results {n.result_id} and {d.result_id}): both are detection "
                            "limits on the same side",
                            (n.result_id, d.result_id),
                        )
                    )
                    continue
                ratio = DECIMAL_CONTEXT.divide(n_value * self.factor, d_value)
                judgement = self.limits.judge(
                    self.limits.computed(ratio, qualifier),
                    qualifier,
                    label=label,
                    subject=f"{inputs}, results {n.result_id} and {d.result_id}",
                    result_ids=(n.result_id, d.result_id),
                )
                judged.append(judgement)
                shown.append(self.limits.shown(judgement))
        verdict, reason, failing = self.limits.verdict(judged, extra_failures=unbounded)
        if len(judged) == 1 and not unbounded:
            reason = f"{reason} ({judged[0].subject})"
        return self.finish(verdict, reason, selections=selections, failing=failing, shown=shown)
