"""Acceptance criteria in words, for certificates, the UI and the API.

A QA officer and a certificate reader see "mean of 3 replicates 1.6×10^11 to
2.4×10^11 particles/mL; CV ≤ 10 %", never the parameters' JSON.  Pure: no
Django, the same text on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from qc.evaluation.limits import EndotoxinLimit
from qc.evaluation.rounding import format_decimal
from qc.evaluation.types import CriterionError

Describer = Callable[[Mapping[str, Any], str, int | None], str]


def _number(raw: Any) -> str:
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return str(raw)
    return format_decimal(value)


def _unit(unit: str) -> str:
    return f" {unit}" if unit and unit != "1" else ""


def limits_text(params: Mapping[str, Any], unit: str) -> str:
    """``50 to 200 nm``, ``≤ 0.50 EU/mL``, ``> 10 % and < 90 %`` ..."""
    low, high = params.get("min"), params.get("max")
    if low is None and high is None:
        return "no limit"
    low_op = "≥" if params.get("min_inclusive", True) else ">"
    high_op = "≤" if params.get("max_inclusive", True) else "<"
    suffix = _unit(unit)
    if low is not None and high is not None:
        if low_op == "≥" and high_op == "≤":
            return f"{_number(low)} to {_number(high)}{suffix}"
        return f"{low_op} {_number(low)} and {high_op} {_number(high)}{suffix}"
    if high is not None:
        return f"{high_op} {_number(high)}{suffix}"
    if low is not None:
        return f"{low_op} {_number(low)}{suffix}"
    return "no limit"


def _listing(items: Sequence[Any]) -> str:
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _numeric_range(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    try:
        endotoxin = EndotoxinLimit.from_params(params, decimals=decimals, where="")
    except CriterionError:
        endotoxin = None
    if endotoxin is None:
        return limits_text(params, unit)
    # USP <85>: the limit is K/M; say so, with the numbers it comes from.
    low = params.get("min")
    lower = f"{limits_text({'min': low}, unit)} and " if low is not None else ""
    return f"{lower}≤ {endotoxin.words(decimals)}"


def _qualitative(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    return _listing([f'"{value}"' for value in params.get("allowed", [])])


def _replicates(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    count = params.get("n")
    each = (
        "each replicate"
        if params.get("report", "each") == "each"
        else "each replicate and the mean"
    )
    text = f"{each} {limits_text(params, unit)}"
    if count:
        text = f"{count} replicates; {text}"
    if params.get("max_cv_percent") is not None:
        text += f"; CV ≤ {_number(params['max_cv_percent'])} %"
    return text


def _orthogonal_size(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    techniques = params.get("min_techniques", 2)
    tests = params.get("test_codes") or []
    by = f" ({', '.join(tests)})" if tests else ""
    return (
        f"{limits_text(params, unit)} by at least {techniques} techniques{by}, "
        f"agreeing within {_number(params.get('tolerance_percent'))} %"
    )


def _marker_panel(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    positive = list(params.get("positive", []))
    needed = params.get("min_positive", len(positive))
    parts = [f"at least {needed} of {', '.join(positive)} detected"]
    for group, members in (params.get("groups") or {}).items():
        parts.append(f"at least one {group} ({_listing(members)})")
    negative = list(params.get("negative", []))
    if negative:
        parts.append(f"{', '.join(negative)} not detected")
    return "; ".join(parts)


def _derived_ratio(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    ratio = f"{params.get('numerator')} / {params.get('denominator')}"
    return f"{ratio} {limits_text(params, unit)}"


def _process_fact(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    field = str(params.get("field", "")).replace("_", " ")
    parts = []
    if params.get("allowed"):
        parts.append(f"{field} is {_listing(params['allowed'])}")
    if params.get("forbidden"):
        parts.append(f"{field} is not {_listing(params['forbidden'])}")
    return "; ".join(parts) or field


_MODELS = {"parallel_line": "parallel-line", "four_parameter_logistic": "four-parameter logistic"}
_TRANSFORMS = {
    "log": "log-transformed",
    "sqrt": "square-root-transformed",
    "reciprocal": "reciprocal",
}
_DESIGNS = {"randomised_block": "randomised blocks", "latin_square": "Latin square"}


def _percent_of(fraction: Any) -> str:
    """0.95 -> ``95 %``."""
    try:
        value = Decimal(str(fraction)) * 100
    except (InvalidOperation, ValueError):
        return str(fraction)
    return f"{format_decimal(value.normalize() if value == value.to_integral() else value)} %"


def _relative_potency(params: Mapping[str, Any], unit: str, decimals: int | None = None) -> str:
    """Which bounds are conformance (outside: OOS) and which validity (outside: repeat)."""
    unit = unit or "%"
    parts = []
    if params.get("min") is not None or params.get("max") is not None:
        parts.append(f"{limits_text(params, unit)} of the reference")
    level = _percent_of(params.get("confidence", "0.95"))
    bounds = []
    if params.get("lower_limit_min") is not None:
        bounds.append(f"lower ≥ {_number(params['lower_limit_min'])}{_unit(unit)}")
    if params.get("upper_limit_max") is not None:
        bounds.append(f"upper ≤ {_number(params['upper_limit_max'])}{_unit(unit)}")
    if bounds:
        parts.append(f"{level} confidence limits: {' and '.join(bounds)}")
    precision = []
    if params.get("max_limits_ratio") is not None:
        precision.append(f"upper/lower confidence limit ≤ {_number(params['max_limits_ratio'])}")
    within = params.get("limits_percent_of_estimate")
    if isinstance(within, list | tuple) and len(within) == 2:
        precision.append(
            f"confidence limits within {_number(within[0])}–{_number(within[1])} % of the estimate"
        )
    if precision:
        parts.append(f"assay valid only if {' and '.join(precision)}")
    logistic = params.get("model") == "four_parameter_logistic"
    how = [f"{_MODELS.get(str(params.get('model', 'parallel_line')), 'parallel-line')} analysis"]
    transform = _TRANSFORMS.get(str(params.get("transform", "none")))
    if transform:
        how.append(f"{transform} response")
    design = _DESIGNS.get(str(params.get("design", "")))
    if design:
        how.append(design)
    alpha = _number(params.get("alpha", "0.05"))
    ratio, asymptotes = params.get("max_slope_ratio"), params.get("max_asymptote_difference")
    margins = ratio is not None or asymptotes is not None
    anova = params.get("parallelism", "equivalence" if margins else "anova") == "anova"
    deviation = "lack of fit" if logistic else "non-linearity"
    deviations = f"non-parallelism and {deviation} are not" if anova else f"{deviation} is not"
    validity = (
        f"valid if the regression is significant (p < "
        f"{_number(params.get('alpha_regression', '0.05'))}) and {deviations} (p ≥ {alpha})"
    )
    if margins:
        margin = []
        if ratio is not None:
            try:
                low = format_decimal((1 / Decimal(str(ratio))).quantize(Decimal("0.01")))
            except (InvalidOperation, ValueError, ZeroDivisionError):
                low = "?"
            margin.append(f"slope ratio within {low}–{_number(ratio)}")
        if asymptotes is not None:
            margin.append(f"asymptotes within ±{_number(asymptotes)}")
        try:
            two_sided = _percent_of(1 - 2 * Decimal(str(params.get("alpha", "0.05"))))
        except (InvalidOperation, ValueError):
            two_sided = "90 %"
        validity += f"; parallel by equivalence: {' and '.join(margin)} ({two_sided} confidence)"
    parts.append(f"{', '.join(how)}; {validity}")
    assays = params.get("assays", 1)
    if isinstance(assays, int) and not isinstance(assays, bool) and assays > 1:
        parts.append(
            f"estimate and limits from {assays} independent assays combined (Ph. Eur. 5.3 §6, "
            f"homogeneous at p ≥ {alpha})"
        )
    return "; ".join(parts)


DESCRIBERS: dict[str, Describer] = {
    "numeric_range": _numeric_range,
    "qualitative": _qualitative,
    "replicates": _replicates,
    "orthogonal_size": _orthogonal_size,
    "marker_panel": _marker_panel,
    "derived_ratio": _derived_ratio,
    "process_fact": _process_fact,
    "relative_potency": _relative_potency,
}


def describe_criterion(
    criterion_type: str,
    params: Mapping[str, Any],
    unit: str = "",
    alert_params: Mapping[str, Any] | None = None,
    *,
    decimals: int | None = None,
) -> str:
    """The criterion in words; alert limits, when set, follow in brackets.

    ``decimals`` (the line's) pads a computed limit such as K/M to the places it is
    compared at ("0.50 EU/mL").
    """
    describer = DESCRIBERS.get(criterion_type)
    text = describer(params, unit, decimals) if describer else f"{criterion_type} {dict(params)}"
    if alert_params:
        alert_limits = {
            k: v
            for k, v in alert_params.items()
            if k in {"min", "max", "min_inclusive", "max_inclusive"}
        }
        extras = []
        if alert_limits:
            extras.append(limits_text(alert_limits, unit))
        for key, label in (("tolerance_percent", "agreement within"), ("max_cv_percent", "CV ≤")):
            if alert_params.get(key) is not None:
                extras.append(f"{label} {_number(alert_params[key])} %")
        if extras:
            text += f" (alert: {'; '.join(extras)})"
    return text
