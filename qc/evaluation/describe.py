"""Acceptance criteria in words, for certificates, the UI and the API.

A QA officer and a certificate reader see "mean of 3 replicates 1.6×10^11 to
2.4×10^11 particles/mL; CV ≤ 10 %", never the parameters' JSON.  Pure: no
Django, the same text on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from qc.evaluation.rounding import format_decimal

Describer = Callable[[Mapping[str, Any], str], str]


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


def _numeric_range(params: Mapping[str, Any], unit: str) -> str:
    return limits_text(params, unit)


def _qualitative(params: Mapping[str, Any], unit: str) -> str:
    return _listing([f'"{value}"' for value in params.get("allowed", [])])


def _replicates(params: Mapping[str, Any], unit: str) -> str:
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


def _orthogonal_size(params: Mapping[str, Any], unit: str) -> str:
    techniques = params.get("min_techniques", 2)
    tests = params.get("test_codes") or []
    by = f" ({', '.join(tests)})" if tests else ""
    return (
        f"{limits_text(params, unit)} by at least {techniques} techniques{by}, "
        f"agreeing within {_number(params.get('tolerance_percent'))} %"
    )


def _marker_panel(params: Mapping[str, Any], unit: str) -> str:
    positive = list(params.get("positive", []))
    needed = params.get("min_positive", len(positive))
    parts = [f"at least {needed} of {', '.join(positive)} detected"]
    for group, members in (params.get("groups") or {}).items():
        parts.append(f"at least one {group} ({_listing(members)})")
    negative = list(params.get("negative", []))
    if negative:
        parts.append(f"{', '.join(negative)} not detected")
    return "; ".join(parts)


def _derived_ratio(params: Mapping[str, Any], unit: str) -> str:
    ratio = f"{params.get('numerator')} / {params.get('denominator')}"
    return f"{ratio} {limits_text(params, unit)}"


def _process_fact(params: Mapping[str, Any], unit: str) -> str:
    field = str(params.get("field", "")).replace("_", " ")
    parts = []
    if params.get("allowed"):
        parts.append(f"{field} is {_listing(params['allowed'])}")
    if params.get("forbidden"):
        parts.append(f"{field} is not {_listing(params['forbidden'])}")
    return "; ".join(parts) or field


def _relative_potency(params: Mapping[str, Any], unit: str) -> str:
    text = f"{limits_text(params, unit or '%')} of the reference lot"
    if params.get("max_slope_ratio") is not None:
        text += f" (parallel curves: slope ratio ≤ {_number(params['max_slope_ratio'])})"
    return text


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
) -> str:
    """The criterion in words; alert limits, when set, follow in brackets."""
    describer = DESCRIBERS.get(criterion_type)
    text = describer(params, unit) if describer else f"{criterion_type} {dict(params)}"
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
