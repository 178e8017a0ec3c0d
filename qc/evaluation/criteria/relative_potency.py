"""``relative_potency``: potency relative to the reference, as a pharmacopoeia computes it.

Params (the line's unit is ``%``; every key but a bound is optional)::

    {"min": 50, "max": 150,                  # the estimate (release limits)
     "lower_limit_min": 40, "upper_limit_max": 180,   # its confidence limits
     "max_limits_ratio": "2.0",              # precision: upper / lower limit
     "limits_percent_of_estimate": [70, 140],         # precision, Ph. Eur. monograph style
     "model": "parallel_line",               # or "four_parameter_logistic"
     "transform": "none",                    # response: "none", "log", "sqrt", "reciprocal"
     "design": "completely_randomised",      # or "randomised_block", "latin_square"
     "confidence": 0.95, "alpha": 0.05, "alpha_regression": 0.05,
     "parallelism": "anova",                 # or "equivalence" (needs a margin)
     "max_slope_ratio": "1.25",              # equivalence margin, USP <1032>
     "max_asymptote_difference": 0.2,        # 4PL equivalence margin (response units)
     "min_points": 2,                        # distinct doses per preparation (4PL: 4)
     "assays": 1,                            # independent assays combined (Ph. Eur. §6)
     "requires_run": true}

A result carries the dose-response data in ``raw_data`` (shapes in
:mod:`qc.evaluation.bioassay.data`: ``sample`` and ``reference`` lists of
``{dose, response}``; several ``samples``; ``block``/``row``/``column`` per point), or,
without curves, a posted relative potency in ``value``.

Rules (Ph. Eur. 5.3; USP <1032>/<1034>; FDA OOS guidance):

* Validity before potency: significant regression, no significant non-parallelism or
  non-linearity at the method's level (or parallelism shown by equivalence). A failed
  validity test, a curve that cannot be analysed, or confidence limits less precise
  than the method requires make the result *invalid*: a valid repeat is needed and
  no OOS investigation is opened.
* A valid assay's estimate and, when bounded, its confidence limits are judged
  against the limits after rounding (USP GN 7.20); outside them is out of
  specification.
* With ``assays`` > 1 the valid assays from distinct runs are combined (Ph. Eur.
  5.3 §6.2) after a homogeneity test; heterogeneous or non-combinable assays make
  the line invalid, and the precision rules apply to the combined estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from qc.evaluation.bioassay import logistic, parallel_line
from qc.evaluation.bioassay.combine import AssayEstimate, combine
from qc.evaluation.bioassay.data import (
    DESIGN_LABELS,
    TRANSFORMS,
    CurveError,
    has_curves,
    read_assay,
)
from qc.evaluation.bioassay.parallel_line import Settings
from qc.evaluation.bioassay.report import (
    AssayReport,
    CombinedPotency,
    PotencyEstimate,
    PotencyReport,
)
from qc.evaluation.bioassay.words import figures, p_text, short
from qc.evaluation.criteria.base import (
    CompiledLine,
    LotContext,
    canonical_unit,
    check_keys,
    param_int,
    where,
)
from qc.evaluation.criteria.numeric import Judged, NumericLimits
from qc.evaluation.limits import LIMIT_KEYS, Limits, param_decimal
from qc.evaluation.rounding import format_decimal, round_half_up
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    LineVerdict,
    ResultInput,
    ShownValue,
    SpecLine,
)

MODELS: Final = {"parallel_line": "parallel-line", "four_parameter_logistic": "4PL"}
_ANALYSES: Final = {
    "parallel_line": parallel_line.analyse,
    "four_parameter_logistic": logistic.analyse,
}
PARAM_KEYS: Final = frozenset(
    {
        "lower_limit_min",
        "upper_limit_max",
        "max_limits_ratio",
        "limits_percent_of_estimate",
        "model",
        "transform",
        "design",
        "confidence",
        "alpha",
        "alpha_regression",
        "parallelism",
        "max_slope_ratio",
        "max_asymptote_difference",
        "min_points",
        "assays",
    }
)
#: Ph. Eur. 5.3 §6.2 conditions for a weighted combination
_MAX_C: Final = 1.1
_MIN_DF: Final = 6


def _choice(params: Mapping[str, Any], key: str, options: Sequence[str], *, where: str) -> str:
    value = params.get(key, options[0])
    if value not in options:
        raise CriterionError(f"{where}: '{key}' must be one of {', '.join(options)}")
    return str(value)


def _fraction(
    params: Mapping[str, Any], key: str, default: str, *, where: str, low: str, high: str
) -> float:
    value = param_decimal(params, key, where=where)
    value = Decimal(default) if value is None else value
    if not Decimal(low) < value < Decimal(high):
        raise CriterionError(f"{where}: '{key}' must lie between {low} and {high}")
    return float(value)


def _positive(params: Mapping[str, Any], key: str, *, where: str, above: int = 0) -> float | None:
    value = param_decimal(params, key, where=where)
    if value is not None and value <= above:
        raise CriterionError(f"{where}: '{key}' must be above {above}")
    return None if value is None else float(value)


def _bound(line: SpecLine, key: str, *, low: bool, unit: str, label: str) -> NumericLimits | None:
    value = param_decimal(line.params, key, where=where(line))
    if value is None:
        return None
    limits = Limits(low=value, high=None) if low else Limits(low=None, high=value)
    return NumericLimits(
        name=f"{line.name} {label}", unit=unit, decimals=line.decimals, release=limits, alert=None
    )


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _settings(params: Mapping[str, Any], model: str, *, where: str) -> Settings:
    """How the method analyses its assays: design, transformation, validity tests."""
    logistic_model = model == "four_parameter_logistic"
    design = _choice(params, "design", tuple(DESIGN_LABELS), where=where)
    if logistic_model and design != "completely_randomised":
        raise CriterionError(
            f"{where}: the four-parameter logistic is analysed as a completely "
            "randomised design; blocks, rows and columns need the parallel-line model"
        )
    slope_margin = _positive(params, "max_slope_ratio", where=where)
    if slope_margin is not None and slope_margin < 1:
        raise CriterionError(f"{where}: 'max_slope_ratio' must be at least 1")
    asymptote_margin = _positive(params, "max_asymptote_difference", where=where)
    if asymptote_margin is not None and not logistic_model:
        raise CriterionError(
            f"{where}: 'max_asymptote_difference' is a margin of the four-parameter logistic"
        )
    margins = slope_margin is not None or asymptote_margin is not None
    parallelism = params.get("parallelism", "equivalence" if margins else "anova")
    if parallelism not in ("anova", "equivalence"):
        raise CriterionError(f'{where}: \'parallelism\' must be "anova" or "equivalence"')
    if parallelism == "equivalence" and not margins:
        raise CriterionError(
            f"{where}: parallelism by equivalence needs a margin ('max_slope_ratio'"
            f"{' or max_asymptote_difference' if logistic_model else ''})"
        )
    minimum = 4 if logistic_model else 2
    return Settings(
        design=design,
        transform=_choice(params, "transform", tuple(TRANSFORMS), where=where),
        confidence=_fraction(params, "confidence", "0.95", where=where, low="0.5", high="1"),
        alpha=_fraction(params, "alpha", "0.05", where=where, low="0", high="0.5"),
        alpha_regression=_fraction(
            params, "alpha_regression", "0.05", where=where, low="0", high="0.5"
        ),
        parallelism_anova=parallelism == "anova",
        slope_ratio_margin=slope_margin,
        asymptote_margin=asymptote_margin,
        min_doses=param_int(params, "min_points", minimum, where=where, minimum=minimum),
    )


class RelativePotency(CompiledLine):
    __slots__ = (
        "analysis",
        "assays",
        "confidence",
        "estimate_limits",
        "level",
        "limits_percent",
        "lower_bound",
        "max_ratio",
        "model",
        "settings",
        "unit",
        "upper_bound",
    )

    def __init__(self, line: SpecLine) -> None:
        super().__init__(line)
        context = where(line)
        params = line.params
        check_keys(params, LIMIT_KEYS | PARAM_KEYS | self.COMMON_KEYS, where=context)
        check_keys(line.alert_params or {}, LIMIT_KEYS, where=f"{context} alert")
        self.unit = canonical_unit(line)
        self.model = _choice(params, "model", tuple(MODELS), where=context)
        self.analysis: Callable[..., AssayReport] = _ANALYSES[self.model]
        self.settings = _settings(params, self.model, where=context)
        self.confidence = self.settings.confidence
        self.level = f"{short(100 * self.confidence, 4)} %"
        self.assays = param_int(params, "assays", 1, where=context, minimum=1)
        self.estimate_limits = (
            NumericLimits.from_line(line, unit=self.unit, where=context)
            if LIMIT_KEYS & set(params)
            else None
        )
        self.lower_bound = _bound(
            line, "lower_limit_min", low=True, unit=self.unit, label="lower confidence limit"
        )
        self.upper_bound = _bound(
            line, "upper_limit_max", low=False, unit=self.unit, label="upper confidence limit"
        )
        if self.estimate_limits is None and self.lower_bound is None and self.upper_bound is None:
            raise CriterionError(
                f"{context}: give limits for the estimate ('min', 'max') or for its "
                "confidence limits ('lower_limit_min', 'upper_limit_max')"
            )
        if self.estimate_limits is None and line.alert_params:
            raise CriterionError(f"{context} alert: alert limits need release 'min' or 'max'")
        self.max_ratio = _positive(params, "max_limits_ratio", where=context, above=1)
        self.limits_percent = self._limits_percent(params, context)

    @staticmethod
    def _limits_percent(params: Mapping[str, Any], context: str) -> tuple[float, float] | None:
        raw = params.get("limits_percent_of_estimate")
        if raw is None:
            return None
        if isinstance(raw, str) or not isinstance(raw, Sequence) or len(raw) != 2:
            raise CriterionError(
                f"{context}: 'limits_percent_of_estimate' must be [lowest, highest] percent"
            )
        low, high = (
            param_decimal({"v": value}, "v", where=f"{context}: 'limits_percent_of_estimate'")
            for value in raw
        )
        if low is None or high is None or not 0 < low <= 100 <= high:
            raise CriterionError(
                f"{context}: 'limits_percent_of_estimate' must hold a percent at or below 100 "
                "and one at or above 100"
            )
        return float(low), float(high)

    # -- one assay -----------------------------------------------------------

    def _analyse(self, result: ResultInput) -> AssayReport:
        settings = self.settings
        try:
            data = read_assay(
                result.raw_data or {}, transform=settings.transform, design=settings.design
            )
            return self.analysis(data, settings, result_id=result.result_id)
        except CurveError as exc:
            problem = str(exc)
        except (ArithmeticError, ValueError) as exc:
            # Data no assay design anticipated (e.g. responses near the float range):
            # the result cannot be analysed, which is an invalid result, never a crash.
            problem = f"the analysis failed on these data ({type(exc).__name__})"
        return AssayReport(
            result_id=result.result_id,
            model=self.model,
            design=settings.design,
            transform=settings.transform,
            valid=False,
            problem=problem,
        )

    def _precision(self, estimate: PotencyEstimate | CombinedPotency) -> str | None:
        """Why the limits are less precise than the method requires (assay invalid), if so."""
        lower, upper = estimate.lower_percent, estimate.upper_percent
        needs_limits = self.lower_bound or self.upper_bound or self.max_ratio or self.limits_percent
        if lower is None or upper is None or estimate.potency_percent is None:
            return "the confidence interval is unbounded" if needs_limits else None
        if self.max_ratio is None and self.limits_percent is None:
            return None
        interval = f"{self.level} confidence limits {figures(lower)}–{figures(upper)} %"
        if self.max_ratio is not None and upper / lower > self.max_ratio:
            return (
                f"{interval} are less precise than required (upper/lower {figures(upper / lower)}"
                f", at most {figures(self.max_ratio)})"
            )
        if self.limits_percent is not None:
            low, high = self.limits_percent
            potency = estimate.potency_percent
            if 100 * lower / potency < low or 100 * upper / potency > high:
                return (
                    f"{interval} are less precise than required (within {figures(low)}–"
                    f"{figures(high)} % of the estimate {figures(potency)} %)"
                )
        return None

    def _combinable(self, report: AssayReport) -> str | None:
        judged = [e for e in report.estimates if e.judged]
        if len(judged) != 1:
            return "combining assays needs one preparation of the lot per assay"
        estimate = judged[0]
        if estimate.lower_percent is None or estimate.upper_percent is None:
            return "the confidence interval is unbounded, so the assay cannot be weighted"
        if estimate.c is not None and estimate.c >= _MAX_C:
            return (
                f"C = {figures(estimate.c)} is not below {_MAX_C} (Ph. Eur. 5.3 §6.2: too "
                "imprecise to combine)"
            )
        if (report.residual_df or 0) < _MIN_DF:
            return (
                f"{report.residual_df} residual degrees of freedom, fewer than {_MIN_DF} "
                "(Ph. Eur. 5.3 §6.2)"
            )
        return None

    def _checker(self, reports: dict[str, AssayReport]) -> Callable[[ResultInput], str | None]:
        """The shape and validity check; it keeps each analysis so evaluate() does not redo it."""

        def check(result: ResultInput) -> str | None:
            if has_curves(result.raw_data):
                report = self._analyse(result)
                reports[result.result_id] = report
                if not report.valid:
                    return report.problem
                if self.assays > 1:
                    return self._combinable(report)
                for estimate in report.estimates:
                    if estimate.judged:
                        problem = self._precision(estimate)
                        if problem:
                            return f"assay invalid: {problem}"
                return None
            if result.value is None:
                return "neither dose-response curves nor a relative potency was reported"
            if self.assays > 1:
                return "combining independent assays needs each assay's dose-response curves"
            if self.lower_bound or self.upper_bound or self.max_ratio or self.limits_percent:
                return "a posted potency has no confidence limits; post the dose-response curves"
            return None

        return check

    # -- judgement -------------------------------------------------------------

    def _judge(
        self,
        potency: float,
        lower: float | None,
        upper: float | None,
        *,
        label: str,
        subject: str,
        ids: tuple[str, ...],
    ) -> list[tuple[NumericLimits, Judged]]:
        judged = []
        if self.estimate_limits is not None:
            value = self.estimate_limits.computed(_decimal(potency))
            judged.append(
                (
                    self.estimate_limits,
                    self.estimate_limits.judge(
                        value, None, label=label, subject=subject, result_ids=ids
                    ),
                )
            )
        for bound, limit, what in (
            (self.lower_bound, lower, "lower limit"),
            (self.upper_bound, upper, "upper limit"),
        ):
            if bound is not None and limit is not None:
                value = bound.computed(_decimal(limit))
                judged.append(
                    (
                        bound,
                        bound.judge(
                            value, None, label=f"{label} {what}", subject=subject, result_ids=ids
                        ),
                    )
                )
        return judged

    def _limits_text(self, lower: float | None, upper: float | None) -> str:
        """The limits for the reason, rounded as the estimate is shown."""
        if lower is None or upper is None:
            return "confidence interval unbounded"
        decimals = self.line.decimals
        if decimals is not None and decimals >= 0:
            low, high = f"{lower:.{decimals}f}", f"{upper:.{decimals}f}"
        else:
            shown = self.estimate_limits or self.lower_bound or self.upper_bound
            assert shown is not None
            low, high = (
                format_decimal(round_half_up(shown.computed(_decimal(v)), decimals))
                for v in (lower, upper)
            )
        return f"{self.level} confidence limits {low}–{high} %"

    def _shown(self, judged: Sequence[tuple[NumericLimits, Judged]]) -> list[ShownValue]:
        return [limits.shown(j) for limits, j in judged]

    def _verdict(
        self, judged: Sequence[tuple[NumericLimits, Judged]]
    ) -> tuple[LineVerdict, str, tuple[str, ...]]:
        """Every value on its own (FDA OOS guidance); any failing value fails the line."""
        if len(judged) == 1:
            limits, only = judged[0]
            if only.fails:
                return (
                    LineVerdict.DOES_NOT_CONFORM,
                    limits.failure(only, name_subject=True),
                    only.result_ids,
                )
            reason = f"{limits.conformance([only])} ({only.subject})"
            if only.alerts:
                alert = limits.alert_phrase(only, name_subject=False)
                return LineVerdict.CONFORMS_WITH_ALERT, f"{reason}, but {alert}", ()
            return LineVerdict.CONFORMS, reason, ()
        failures = [limits.failure(j, name_subject=True) for limits, j in judged if j.fails]
        if failures:
            failing = sorted({rid for _, j in judged if j.fails for rid in j.result_ids})
            return LineVerdict.DOES_NOT_CONFORM, "; ".join(failures), tuple(failing)
        groups: dict[int, tuple[NumericLimits, list[Judged]]] = {}
        for limits, j in judged:
            groups.setdefault(id(limits), (limits, []))[1].append(j)
        sentences = [limits.conformance(js) for limits, js in groups.values()]
        subjects = list(dict.fromkeys(j.subject for _, j in judged))
        reason = "; ".join(sentences)
        if len(subjects) == 1:
            reason += f" ({subjects[0]})"
        alerts = [
            limits.alert_phrase(j, name_subject=len(subjects) > 1)
            for limits, j in judged
            if j.alerts
        ]
        if alerts:
            return LineVerdict.CONFORMS_WITH_ALERT, f"{reason}, but {'; '.join(alerts)}", ()
        return LineVerdict.CONFORMS, reason, ()

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        reports: dict[str, AssayReport] = {}
        selection = self.select(
            ctx, self.line.test_code, unit=self.unit, check=self._checker(reports)
        )

        def report(combination: CombinedPotency | None = None) -> PotencyReport | None:
            if not reports and combination is None:
                return None
            assays = tuple(reports[rid] for rid in sorted(reports))
            return PotencyReport(assays=assays, combination=combination)

        if not selection.valid:
            return self.not_judgeable([selection], missing="no result yet", potency=report())
        if self.assays > 1:
            return self._combined(selection.valid, reports, selection, report)
        judged: list[tuple[NumericLimits, Judged]] = []
        notes: list[str] = []
        for result in selection.valid:
            analysis = reports.get(result.result_id)
            if analysis is None:
                judged += self._posted(result)
                continue
            if result.value is not None:
                notes.append(
                    f"{result.result_id}: posted {format_decimal(result.value)} % not used; "
                    "potency computed from the curves"
                )
            estimates = [e for e in analysis.estimates if e.judged]
            for estimate in estimates:
                named = len(analysis.estimates) > 1 or estimate.preparation != "sample"
                label = f"{result.result_id} {estimate.preparation}" if named else result.result_id
                of = f", preparation {estimate.preparation}" if named else ""
                subject = (
                    f"{MODELS[self.model]} analysis of result {result.result_id}{of}: "
                    f"{self._limits_text(estimate.lower_percent, estimate.upper_percent)}"
                )
                judged += self._judge(
                    estimate.potency_percent,
                    estimate.lower_percent,
                    estimate.upper_percent,
                    label=label,
                    subject=subject,
                    ids=(result.result_id,),
                )
        verdict, reason, failing = self._verdict(judged)
        return self.finish(
            verdict,
            reason,
            selections=[selection],
            failing=failing,
            shown=self._shown(judged),
            notes=notes,
            potency=report(),
        )

    def _posted(self, result: ResultInput) -> list[tuple[NumericLimits, Judged]]:
        assert self.estimate_limits is not None  # the check refused it otherwise
        value = result.value or Decimal(0)
        judged = self.estimate_limits.judge(
            value,
            result.qualifier,
            label=result.result_id,
            subject=f"posted result {result.result_id}",
            result_ids=(result.result_id,),
        )
        return [(self.estimate_limits, judged)]

    # -- several independent assays (Ph. Eur. 5.3 §6) ------------------------------

    def _combined(
        self,
        valid: Sequence[ResultInput],
        reports: Mapping[str, AssayReport],
        selection: Any,
        report: Callable[[CombinedPotency | None], PotencyReport | None],
    ) -> LineEvaluation:
        name = self.line.name
        runs: dict[str, str] = {}
        for result in valid:
            if result.run_id is not None and result.run_id in runs:
                return self.finish(
                    LineVerdict.INVALID,
                    f"{name}: results {runs[result.run_id]} and {result.result_id} come from "
                    f"run {result.run_id}: not independent assays (Ph. Eur. 5.3 §6.2); "
                    "needs a valid repeat",
                    selections=[selection],
                    potency=report(None),
                )
            if result.run_id is not None:
                runs[result.run_id] = result.result_id
        if len(valid) < self.assays:
            verdict: LineVerdict = LineVerdict.INVALID if selection.invalid else LineVerdict.MISSING
            return self.finish(
                verdict,
                f"{name}: {len(valid)} of {self.assays} independent assays",
                selections=[selection],
                potency=report(None),
            )
        estimates = []
        for result in valid:
            analysis = reports[result.result_id]
            (estimate,) = (e for e in analysis.estimates if e.judged)
            assert estimate.lower_percent is not None and estimate.upper_percent is not None
            estimates.append(
                AssayEstimate(
                    result_id=result.result_id,
                    potency_percent=estimate.potency_percent,
                    lower_percent=estimate.lower_percent,
                    upper_percent=estimate.upper_percent,
                    df=analysis.residual_df or 0,
                    confidence=estimate.confidence,
                )
            )
        combined = combine(estimates, confidence=self.confidence, alpha=self.settings.alpha)
        ids = combined.result_ids
        problem = None
        if combined.potency_percent is None:
            problem = "an assay without residual error cannot be weighted"
        elif not combined.homogeneous:
            problem = (
                f"the {len(ids)} assays are not homogeneous (chi-square "
                f"{figures(combined.chi_square)} on {combined.chi_square_df} df, "
                f"{p_text(combined.p_value)} < {self.settings.alpha:g}; Ph. Eur. 5.3 §6.2.2)"
            )
        else:
            precision = self._precision(combined)
            if precision:
                problem = f"the combined {precision}; more assays are needed"
        if problem is not None:
            return self.finish(
                LineVerdict.INVALID,
                f"{name}: {problem}; needs a valid repeat",
                selections=[selection],
                potency=report(combined),
            )
        assert combined.potency_percent is not None
        subject = (
            f"weighted combination of {len(ids)} assays ({', '.join(ids)}), "
            f"{self._limits_text(combined.lower_percent, combined.upper_percent)}, "
            f"homogeneity {p_text(combined.p_value)}"
        )
        judged = self._judge(
            combined.potency_percent,
            combined.lower_percent,
            combined.upper_percent,
            label="combined",
            subject=subject,
            ids=ids,
        )
        verdict, reason, failing = self._verdict(judged)
        shown = self._shown(judged)
        shown += [
            ShownValue(
                e.result_id,
                None,
                f"{figures(e.potency_percent, 4)} % ({figures(e.lower_percent, 4)}–"
                f"{figures(e.upper_percent, 4)} %)",
            )
            for e in estimates
        ]
        return self.finish(
            verdict,
            reason,
            selections=[selection],
            failing=failing,
            shown=shown,
            potency=report(combined),
        )
