"""Number formatting for QC values: large counts in scientific notation."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from qc.evaluation.types import verdict_words
from qc.models import Lot, LotStatus
from releases.lifecycle import lot_expired, lot_expires_soon
from releases.models import Conclusion

register = template.Library()


@register.filter
def readable(value: Decimal | None) -> str | SafeString:
    """2.05E+11 -> 2.05 &times; 10<sup>11</sup>; small values as plain decimals."""
    if value is None:
        return ""
    number = Decimal(value).normalize()
    if number != 0 and abs(number) >= Decimal("1e6"):
        mantissa, power = f"{number:.4e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return mark_safe(f"{mantissa}&times;10<sup>{int(power)}</sup>")  # noqa: S308 - digits only
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        number = number.quantize(Decimal(1))
    return f"{number:f}"


# "1.6e11", "2.05E+11" (a number alone, not part of a word or a digest) and "×10^11".
_E_NOTATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+\-]?\d+)(?![\w.])")
_POWER_OF_TEN = re.compile(r"(?<![\w.])10\^([+\-−]?)(\d+)(?![\w.])")
_MINUS = ("-", "−")


@register.filter
def exponents(value: object) -> SafeString:
    """Powers of ten as superscripts: "1.6×10^11" and "1.6e11" -> 1.6×10<sup>11</sup>.

    The text is escaped first; only the digits matched are wrapped.
    """
    text = str(conditional_escape("" if value is None else str(value)))
    text = _E_NOTATION.sub(lambda m: f"{m[1]}×10^{int(m[2])}", text)
    text = _POWER_OF_TEN.sub(
        lambda m: f"10<sup>{'−' if m[1] in _MINUS else ''}{int(m[2])}</sup>", text
    )
    return mark_safe(text)  # noqa: S308 - escaped above; only <sup> around digits added


@register.filter
def expiry_state(lot: Lot) -> str:
    """ "expired", "soon" (within EXPIRY_WARNING_DAYS) or "" for a lot (21 CFR 211.137)."""
    if lot_expired(lot):
        return "expired"
    return "soon" if lot_expires_soon(lot) else ""


@register.filter
def verdict_label(value: str | None) -> str:
    """A verdict in the system's one vocabulary of verdicts (qc.evaluation)."""
    return verdict_words(value) if value else ""


@register.filter
def status_label(value: str | None) -> str:
    """A lot status as its label ("ready_for_review" -> "Ready for QA review")."""
    if not value:
        return "—"
    try:
        return str(LotStatus(value).label)
    except ValueError:
        return value


@register.filter
def conclusion_label(value: str | None) -> str:
    """An investigation's conclusion as its label ("not_confirmed" -> "Not confirmed: ...")."""
    try:
        return str(Conclusion(value).label) if value else ""
    except ValueError:
        return str(value)


@register.filter
def expanded(panels: list[Any]) -> list[Any]:
    """The action panels shown open (the ones that need the viewer now)."""
    return [panel for panel in panels if not panel.collapsed]


@register.filter
def collapsed(panels: list[Any]) -> list[Any]:
    """The action panels folded away (holds, rejections, repeated reviews)."""
    return [panel for panel in panels if panel.collapsed]


@register.filter
def of(mapping: dict[Any, Any] | None, key: Any) -> Any:
    """``mapping[key]``, or None: a value precomputed per row (``sparklines|of:line_id``)."""
    return (mapping or {}).get(key)
