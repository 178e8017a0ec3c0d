"""Numeric limits and the honest comparison of a (possibly censored) result with them.

A result is compared *after* rounding to the line's decimals, half up (USP General
Notices 7.20). A detection-limit result (``< 0.05``, ``> 1000``) is an interval, not a
number: it conforms only if every value it could stand for conforms. When some could
and some could not (``< 1.0`` against ``<= 0.5``) the line cannot demonstrate
conformance; the engine reports that as ``does_not_conform`` with a "cannot
demonstrate" reason, because 21 CFR 211.165(a) asks for conformance to be shown, not
assumed, and QA must never see such a result as a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, Inexact
from typing import Any, Final, Literal

from qc.evaluation.rounding import format_decimal, format_limit, round_half_down, round_half_up
from qc.evaluation.rounding import to_decimal as _to_decimal
from qc.evaluation.types import CriterionError, Qualifier

Outcome = Literal["inside", "above", "below", "unproven_high", "unproven_low"]

LIMIT_KEYS = frozenset({"min", "max", "min_inclusive", "max_inclusive"})
#: an endotoxin limit stated as K/M (USP <85>) instead of a 'max'
ENDOTOXIN_KEYS = frozenset({"endotoxin_k", "endotoxin_m", "endotoxin_m_unit"})
#: M's unit (maximum dose per kg, per hour) and the unit of the limit K/M it gives
ENDOTOXIN_M_UNITS: Final = {
    "mL/kg": "EU/mL",
    "mL/kg/h": "EU/mL",
    "mg/kg": "EU/mg",
    "mg/kg/h": "EU/mg",
}
_QUOTIENT: Final = Context(prec=28, traps=[])

_LE, _GE, _EN_DASH = "\u2264", "\u2265", "\u2013"


def param_decimal(params: Mapping[str, Any], key: str, *, where: str) -> Decimal | None:
    """An optional Decimal parameter, refused with a :class:`CriterionError`."""
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return _to_decimal(raw, where=f"{where}: '{key}'")
    except ValueError as exc:
        raise CriterionError(str(exc)) from None


def param_bool(params: Mapping[str, Any], key: str, default: bool, *, where: str) -> bool:
    raw = params.get(key, default)
    if not isinstance(raw, bool):
        raise CriterionError(f"{where}: '{key}' must be true or false, not {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class EndotoxinLimit:
    """USP <85>: endotoxin limit = K/M.

    K is the threshold pyrogenic dose (EU/kg: 5 for most parenteral routes, 0.2
    intrathecal), M the maximum dose of the product per kg body mass per hour (mL/kg
    or mg/kg). ``limit`` is K/M in ``unit`` (EU/mL or EU/mg), exact when the
    quotient terminates; otherwise rounded *down* to the line's decimals (or four
    significant figures), so the limit shown is the limit applied and never more
    lenient than K/M.
    """

    k: Decimal
    m: Decimal
    m_unit: str
    limit: Decimal
    unit: str

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], *, decimals: int | None, where: str
    ) -> EndotoxinLimit | None:
        if not ENDOTOXIN_KEYS & set(params):
            return None
        if "max" in params:
            raise CriterionError(f"{where}: give either 'max' or K/M ('endotoxin_k', ...)")
        k = param_decimal(params, "endotoxin_k", where=where)
        m = param_decimal(params, "endotoxin_m", where=where)
        m_unit = params.get("endotoxin_m_unit")
        if k is None or m is None or k <= 0 or m <= 0:
            raise CriterionError(
                f"{where}: K/M needs 'endotoxin_k' (EU/kg) and 'endotoxin_m' above 0"
            )
        if m_unit not in ENDOTOXIN_M_UNITS:
            raise CriterionError(
                f"{where}: 'endotoxin_m_unit' must be one of {', '.join(ENDOTOXIN_M_UNITS)}"
            )
        _QUOTIENT.clear_flags()
        limit = _QUOTIENT.divide(k, m)
        if _QUOTIENT.flags[Inexact]:
            places = decimals if decimals is not None else 3 - limit.adjusted()
            limit = limit.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)
        return cls(k=k, m=m, m_unit=m_unit, limit=limit, unit=ENDOTOXIN_M_UNITS[m_unit])

    def words(self, decimals: int | None) -> str:
        """``K/M = 5 EU/kg ÷ 10 mL/kg = 0.50 EU/mL``."""
        return (
            f"K/M = {format_decimal(self.k)} EU/kg ÷ {format_decimal(self.m)} {self.m_unit} "
            f"= {format_limit(self.limit, decimals)} {self.unit}"
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """A closed, open or half-open interval; either end may be absent (one-sided)."""

    low: Decimal | None
    high: Decimal | None
    low_inclusive: bool = True
    high_inclusive: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, where: str) -> Limits:
        low = param_decimal(params, "min", where=where)
        high = param_decimal(params, "max", where=where)
        if low is None and high is None:
            raise CriterionError(f"{where}: give 'min', 'max' or both")
        if low is not None and high is not None and low > high:
            raise CriterionError(f"{where}: 'min' {low} is above 'max' {high}")
        return cls(
            low=low,
            high=high,
            low_inclusive=param_bool(params, "min_inclusive", True, where=where),
            high_inclusive=param_bool(params, "max_inclusive", True, where=where),
        )

    def check_within(self, outer: Limits, *, where: str) -> None:
        """Alert limits lie inside the release limits (an alert outside never fires).

        An absent alert end is simply no alert on that side (``max`` only on a
        50-200 nm range alerts above it, never below).
        """
        if self.low is not None and outer.low is not None and self.low < outer.low:
            raise CriterionError(f"{where}: alert 'min' must be at or above the release 'min'")
        if self.high is not None and outer.high is not None and self.high > outer.high:
            raise CriterionError(f"{where}: alert 'max' must be at or below the release 'max'")

    # -- text ---------------------------------------------------------------

    def describe(self, unit: str, decimals: int | None) -> str:
        """E.g. ``<= 0.50 EU/mL``, ``50-200 nm`` (with an en dash), ``> 0 and <= 10 %``."""
        suffix = f" {unit}" if unit else ""
        low = format_limit(self.low, decimals) if self.low is not None else None
        high = format_limit(self.high, decimals) if self.high is not None else None
        lower = _GE if self.low_inclusive else ">"
        upper = _LE if self.high_inclusive else "<"
        if low is not None and high is not None:
            if self.low_inclusive and self.high_inclusive:
                return f"{low}{_EN_DASH}{high}{suffix}"
            return f"{lower} {low} and {upper} {high}{suffix}"
        if high is not None:
            return f"{upper} {high}{suffix}"
        return f"{lower} {low}{suffix}"

    @property
    def two_sided(self) -> bool:
        return self.low is not None and self.high is not None

    # -- judgement ----------------------------------------------------------

    def judge(self, value: Decimal, qualifier: Qualifier | None, decimals: int | None) -> Outcome:
        """Where a result lies; see the module docstring for censored results."""
        if qualifier is None:
            rounded = round_half_up(value, decimals)
            if not self._above_low(rounded):
                return "below"
            if not self._below_high(rounded):
                return "above"
            return "inside"
        if qualifier == "<":
            # Every true value v < L; after rounding, the largest shown value is L
            # rounded half *down* (0.505 -> 0.50) and it is attained; without rounding
            # the supremum L itself is never attained.
            sup = value if decimals is None else round_half_down(value, decimals)
            attained = decimals is not None
            if self.low is not None:
                if sup < self.low or (sup == self.low and not (self.low_inclusive and attained)):
                    return "below"
                return "unproven_low"
            if self.high is not None and not (
                sup < self.high or (sup == self.high and (self.high_inclusive or not attained))
            ):
                return "unproven_high"
            return "inside"
        inf = value if decimals is None else round_half_up(value, decimals)
        attained = decimals is not None
        if self.high is not None:
            if inf > self.high or (inf == self.high and not (self.high_inclusive and attained)):
                return "above"
            return "unproven_high"
        if self.low is not None and not (
            inf > self.low or (inf == self.low and (self.low_inclusive or not attained))
        ):
            return "unproven_low"
        return "inside"

    def _above_low(self, value: Decimal) -> bool:
        if self.low is None:
            return True
        return value > self.low or (self.low_inclusive and value == self.low)

    def _below_high(self, value: Decimal) -> bool:
        if self.high is None:
            return True
        return value < self.high or (self.high_inclusive and value == self.high)


def show(value: Decimal, qualifier: Qualifier | None, unit: str, decimals: int | None) -> str:
    """A result as compared: rounded if exact, the detection limit as given if censored."""
    number = value if qualifier is not None else round_half_up(value, decimals)
    text = f"{format_decimal(number)} {unit}" if unit else format_decimal(number)
    return f"{qualifier} {text}" if qualifier else text


def outcome_phrase(
    outcome: Outcome,
    *,
    value: Decimal,
    qualifier: Qualifier | None,
    limits: Limits,
    unit: str,
    decimals: int | None,
    subject: str = "",
    kind: str = "release",
) -> str:
    """The words after a value's name.

    ``0.80 EU/mL (result E-1) is above the release limit <= 0.50 EU/mL``, or
    ``(result E-3) cannot demonstrate <= 0.50 EU/mL: the result is below 1.0 EU/mL
    only, a detection limit that does not prove conformance``.
    """
    noun = f"{kind} range" if limits.two_sided else f"{kind} limit"
    text = limits.describe(unit, decimals)
    about = f" ({subject})" if subject else ""
    if outcome in ("unproven_high", "unproven_low"):
        side = "below" if qualifier == "<" else "above"
        bound = show(value, None, unit, None)
        return (
            f"{about.strip()}{' ' if about else ''}cannot demonstrate {text}: the result is "
            f"{side} {bound} only, a detection limit that does not prove conformance"
        )
    shown = show(value, qualifier, unit, decimals)
    if outcome == "above":
        return f"{shown}{about} is above the {noun} {text}"
    if outcome == "below":
        return f"{shown}{about} is below the {noun} {text}"
    return f"{shown}{about} conforms to the {noun} {text}"
