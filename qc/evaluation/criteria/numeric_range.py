"""``numeric_range``: each valid result within min/max (either may be absent).

Params::

    {"min": "0", "max": "0.50", "min_inclusive": true, "max_inclusive": true,
     "requires_run": false}

or, for bacterial endotoxins, the limit stated as K/M (USP <85>) instead of ``max``::

    {"endotoxin_k": "5", "endotoxin_m": "10", "endotoxin_m_unit": "mL/kg/h"}

Alert params: the same limit keys, inside the release limits.
Every valid result is judged after rounding to the line's decimals (half up, USP
General Notices 7.20); censored results (``< 0.05``) as described in
:mod:`qc.evaluation.limits`.
"""

from __future__ import annotations

from qc.evaluation.criteria.base import CompiledLine, LotContext, canonical_unit, check_keys, where
from qc.evaluation.criteria.numeric import NumericLimits, alert_limits, numeric_check
from qc.evaluation.limits import ENDOTOXIN_KEYS, LIMIT_KEYS, EndotoxinLimit, Limits
from qc.evaluation.types import CriterionError, LineEvaluation, SpecLine
from qc.units import UnitError, conversion_factor


class NumericRange(CompiledLine):
    __slots__ = ("limits", "unit")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        check_keys(line.params, LIMIT_KEYS | ENDOTOXIN_KEYS | self.COMMON_KEYS, where=context)
        check_keys(line.alert_params or {}, LIMIT_KEYS, where=f"{context} alert")
        self.unit = canonical_unit(line)
        endotoxin = EndotoxinLimit.from_params(line.params, decimals=line.decimals, where=context)
        if endotoxin is None:
            self.limits = NumericLimits.from_line(line, unit=self.unit, where=context)
            return
        try:
            factor = conversion_factor(endotoxin.unit, self.unit)
        except UnitError:
            raise CriterionError(
                f"{context}: K/M is in {endotoxin.unit}, which the test's unit {self.unit} is not"
            ) from None
        params = {**line.params, "max": endotoxin.limit * factor}
        release = Limits.from_params(params, where=context)
        self.limits = NumericLimits(
            name=line.name,
            unit=self.unit,
            decimals=line.decimals,
            release=release,
            alert=alert_limits(line.alert_params, release, where=context),
        )

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        selection = self.select(ctx, self.line.test_code, unit=self.unit, check=numeric_check)
        if not selection.valid:
            return self.not_judgeable([selection], missing="no result yet")
        judged = [
            self.limits.judge(
                result.value,  # type: ignore[arg-type]  # numeric_check ensured a value
                result.qualifier,
                label=result.result_id,
                subject=f"result {result.result_id}",
                result_ids=(result.result_id,),
            )
            for result in selection.valid
        ]
        verdict, reason, failing = self.limits.verdict(judged)
        return self.finish(
            verdict,
            reason,
            selections=[selection],
            failing=failing,
            shown=[self.limits.shown(j) for j in judged],
        )
