"""Units of QC results: parse what instruments send, convert exactly to a test's unit.

One Pint registry for the whole project, built from the small set of definitions
below rather than Pint's default file. Two reasons:

* Pint's default ``particle`` is ``1 / N_A`` (an amount of substance), which would
  make ``particles/mL`` convertible to ``mol/L``. Here a particle is a counted entity
  of its own dimension, and so are nucleic-acid ``copies`` (qPCR) and endotoxin
  units (``EU``, USP <85>): a result in one can never be converted into another.
* Osmoles (``mOsm/kg``) are their own dimension too: osmolality of the formulation.
* A closed list means an unexpected unit is refused with a reason instead of being
  silently matched to some exotic definition (``cp`` = centipoise, ``EU`` = exa-U).

Values stay :class:`~decimal.Decimal` end to end. Pint runs with ``Fraction``
magnitudes only to find the conversion factor of *one* unit; that exact factor is
turned into a Decimal and cached per (unit, canonical unit) pair, so
``2.1e11 particles/mL``, ``210 particles/nL`` and ``2.1 x10^11/mL`` all give the
same canonical Decimal and ingestion never pays for Pint per value.

Public API: :func:`parse_unit`, :func:`parse_quantity`, :func:`to_canonical`,
:func:`conversion_factor`, :func:`check_unit`, :func:`dimension_name`,
:class:`Unit`, :class:`Quantity`, :class:`UnitError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Final, Literal

import pint

__all__ = [
    "Quantity",
    "Unit",
    "UnitError",
    "check_unit",
    "conversion_factor",
    "dimension_name",
    "parse_quantity",
    "parse_unit",
    "to_canonical",
]


class UnitError(ValueError):
    """A unit or value that cannot be used: a stable ``code`` and a ``reason`` for a human."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------

_DEFINITIONS: Final = """
femto- = 1e-15 = f-
pico- = 1e-12 = p-
nano- = 1e-9 = n-
micro- = 1e-6 = µ- = μ- = u-
milli- = 1e-3 = m-
centi- = 1e-2 = c-
deci- = 1e-1 = d-
kilo- = 1e3 = k-
mega- = 1e6 = M-
giga- = 1e9 = G-
tera- = 1e12 = T-
meter = [length] = m = metre
gram = [mass] = g = gramme
second = [time] = s = sec
minute = 60 * second = min
hour = 60 * minute = h = hr
day = 24 * hour = d
liter = decimeter ** 3 = l = L = litre
particle = [particle_count] = particles = count = counts
copy = [copy_number] = copies
endotoxin_unit = [endotoxin] = EU
osmole = [osmotic_amount] = Osm = osmol
percent = 0.01 = %
"""

# Fraction magnitudes make every factor of the closed list above exact.
UNIT_REGISTRY: Final[pint.UnitRegistry] = pint.UnitRegistry(
    filename=None, non_int_type=Fraction, cache_folder=None
)
for _line in _DEFINITIONS.strip().splitlines():
    UNIT_REGISTRY.define(_line)

_PARTICLE: Final = "[particle_count]"
_COPY: Final = "[copy_number]"
_COUNT_DIMENSIONS: Final = (_PARTICLE, _COPY)

# A dimension as a sorted tuple of (base dimension, integer exponent).
Dimension = tuple[tuple[str, int], ...]

# Decimal arithmetic for conversions: wide enough that a product of a 28-digit value
# and an exact factor is never rounded; exponents as wide as Decimal allows.
_EXACT: Final = Context(prec=80, Emax=999_999, Emin=-999_999)


# ---------------------------------------------------------------------------
# Parsed forms
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit: the text as sent, an exact scale (``x10^9``) and the Pint unit."""

    text: str
    scale: Decimal
    pint_unit: pint.Unit
    dimension: Dimension


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value as an instrument sent it: detection-limit qualifier apart from the number."""

    qualifier: Literal["<", ">"] | None
    value: Decimal
    unit_text: str


# ---------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------

_SUPERSCRIPTS: Final = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN: Final = re.compile(r"(\^)?([⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+)")
# Counted entities and EU are words, not symbols with prefixes: instruments write
# "Particles / ml" (ZetaView) or "eu/ml" as often as "particles/mL".
_WORD_UNITS: Final = re.compile(r"\b(particles?|counts?|copies|copy|eu)\b", re.IGNORECASE)
_WORD_CANONICAL: Final = {
    "particle": "particle",
    "particles": "particle",
    "count": "particle",
    "counts": "particle",
    "copy": "copy",
    "copies": "copy",
    "eu": "EU",
}
# A leading scale factor, after "x" or the multiplication sign:
# "x10^9", "* 10**9", "10^9", "E9", "e+9", "1e9".
_SCALE: Final = re.compile(
    r"""^\s*
    (?:[\u00d7xX*\u00b7]\s*)?
    (?:10\s*(?:\^|\*\*)\s*(?P<pow>[+-]?\d+) | 1?[eE](?P<exp>[+-]?\d+))
    (?=\s|/|\*|\u00b7|$)""",
    re.VERBOSE,
)
_NUMBER: Final = re.compile(
    r"""^\s*
    (?P<qualifier>[<>])?\s*
    (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    (?P<rest>.*)$""",
    re.VERBOSE | re.DOTALL,
)


