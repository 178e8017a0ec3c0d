"""``relative_potency``: potency relative to the reference lot, by parallel-line analysis.

Params (the line's unit is ``%``)::

    {"min": 50, "max": 150, "min_points": 3, "max_slope_ratio": "1.25",
     "requires_run": true}

A result carries the dose-response curves in ``raw_data``::

    {"sample":    [{"dose": 1, "response": 12.1}, ...],
     "reference": [{"dose": 1, "response": 10.3}, ...]}

or, without curves, a posted relative potency in ``value`` (percent).

Parallel-line analysis (ICH Q6B; USP <1034>, European Pharmacopoeia 5.3): responses
are linear in x = log10(dose) over the range tested; both curves are fitted by least
squares with a common slope b and their own intercepts::

    b   = (Sxy_sample + Sxy_reference) / (Sxx_sample + Sxx_reference)
    log10 RP = (mean_y_sample - mean_y_reference) / b - (mean_x_sample - mean_x_reference)
    RP % = 100 x 10^(log10 RP)

(doses of sample and reference in the same unit or dilution scale). A curve that
cannot support that estimate makes the result *invalid* (assay validity, not OOS):
fewer than ``min_points`` distinct doses, a non-positive dose, a flat common slope,
or, when ``max_slope_ratio`` is given, separate slopes whose ratio lies outside
[1/r, r] (not parallel, including opposite signs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    canonical_unit,
    check_keys,
    param_int,
    where,
)
from qc.evaluation.criteria.numeric import Judged, NumericLimits
from qc.evaluation.limits import LIMIT_KEYS, param_decimal
from qc.evaluation.rounding import format_decimal, round_significant, to_decimal
from qc.evaluation.types import CriterionError, LineEvaluation, ResultInput, ShownValue, SpecLine

# Fixed precision so the same curve gives the same potency on every machine.
_PLA: Context = Context(prec=34)
_LN10 = Decimal(10).ln(_PLA)
_HUNDRED = Decimal(100)


class CurveError(ValueError):
    """A dose-response curve that cannot give a valid potency estimate."""


@dataclass(frozen=True, slots=True)
class ParallelLineFit:
    relative_potency_percent: Decimal
    common_slope: Decimal
    sample_slope: Decimal
    reference_slope: Decimal

    @property
    def slope_ratio(self) -> Decimal:
        return _PLA.divide(self.sample_slope, self.reference_slope)


@lru_cache(maxsize=4096)
def _log10(dose: Decimal) -> Decimal:
    # Doses repeat across lots (dilution series) and Decimal.log10 is slow: cache it.
    return dose.log10(_PLA)


def _points(raw: object, name: str) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise CurveError(f"the {name} curve must be a list of {{dose, response}} points")
    points = []
    for point in raw:
        if not isinstance(point, Mapping) or "dose" not in point or "response" not in point:
            raise CurveError(f"every {name} point needs a dose and a response")
        try:
            dose = to_decimal(point["dose"], where=f"{name} dose")
            response = to_decimal(point["response"], where=f"{name} response")
        except ValueError as exc:
            raise CurveError(str(exc)) from None
        if dose <= 0:
            raise CurveError(f"{name} dose {dose} is not positive; log dose is undefined")
        points.append((_log10(dose), response))
    return points


def _moments(points: list[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(mean x, mean y, Sxx, Sxy) of one curve."""
    count = Decimal(len(points))
    mean_x = sum((x for x, _ in points), Decimal(0)) / count
    mean_y = sum((y for _, y in points), Decimal(0)) / count
    sxx = sum(((x - mean_x) ** 2 for x, _ in points), Decimal(0))
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in points), Decimal(0))
    return mean_x, mean_y, sxx, sxy


def parallel_line_fit(sample: object, reference: object, *, min_points: int = 3) -> ParallelLineFit:
    """Relative potency (percent) of sample vs reference by common-slope least squares."""
    with localcontext(_PLA):
        curves = {}
        for name, raw in (("sample", sample), ("reference", reference)):
            points = _points(raw, name)
            if len({x for x, _ in points}) < min_points:
                raise CurveError(f"the {name} curve has fewer than {min_points} distinct doses")
            curves[name] = _moments(points)
        mean_xs, mean_ys, sxx_s, sxy_s = curves["sample"]
        mean_xr, mean_yr, sxx_r, sxy_r = curves["reference"]
        common = (sxy_s + sxy_r) / (sxx_s + sxx_r)
        if not common:
            raise CurveError("the curves are flat (common slope 0): no dose response")
        log_rp = (mean_ys - mean_yr) / common - (mean_xs - mean_xr)
        try:
            potency = (log_rp * _LN10).exp() * _HUNDRED
        except InvalidOperation:  # pragma: no cover - needs an absurd shift
            raise CurveError("the potency estimate is out of range") from None
        return ParallelLineFit(
            relative_potency_percent=potency,
            common_slope=common,
            sample_slope=sxy_s / sxx_s,
            reference_slope=sxy_r / sxx_r,
        )


