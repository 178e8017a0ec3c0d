"""``process_fact``: a field of the lot's batch record in an allowed set / not forbidden.

Params::

    {"field": "isolation_method", "allowed": ["SEC", "TFF + SEC"]}
    {"field": "culture_supplement", "allowed": ["FCS-free", "EV-depleted FCS"]}
    {"field": "isolation_method", "forbidden": ["precipitation", "PEG precipitation"]}

Values compare case-insensitively with whitespace normalised, as whole values (a
forbidden "precipitation" does not match "PEG precipitation"): prefer an ``allowed``
list, which refuses anything unforeseen. A missing field is ``missing``.
Source: the seed article and MISEV2018 (avoid precipitation; FCS-free or EV-depleted
culture).
"""

from __future__ import annotations

from decimal import Decimal

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    check_keys,
    normalise_text,
    param_text,
    param_text_list,
    where,
)
from qc.evaluation.rounding import format_decimal
from qc.evaluation.types import CriterionError, LineEvaluation, LineVerdict, ShownValue, SpecLine


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


class ProcessFact(CompiledLine):
    __slots__ = ("allowed", "allowed_text", "field", "forbidden", "forbidden_text")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        check_keys(line.params, {"field", "allowed", "forbidden"}, where=context)
        if line.alert_params:
            raise CriterionError(f"{context}: a process-fact line has no alert limits")
        self.field = param_text(line.params, "field", where=context)
        allowed = param_text_list(line.params, "allowed", where=context)
        forbidden = param_text_list(line.params, "forbidden", where=context)
        if not allowed and not forbidden:
            raise CriterionError(f"{context}: give 'allowed', 'forbidden' or both")
        self.allowed = frozenset(normalise_text(v) for v in allowed)
        self.forbidden = frozenset(normalise_text(v) for v in forbidden)
        self.allowed_text = _quoted(allowed)
        self.forbidden_text = _quoted(forbidden)
        self.fact_fields = (self.field,)

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        name = self.line.name
        raw = ctx.lot.process_facts.get(self.field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self.finish(
                LineVerdict.MISSING, f"{name}: the batch record has no '{self.field}' yet"
            )
        value = format_decimal(raw) if isinstance(raw, Decimal) else " ".join(str(raw).split())
        key = normalise_text(value)
        shown = [ShownValue(self.field, None, value)]
        if key in self.forbidden:
            return self.finish(
                LineVerdict.DOES_NOT_CONFORM,
                f'{name} "{value}" is forbidden ({self.forbidden_text})',
                shown=shown,
            )
        if self.allowed and key not in self.allowed:
            return self.finish(
                LineVerdict.DOES_NOT_CONFORM,
                f'{name} "{value}" is not an allowed value ({self.allowed_text})',
                shown=shown,
            )
        if self.allowed:
            reason = f'{name} "{value}" is an allowed value ({self.allowed_text})'
        else:
            reason = f'{name} "{value}" is not a forbidden value ({self.forbidden_text})'
        return self.finish(LineVerdict.CONFORMS, reason, shown=shown)