def _normalise_text(text: str) -> str:
    text = text.strip().replace("\u2212", "-").replace("·", "*").replace("⋅", "*")
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group(2).translate(_SUPERSCRIPTS), text)
    return text


def _split_scale(text: str) -> tuple[Decimal, str]:
    """Split a leading power-of-ten scale off a unit: ``x10^9/mL`` -> (1E+9, ``/mL``)."""
    match = _SCALE.match(text)
    if match is None:
        return Decimal(1), text
    power = match.group("pow") if match.group("pow") is not None else match.group("exp")
    return Decimal(1).scaleb(int(power), _EXACT), text[match.end() :].strip()


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def parse_unit(text: str) -> Unit:
    """Parse a unit as sent by an instrument or written in a test method.

    Accepts SI prefixes (``µ``, ``μ`` and ``u`` for micro), ``%``, counted entities
    (``particles``, ``count``, ``copies``, any case), ``EU``, superscripts and a
    leading power-of-ten scale (``x10^9/mL``, also with the multiplication sign).
    ``/mL`` alone is ``1/mL``.
    Raises :class:`UnitError` with a human reason.
    """
    if not isinstance(text, str):
        raise UnitError(f"a unit must be text, not {type(text).__name__}", code="unit_not_text")
    normalised = _normalise_text(text)
    scale, rest = _split_scale(normalised)
    rest = _WORD_UNITS.sub(lambda m: _WORD_CANONICAL[m.group(1).lower()], rest)
    if rest.startswith("/"):
        rest = "1" + rest
    try:
        pint_unit = UNIT_REGISTRY.parse_units(rest)
    except pint.UndefinedUnitError as exc:
        names = ", ".join(sorted(f"'{name}'" for name in exc.unit_names))
        raise UnitError(
            f"unit '{text}' is not known (we do not accept {names})", code="unit_unknown"
        ) from exc
    except Exception as exc:  # Pint raises several types for malformed expressions.
        raise UnitError(f"unit '{text}' cannot be read as a unit", code="unit_unreadable") from exc
    dimension = _dimension_of(pint_unit, text)
    return Unit(text=text, scale=scale, pint_unit=pint_unit, dimension=dimension)


def _dimension_of(pint_unit: pint.Unit, text: str) -> Dimension:
    items: list[tuple[str, int]] = []
    for name, raw_exponent in pint_unit.dimensionality.items():
        exponent = Fraction(str(raw_exponent))  # Fraction under non_int_type; be safe
        if exponent.denominator != 1:
            raise UnitError(
                f"unit '{text}' has a fractional power; no QC result has such a unit",
                code="unit_fractional_power",
            )
        if exponent:
            items.append((name, int(exponent)))
    return tuple(sorted(items))


def parse_quantity(text: str) -> Quantity:
    """Split an instrument reading into qualifier, exact Decimal value and unit text.

    ``"2.1 x10^11/mL"`` -> ``Quantity(None, Decimal("2.1E+11"), "/mL")``;
    ``"< 0.05 EU/mL"`` -> ``Quantity("<", Decimal("0.05"), "EU/mL")``. The unit is
    checked with :func:`parse_unit`. Raises :class:`UnitError`.
    """
    normalised = _normalise_text(text)
    if "," in normalised:
        raise UnitError(
            f"'{text}' contains a comma; send a decimal point and no thousands separator",
            code="value_has_comma",
        )
    match = _NUMBER.match(normalised)
    if match is None:
        raise UnitError(f"'{text}' does not start with a number", code="value_not_a_number")
    value = Decimal(match.group("number"))
    scale, unit_text = _split_scale(match.group("rest").strip())
    parse_unit(unit_text)
    qualifier = match.group("qualifier")
    return Quantity(
        qualifier="<" if qualifier == "<" else ">" if qualifier == ">" else None,
        value=_canonical(value * scale),
        unit_text=unit_text,
    )


# ---------------------------------------------------------------------------
# Dimensions, for messages
# ---------------------------------------------------------------------------

_DIMENSION_NAMES: Final[dict[Dimension, str]] = {
    (): "a pure number (a ratio or percent)",
    (("[length]", 1),): "a length",
    (("[length]", 3),): "a volume",
    (("[mass]", 1),): "a mass",
    (("[time]", 1),): "a time",
    ((_PARTICLE, 1),): "a particle count",
    ((_COPY, 1),): "a copy number",
    (("[endotoxin]", 1),): "an endotoxin amount",
    (("[length]", -3),): "a number per volume (no counted entity named)",
    tuple(sorted(((_PARTICLE, 1), ("[length]", -3)))): "a particle concentration",
    tuple(sorted(((_COPY, 1), ("[length]", -3)))): "a copy-number concentration",
    tuple(sorted((("[mass]", 1), ("[length]", -3)))): "a mass concentration",
    tuple(sorted((("[endotoxin]", 1), ("[length]", -3)))): "an endotoxin concentration",
    tuple(sorted(((_PARTICLE, 1), ("[mass]", -1)))): "a particle-to-mass ratio",
    tuple(sorted(((_COPY, 1), ("[mass]", -1)))): "a copy-to-mass ratio",
    tuple(sorted((("[endotoxin]", 1), ("[mass]", -1)))): "an endotoxin-to-mass ratio",
    tuple(sorted((("[osmotic_amount]", 1), ("[mass]", -1)))): "an osmolality",
    tuple(sorted((("[osmotic_amount]", 1), ("[length]", -3)))): "an osmolarity",
}


