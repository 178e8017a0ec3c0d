"""Rounding and number display.

USP General Notices 7.20: the observed result is rounded to the number of places of
the limit, half up, *at the end* of the calculation, and only then compared. So the
engine keeps exact Decimals through every computation and rounds once, here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

# Wide enough that quantizing a large count to many places never overflows.
DECIMAL_CONTEXT: Final = Context(prec=100, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)

_SCIENTIFIC_ABOVE: Final = Decimal("1E+6")
_SCIENTIFIC_BELOW: Final = Decimal("1E-4")


@lru_cache(maxsize=64)
def _quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def round_half_up(value: Decimal, decimals: int | None) -> Decimal:
    """Round to ``decimals`` places, halves away from zero (0.125 -> 0.13)."""
    if decimals is None:
        return value
    return value.quantize(_quantum(decimals), rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT)


def round_half_down(value: Decimal, decimals: int) -> Decimal:
    """Round with halves towards zero: the largest rounded value of anything below a half."""
    return value.quantize(_quantum(decimals), rounding=ROUND_HALF_DOWN, context=DECIMAL_CONTEXT)


def round_significant(value: Decimal, figures: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round to ``figures`` significant figures (for computed values without decimals)."""
    if not value:
        return value
    quantum = Decimal(1).scaleb(value.adjusted() - figures + 1)
    return value.quantize(quantum, rounding=rounding, context=DECIMAL_CONTEXT)


def places_of(value: Decimal) -> int:
    """Number of decimal places a limit is written with (``20`` -> 0, ``0.50`` -> 2)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_decimal(value: Decimal) -> str:
    """Human text of a number: ``0.80``, ``121``, ``2.10x10^11``; digits kept as given."""
    magnitude = abs(value)
    if value and (magnitude >= _SCIENTIFIC_ABOVE or magnitude < _SCIENTIFIC_BELOW):
        mantissa, _, exponent = f"{value:E}".partition("E")
        return f"{mantissa}\u00d710^{int(exponent)}"
    return f"{value:f}"


def format_limit(limit: Decimal, decimals: int | None) -> str:
    """A limit padded to the line's decimals (``0.5`` shown as ``0.50``), never rounded."""
    if decimals is not None and decimals > places_of(limit):
        limit = limit.quantize(_quantum(decimals), context=DECIMAL_CONTEXT)
    return format_decimal(limit)


def to_decimal(raw: object, *, where: str) -> Decimal:
    """A number from JSON params: Decimal, int or numeric text; floats via their repr.

    Raises ``ValueError`` naming ``where`` for anything else (booleans, NaN, text).
    """
    if isinstance(raw, bool):
        raise ValueError(f"{where} must be a number, not {raw!r}")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | float | str):
        try:
            # str(float) is the shortest repr: 0.1 -> "0.1", so 0.1 stays one tenth.
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{where} must be a number, not {raw!r}") from None
    else:
        raise ValueError(f"{where} must be a number, not {type(raw).__name__}")
    if not value.is_finite():
        raise ValueError(f"{where} must be a finite number, not {raw!r}")
    return value