def _has_curve(result: ResultInput) -> bool:
    raw = result.raw_data
    return raw is not None and ("sample" in raw or "reference" in raw)


class RelativePotency(CompiledLine):
    __slots__ = ("limits", "max_slope_ratio", "min_points", "unit")

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        keys = {"min_points", "max_slope_ratio"}
        check_keys(line.params, LIMIT_KEYS | keys | self.COMMON_KEYS, where=context)
        check_keys(line.alert_params or {}, LIMIT_KEYS, where=f"{context} alert")
        self.unit = canonical_unit(line)
        self.limits = NumericLimits.from_line(line, unit=self.unit, where=context)
        self.min_points = param_int(line.params, "min_points", 3, where=context, minimum=2)
        self.max_slope_ratio = param_decimal(line.params, "max_slope_ratio", where=context)
        if self.max_slope_ratio is not None and self.max_slope_ratio < 1:
            raise CriterionError(f"{context}: 'max_slope_ratio' must be at least 1")

    def _fit(self, result: ResultInput) -> ParallelLineFit:
        raw = result.raw_data or {}
        fit = parallel_line_fit(raw.get("sample"), raw.get("reference"), min_points=self.min_points)
        limit = self.max_slope_ratio
        if limit is not None:
            ratio = fit.slope_ratio
            if not (_PLA.divide(1, limit) <= ratio <= limit):
                raise CurveError(
                    f"the curves are not parallel (slope ratio "
                    f"{format_decimal(round_significant(ratio, 3))}, "
                    f"allowed {format_decimal(_PLA.divide(1, limit).quantize(Decimal('0.01')))}"
                    f"\u2013{format_decimal(limit)})"
                )
        return fit

    def _checker(self, fits: dict[str, ParallelLineFit]) -> Callable[[ResultInput], str | None]:
        """The shape check; it keeps each curve's fit so evaluate() does not refit."""

        def check(result: ResultInput) -> str | None:
            if _has_curve(result):
                try:
                    fits[result.result_id] = self._fit(result)
                except CurveError as exc:
                    return str(exc)
                return None
            if result.value is None:
                return "neither dose-response curves nor a relative potency was reported"
            return None

        return check

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        fits: dict[str, ParallelLineFit] = {}
        selection = self.select(ctx, self.line.test_code, unit=self.unit, check=self._checker(fits))
        if not selection.valid:
            return self.not_judgeable([selection], missing="no result yet")
        judged: list[Judged] = []
        shown: list[ShownValue] = []
        notes: list[str] = []
        for result in selection.valid:
            fit = fits.get(result.result_id)
            if fit is not None:
                value = self.limits.computed(fit.relative_potency_percent)
                qualifier = None
                subject = (
                    f"parallel-line analysis of result {result.result_id}, common slope "
                    f"{format_decimal(round_significant(fit.common_slope, 4))}, slope ratio "
                    f"{format_decimal(round_significant(fit.slope_ratio, 3))}"
                )
                if result.value is not None:
                    notes.append(
                        f"{result.result_id}: posted {format_decimal(result.value)} % not used; "
                        "potency computed from the curves"
                    )
            else:
                value = result.value or Decimal(0)
                qualifier = result.qualifier
                subject = f"posted result {result.result_id}"
            judgement = self.limits.judge(
                value,
                qualifier,
                label=result.result_id,
                subject=subject,
                result_ids=(result.result_id,),
            )
            judged.append(judgement)
            shown.append(self.limits.shown(judgement))
        verdict, reason, failing = self.limits.verdict(judged)
        if len(judged) == 1:
            reason = f"{reason} ({judged[0].subject})"
        return self.finish(
            verdict, reason, selections=[selection], failing=failing, shown=shown, notes=notes
        )
