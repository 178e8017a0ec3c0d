"""Parsing the fields of posted QC data: fast, exact, and with a reason when refused.

Shared by results and run controls.  Each parser raises :class:`Bad` naming the
field, a stable code and the reason; callers add the item index
(:meth:`Bad.problem`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from qc.units import UnitError, conversion_factor, parse_quantity, to_canonical
from services.errors import Problem

# Values are stored as numeric(40, 15): 25 digits before the point, 15 after.
_MAX_ADJUSTED_EXPONENT = 24
_QUANTUM = Decimal("1E-15")
_WIDE = Context(prec=80)
# Instrument and server clocks differ a little; more than this is a future time.
CLOCK_SKEW = timedelta(minutes=5)
_NON_FINITE = frozenset(
    {"nan", "+nan", "-nan", "snan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)


class Bad(Exception):
    """One refused field: which, why in words, and a stable ``code`` clients branch on."""

    def __init__(self, field: str, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.code = code

    def problem(self, *, index: int | None = None, prefix: str = "") -> Problem:
        return Problem(self.code, self.reason, f"{prefix}{self.field}", index)


def posted_text(*, value: Any, field: str) -> str:
    """The literal text of a value as posted (JSON numbers keep theirs, see api/parsers.py)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise Bad(field, "must be a number or a text", code="wrong_type")
    text = getattr(value, "text", None)
    if text is not None:
        return str(text)
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    raise Bad(field, f"must be a number or a text, not {type(value).__name__}", code="wrong_type")


def number(*, text: str, field: str = "value") -> tuple[str | None, Decimal]:
    """(qualifier, value) of a numeric reading such as ``"< 0.05"`` or ``"2.1 x10^11"``."""
    stripped = text.strip()
    if stripped.lower().lstrip("<>").strip() in _NON_FINITE:
        raise Bad(field, f"{text!r} is not a finite number", code="value_not_finite")
    try:
        value = None if "_" in stripped else Decimal(stripped)
    except InvalidOperation:
        value = None
    if value is not None:
        if not value.is_finite():
            raise Bad(field, f"{text!r} is not a finite number", code="value_not_finite")
        return None, value
    try:
        quantity = parse_quantity(stripped)
    except UnitError as exc:
        raise Bad(field, exc.reason, code=exc.code) from None
    if quantity.unit_text:
        raise Bad(
            field,
            f"{text!r} carries a unit; send the number (with '<'/'>' and a power of ten "
            "if needed) in 'value' and the unit in 'unit'",
            code="value_has_unit",
        )
    return quantity.qualifier, quantity.value


def canonical(
    *,
    value: Decimal,
    unit: Any,
    canonical_unit: str,
    field: str = "value",
    unit_field: str = "unit",
) -> Decimal:
    """``value`` in ``unit`` converted to ``canonical_unit``, as numeric(40, 15) stores it."""
    if not isinstance(unit, str) or not unit.strip():
        raise Bad(unit_field, f"is required (this test reports {canonical_unit})", code="required")
    if len(unit) > 40:
        raise Bad(unit_field, "is longer than 40 characters", code="too_long")
    try:
        conversion_factor(unit, canonical_unit)  # cached per unit pair
    except UnitError as exc:
        raise Bad(unit_field, exc.reason, code=exc.code) from None
    try:
        converted = to_canonical(value, unit, canonical_unit)
    except UnitError as exc:  # an absurd exponent
        raise Bad(field, exc.reason, code=exc.code) from None
    if not fits(value=converted):
        raise Bad(field, f"{value} {unit} is out of range", code="value_out_of_range")
    if converted.as_tuple().exponent < -15:  # type: ignore[operator]
        # More than 15 decimal places in the canonical unit: rounded half up (the
        # posted text is kept verbatim in value_as_posted).
        converted = converted.quantize(_QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE)
        converted = converted.normalize(_WIDE)
    return converted


def fits(*, value: Decimal) -> bool:
    return value.is_zero() or value.adjusted() <= _MAX_ADJUSTED_EXPONENT


def exact_fit(*, value: Decimal) -> Decimal | None:
    """``value`` if numeric(40, 15) holds it exactly, else ``None``."""
    if not fits(value=value) or value.as_tuple().exponent < -15:  # type: ignore[operator]
        return None
    return value


def moment(*, value: Any, field: str, now: datetime, required: bool = False) -> datetime | None:
    """An ISO 8601 date-time with a UTC offset, not in the future (beyond clock skew)."""
    if value is None or value == "":
        if required:
            raise Bad(field, "is required", code="required")
        return None
    if not isinstance(value, str):
        raise Bad(field, "must be an ISO 8601 date-time text", code="wrong_type")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Bad(field, f"{value!r} is not an ISO 8601 date-time", code="not_a_datetime") from None
    if parsed.utcoffset() is None:
        raise Bad(
            field, "needs a UTC offset (e.g. 2025-03-01T10:15:00Z)", code="utc_offset_required"
        )
    if parsed > now + CLOCK_SKEW:
        raise Bad(
            field, f"{value} is in the future (server time {now.isoformat()})", code="in_the_future"
        )
    return parsed


def short_text(*, value: Any, field: str, limit: int, required: bool = False) -> str:
    if value is None or (required and isinstance(value, str) and not value.strip()):
        if required:
            raise Bad(field, "is required", code="required")
        return ""
    if not isinstance(value, str):
        raise Bad(field, "must be a text", code="wrong_type")
    if len(value) > limit:
        raise Bad(field, f"is longer than {limit} characters", code="too_long")
    return value


def integer(*, value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad(field, "must be a whole number", code="not_a_whole_number")
    return int(value)
