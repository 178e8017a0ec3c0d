"""``qualitative``: each valid result's text is one of the allowed readings.

Params::

    {"allowed": ["no growth"], "requires_run": false}

Comparison ignores case and runs of whitespace (" No  Growth" is "no growth").
A result without text is invalid (the data are malformed), not a failure.
"""

from __future__ import annotations

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    check_keys,
    normalise_text,
    param_text_list,
    where,
)
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    LineVerdict,
    ResultInput,
    ShownValue,
    SpecLine,
)


def text_check(result: ResultInput) -> str | None:
    if result.text_value is None or not result.text_value.strip():
        return "no reading (text value) was reported"
    return None


class Qualitative(CompiledLine):
    __slots__ = ("allowed", "allowed_text")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        check_keys(line.params, {"allowed"} | self.COMMON_KEYS, where=context)
        if line.alert_params:
            raise CriterionError(f"{context}: a qualitative line has no alert limits")
        allowed = param_text_list(line.params, "allowed", where=context)
        if not allowed:
            raise CriterionError(f"{context}: 'allowed' needs at least one reading")
        self.allowed = frozenset(normalise_text(a) for a in allowed)
        self.allowed_text = " or ".join(f'"{a}"' for a in allowed)

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        selection = self.select(ctx, self.line.test_code, check=text_check)
        if not selection.valid:
            return self.not_judgeable([selection], missing="no result yet")
        name = self.line.name
        many = len(selection.valid) > 1
        failures: list[str] = []
        failing: list[str] = []
        shown: list[ShownValue] = []
        for result in selection.valid:
            text = " ".join((result.text_value or "").split())
            shown.append(ShownValue(result.result_id, None, text))
            if normalise_text(text) not in self.allowed:
                subject = f" (result {result.result_id})" if many else ""
                failures.append(f'{name} "{text}"{subject} is not {self.allowed_text}')
                failing.append(result.result_id)
        verdict: LineVerdict
        if failures:
            reason = "; ".join(failures)
            verdict = LineVerdict.DOES_NOT_CONFORM
        else:
            readings = ", ".join(f'"{s.text}"' for s in shown)
            reason = f"{name} {readings} conforms to {self.allowed_text}"
            verdict = LineVerdict.CONFORMS
        return self.finish(verdict, reason, selections=[selection], failing=failing, shown=shown)