def dimension_name(unit: Unit | str) -> str:
    """What kind of quantity a unit measures, with its article: ``"a length"``."""
    parsed = parse_unit(unit) if isinstance(unit, str) else unit
    known = _DIMENSION_NAMES.get(parsed.dimension)
    if known is not None:
        return known
    terms = "·".join(
        name if exponent == 1 else f"{name}^{exponent}" for name, exponent in parsed.dimension
    )
    return f"a quantity of dimension {terms}"


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------


def check_unit(text: str) -> Unit:
    """Validate the canonical unit of a test method and return it parsed.

    A canonical unit carries no scale factor (store ``particles/mL``, not
    ``x10^9 particles/mL``): limits and values are then plain numbers in it.
    """
    unit = parse_unit(text)
    if unit.scale != 1:
        raise UnitError(
            f"canonical unit '{text}' carries a scale factor; use the plain unit "
            "and write limits as full numbers",
            code="unit_scaled",
        )
    return unit


def _implicit_count(source: Dimension, target: Dimension) -> str | None:
    """The counted entity a source unit leaves implicit (``/mL`` for ``particles/mL``)."""
    if any(name in _COUNT_DIMENSIONS for name, _ in source):
        return None
    for count in _COUNT_DIMENSIONS:
        if tuple(sorted((*source, (count, 1)))) == target:
            return count
    return None


@lru_cache(maxsize=4096)
def conversion_factor(unit_text: str, canonical_unit: str) -> Decimal:
    """The exact Decimal factor taking a value in ``unit_text`` to ``canonical_unit``.

    A unit with no counted entity where the canonical unit has one (``/mL`` for a
    ``particles/mL`` test) counts that entity implicitly: instruments print
    concentrations as "2.1E+11 /mL". Raises :class:`UnitError` on an unknown unit
    or a different dimension.
    """
    source = parse_unit(unit_text)
    target = check_unit(canonical_unit)
    source_pint = source.pint_unit
    if source.dimension != target.dimension:
        implicit = _implicit_count(source.dimension, target.dimension)
        if implicit is None:
            raise UnitError(
                f"unit '{unit_text}' is {dimension_name(source)}; this test reports "
                f"{canonical_unit} ({dimension_name(target)})",
                code="unit_not_convertible",
            )
        entity = "particle" if implicit == _PARTICLE else "copy"
        source_pint = source_pint * UNIT_REGISTRY.parse_units(entity)
    magnitude = UNIT_REGISTRY.Quantity(Fraction(1), source_pint).to(target.pint_unit).magnitude
    exact = Fraction(magnitude)
    factor = _EXACT.divide(Decimal(exact.numerator), Decimal(exact.denominator))
    return _canonical(_EXACT.multiply(factor, source.scale))


def to_canonical(value: Decimal, unit_text: str, canonical_unit: str) -> Decimal:
    """Convert a value posted in ``unit_text`` to the test's ``canonical_unit``.

    The result is in one canonical form (``Decimal("2.10E+11")``, ``"2.1E+11"`` and
    ``"210 particles/pL"`` all become ``Decimal("210000000000")``). NaN and infinities
    are refused; negative values are allowed here, each test kind decides whether they
    make sense.
    """
    if not isinstance(value, Decimal):
        raise UnitError(
            f"value {value!r} must be a Decimal, not {type(value).__name__}",
            code="value_not_a_number",
        )
    if not value.is_finite():
        raise UnitError(f"value {value} is not a finite number", code="value_not_finite")
    factor = conversion_factor(unit_text, canonical_unit)
    return _canonical(value if factor == 1 else _EXACT.multiply(value, factor))


def _canonical(value: Decimal) -> Decimal:
    """One text per number: no trailing zeros, no positive exponent (``2.10E+11`` ->
    ``210000000000``, ``0.50`` -> ``0.5``), so equal values store and hash alike."""
    try:
        if value.is_zero():
            return Decimal(0)  # -0 and 0E+3 are 0
        normal = value.normalize(_EXACT)
        exponent = normal.as_tuple().exponent
        if isinstance(exponent, int) and exponent > 0:
            normal = normal.quantize(Decimal(1), context=_EXACT)
        return normal
    except InvalidOperation as exc:  # pragma: no cover - only for absurd exponents
        raise UnitError(f"value {value} is out of range", code="value_out_of_range") from exc
