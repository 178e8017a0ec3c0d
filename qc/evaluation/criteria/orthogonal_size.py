"""``orthogonal_size``: modal size by at least two distinct techniques, in range, agreeing.

Params::

    {"min": 50, "max": 200, "tolerance_percent": 20, "min_techniques": 2,
     "test_codes": ["NTA-MODE", "TRPS-MODE"], "requires_run": true}

``test_codes`` defaults to the line's test code (one test whose results name their
technique). Alert params: limit keys and/or a tighter ``tolerance_percent``.

* Every valid result is judged against min/max (rounded to the line's decimals).
* Agreement (NIST consensus study; MISEV2018 asks for orthogonal sizing): for every
  pair of valid results from *different* techniques, the relative difference
  ``|a - b| / ((a + b) / 2) x 100`` is rounded to the places the tolerance is written
  with (USP GN 7.20) and must not exceed it. The worst pair is reported.
* Fewer than ``min_techniques`` distinct techniques (case-insensitive) with valid
  results: ``missing`` (``invalid`` if others exist but are invalid), unless a
  result already fails.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    canonical_unit,
    check_keys,
    normalise_text,
    param_int,
    param_text_list,
    where,
)
from qc.evaluation.criteria.numeric import NumericLimits
from qc.evaluation.limits import LIMIT_KEYS, param_decimal
from qc.evaluation.rounding import DECIMAL_CONTEXT, format_decimal, places_of, round_half_up
from qc.evaluation.types import CriterionError, LineEvaluation, ResultInput, SpecLine

_HUNDRED = Decimal(100)
_TWO = Decimal(2)


def size_check(result: ResultInput) -> str | None:
    if result.value is None:
        return "no numeric value was reported"
    if result.qualifier is not None:
        return "a modal size must be a number, not a detection limit"
    if not result.technique.strip():
        return "the sizing technique is not stated"
    return None


def relative_difference(a: Decimal, b: Decimal) -> Decimal:
    """|a - b| relative to the mean of a and b, in percent (exact, unrounded)."""
    mean = DECIMAL_CONTEXT.divide(a + b, _TWO)
    if not mean:
        return Decimal(0)
    return DECIMAL_CONTEXT.divide(abs(a - b) * _HUNDRED, abs(mean))


def _tolerance(params: Any, context: str, *, required: bool) -> Decimal | None:
    tolerance = param_decimal(params, "tolerance_percent", where=context)
    if tolerance is None and required:
        raise CriterionError(f"{context}: 'tolerance_percent' is required")
    if tolerance is not None and tolerance < 0:
        raise CriterionError(f"{context}: 'tolerance_percent' must not be negative")
    return tolerance


class OrthogonalSize(CompiledLine):
    __slots__ = ("alert_tolerance", "limits", "min_techniques", "tolerance", "unit")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        keys = {"tolerance_percent", "min_techniques", "test_codes"}
        check_keys(line.params, LIMIT_KEYS | keys | self.COMMON_KEYS, where=context)
        alert = line.alert_params or {}
        check_keys(alert, LIMIT_KEYS | {"tolerance_percent"}, where=f"{context} alert")
        self.unit = canonical_unit(line)
        self.limits = NumericLimits.from_line(line, unit=self.unit, where=context)
        tolerance = _tolerance(line.params, context, required=True)
        assert tolerance is not None  # required=True raised otherwise
        self.tolerance = tolerance
        self.alert_tolerance = _tolerance(alert, f"{context} alert", required=False)
        if self.alert_tolerance is not None and self.alert_tolerance > self.tolerance:
            raise CriterionError(f"{context}: the alert tolerance must not exceed the tolerance")
        self.min_techniques = param_int(line.params, "min_techniques", 2, where=context, minimum=2)
        codes = param_text_list(line.params, "test_codes", where=context)
        self.test_codes = codes or (line.test_code,)

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        selections = [
            self.select(ctx, code, unit=self.unit, check=size_check) for code in self.test_codes
        ]
        sized = sorted(
            ((r, r.value) for s in selections for r in s.valid if r.value is not None),
            key=lambda pair: pair[0].result_id,
        )
        judged = [
            self.limits.judge(
                value,
                None,
                label=r.result_id,
                subject=f"{r.technique}, result {r.result_id}",
                result_ids=(r.result_id,),
            )
            for r, value in sized
        ]
        shown = [self.limits.shown(j) for j in judged]
        places = places_of(self.tolerance)
        pairs = [
            (round_half_up(relative_difference(va, vb), places), a, b)
            for i, (a, va) in enumerate(sized)
            for b, vb in sized[i + 1 :]
            if normalise_text(a.technique) != normalise_text(b.technique)
        ]
        failures: list[tuple[str, tuple[str, ...]]] = []
        alerts: list[str] = []
        agreement = ""
        if pairs:
            difference, a, b = max(pairs, key=lambda p: p[0])
            tolerance = format_decimal(self.tolerance)
            if difference > self.tolerance:
                over = {r.result_id for d, x, y in pairs if d > self.tolerance for r in (x, y)}
                sentence = (
                    f"{self.line.name} by {a.technique} ({self._size(a)}, result {a.result_id})"
                    f" and {b.technique} ({self._size(b)}, result {b.result_id}) differ by "
                    f"{format_decimal(difference)} %, more than the {tolerance} % tolerance"
                )
                failures.append((sentence, tuple(sorted(over))))
            elif self.alert_tolerance is not None and difference > self.alert_tolerance:
                alerts.append(
                    f"{a.technique} and {b.technique} differ by {format_decimal(difference)} %, "
                    f"more than the {format_decimal(self.alert_tolerance)} % alert tolerance"
                )
            agreement = (
                f"; the techniques agree within {format_decimal(difference)} % "
                f"(tolerance {tolerance} %)"
            )
        if failures or any(j.fails for j in judged):
            verdict, reason, failing = self.limits.verdict(judged, extra_failures=failures)
            return self.finish(verdict, reason, selections=selections, failing=failing, shown=shown)
        techniques = {normalise_text(r.technique) for r, _ in sized}
        if len(techniques) < self.min_techniques:
            have = ", ".join(sorted({r.technique for r, _ in sized})) or "none"
            return self.not_judgeable(
                selections,
                missing=(
                    f"needs valid results from {self.min_techniques} distinct techniques, "
                    f"has {len(techniques)} ({have})"
                ),
            )
        verdict, reason, _ = self.limits.verdict(
            judged, extra_alerts=alerts, extra_conformance=agreement
        )
        return self.finish(verdict, reason, selections=selections, shown=shown)

    def _size(self, result: ResultInput) -> str:
        value = round_half_up(result.value or Decimal(0), self.limits.decimals)
        return f"{format_decimal(value)} {self.unit}"
