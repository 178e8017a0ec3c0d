"""qc.units: parsing what instruments send and exact conversion to a test's unit."""

from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.units import (
    UnitError,
    check_unit,
    conversion_factor,
    dimension_name,
    parse_quantity,
    parse_unit,
    to_canonical,
)

CONCENTRATION = "particles/mL"

# 2.1e11 particles/mL written the ways NTA, TRPS and flow instruments write it.
SAME_CONCENTRATION = [
    "2.1e11 particles/mL",
    "2.1E+11/mL",
    "2.1 \u00d710^11/mL",
    "2.1x10^11 particles/mL",
    "2.1 \u00d710\u00b9\u00b9/mL",
    "2.1 E11 Particles / ml",
    "210 particles/pL",
    "2.1e5 particles/nL",
    "2.1e8 particles/\u00b5L",
    "2.1e8 particles/uL",
    "2.1e8 particles/\u03bcL",
    "210000000000 count/mL",
    "2.1e14 particles/L",
    "21 x10^10 particles per mL",
    "210 \u00d710^9 mL^-1",
    "2.1 \u00d710^11 mL\u207b\u00b9",
]


@pytest.mark.parametrize("reading", SAME_CONCENTRATION)
def test_every_way_of_writing_a_concentration_gives_the_same_decimal(reading: str) -> None:
    quantity = parse_quantity(reading)
    canonical = to_canonical(quantity.value, quantity.unit_text, CONCENTRATION)
    assert canonical == Decimal("2.1E+11")
    assert str(canonical) == "210000000000"  # one canonical text: same storage, same digest


@pytest.mark.parametrize(
    ("unit", "name"),
    [
        ("\u00b5g/mL", "a mass concentration"),
        ("ug/mL", "a mass concentration"),
        ("EU/mL", "an endotoxin concentration"),
        ("eu/ml", "an endotoxin concentration"),
        ("nm", "a length"),
        ("\u00b5m", "a length"),
        ("%", "a pure number (a ratio or percent)"),
        ("particles/\u00b5g", "a particle-to-mass ratio"),
        ("copies/mL", "a copy-number concentration"),
        ("/mL", "a number per volume (no counted entity named)"),
        ("EU/kg", "an endotoxin-to-mass ratio"),
        ("particles*nm", "a quantity of dimension [length]\u00b7[particle_count]"),
    ],
)
def test_instrument_units_parse_and_are_named(unit: str, name: str) -> None:
    assert dimension_name(unit) == name
    assert dimension_name(parse_unit(unit)) == name


@pytest.mark.parametrize(
    ("value", "unit", "canonical", "expected"),
    [
        ("0.1", "\u00b5m", "nm", "100"),
        ("121", "nm", "nm", "121"),
        ("1500", "ug/mL", "mg/mL", "1.5"),
        ("85", "%", "1", "0.85"),
        ("0.85", "1", "%", "85"),
        ("0.05", "EU/mL", "EU/mL", "0.05"),
        ("3", "particles/ng", "particles/\u00b5g", "3000"),
        ("1.2e4", "/\u00b5L", "copies/mL", "1.2E+7"),
        ("-4", "nm", "nm", "-4"),  # negatives are the caller's call, per test kind
        (
            "1.23456789012345678901234567890123",
            "\u00b5m",
            "nm",
            "1234.56789012345678901234567890123",
        ),
    ],
)
def test_to_canonical_is_exact(value: str, unit: str, canonical: str, expected: str) -> None:
    assert to_canonical(Decimal(value), unit, canonical) == Decimal(expected)


def test_wrong_dimension_says_what_the_unit_is_and_what_the_test_reports() -> None:
    with pytest.raises(UnitError) as caught:
        to_canonical(Decimal("120"), "nm", "particles/mL")
    assert caught.value.code == "unit_not_convertible"
    assert caught.value.reason == (
        "unit 'nm' is a length; this test reports particles/mL (a particle concentration)"
    )


@pytest.mark.parametrize(
    ("unit", "canonical"),
    [
        ("copies/mL", "particles/mL"),  # qPCR copies are not particles
        ("EU/mL", "particles/mL"),
        ("particles/mL", "EU/mL"),
        ("/mL", "EU/mL"),  # only counted entities may be implicit
        ("\u00b5g/mL", "particles/mL"),
        ("particles/mL", "/mL"),
        ("%", "nm"),
    ],
)
def test_incompatible_units_are_refused(unit: str, canonical: str) -> None:
    with pytest.raises(UnitError) as caught:
        conversion_factor(unit, canonical)
    assert caught.value.code == "unit_not_convertible"


@pytest.mark.parametrize(
    ("unit", "code", "reason"),
    [
        ("blah/mL", "unit_unknown", "unit 'blah/mL' is not known (we do not accept 'blah')"),
        (
            "mL**0.5",
            "unit_fractional_power",
            "unit 'mL**0.5' has a fractional power; no QC result has such a unit",
        ),
        ("$", "unit_unreadable", "unit '$' cannot be read as a unit"),
        ("2*mL", "unit_unreadable", "unit '2*mL' cannot be read as a unit"),
        # molar is not defined
        ("M", "unit_unknown", "unit 'M' is not known (we do not accept 'M')"),
    ],
)
def test_unknown_units_have_a_code_and_a_reason_naming_what_was_refused(
    unit: str, code: str, reason: str
) -> None:
    with pytest.raises(UnitError) as caught:
        parse_unit(unit)
    assert caught.value.code == code
    assert caught.value.reason == reason


def test_particle_is_a_counted_entity_not_an_amount_of_substance() -> None:
    # Pint's default defines particle = 1/N_A; ours must not convert to moles.
    with pytest.raises(UnitError):
        parse_unit("mol/L")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")])
def test_non_finite_values_are_refused(value: Decimal) -> None:
    with pytest.raises(UnitError) as caught:
        to_canonical(value, "nm", "nm")
    assert caught.value.code == "value_not_finite"


def test_floats_are_refused_to_keep_values_exact() -> None:
    with pytest.raises(UnitError) as caught:
        to_canonical(0.1, "nm", "nm")  # type: ignore[arg-type]
    assert caught.value.code == "value_not_a_number"


def test_canonical_unit_has_no_scale_factor() -> None:
    assert check_unit("particles/mL").scale == 1
    with pytest.raises(UnitError) as caught:
        check_unit("\u00d710^9 particles/mL")
    assert caught.value.code == "unit_scaled"
    with pytest.raises(UnitError):
        check_unit("furlongs")


@pytest.mark.parametrize(
    ("reading", "qualifier", "value", "unit"),
    [
        ("< 0.05 EU/mL", "<", "0.05", "EU/mL"),
        (">1.2e3 nm", ">", "1.2E+3", "nm"),
        ("98.5 %", None, "98.5", "%"),
        ("\u22123 nm", None, "-3", "nm"),
        ("  7  ", None, "7", ""),
    ],
)
def test_parse_quantity_keeps_the_qualifier_apart(
    reading: str, qualifier: str | None, value: str, unit: str
) -> None:
    quantity = parse_quantity(reading)
    assert quantity.qualifier == qualifier
    assert quantity.value == Decimal(value)
    assert quantity.unit_text == unit


@pytest.mark.parametrize(
    ("reading", "code"),
    [
        ("2,1 EU/mL", "value_has_comma"),
        ("1,000 nm", "value_has_comma"),
        ("EU/mL", "value_not_a_number"),
        ("about 5 nm", "value_not_a_number"),
        ("5 parsecs", "unit_unknown"),
    ],
)
def test_parse_quantity_refuses_ambiguous_readings(reading: str, code: str) -> None:
    with pytest.raises(UnitError) as caught:
        parse_quantity(reading)
    assert caught.value.code == code


def test_conversion_factors_are_cached() -> None:
    conversion_factor.cache_clear()
    for _ in range(3):
        to_canonical(Decimal("1"), "particles/nL", CONCENTRATION)
    info = conversion_factor.cache_info()
    assert (info.misses, info.hits) == (1, 2)


_PREFIXED_VOLUMES = ["L", "dL", "mL", "\u00b5L", "nL", "pL"]


@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, places=6),
    unit=st.sampled_from(_PREFIXED_VOLUMES),
    power=st.integers(min_value=-12, max_value=15),
)
def test_round_trip_and_scale_factors_are_exact(value: Decimal, unit: str, power: int) -> None:
    there = to_canonical(value, f"particles/{unit}", CONCENTRATION)
    back = to_canonical(there, CONCENTRATION, f"particles/{unit}")
    assert back == value
    scaled = to_canonical(value, f"x10^{power} particles/{unit}", CONCENTRATION)
    assert scaled == there.scaleb(power, Context(prec=80))  # default context rounds at 28


@pytest.mark.parametrize(
    ("value", "unit", "canonical", "text"),
    [
        ("0.3", "Osm/kg", "mOsm/kg", "300"),
        ("0.50", "EU/mL", "EU/mL", "0.5"),
        ("2.10E+11", "particles/mL", "particles/mL", "210000000000"),
        ("-0.0", "nm", "nm", "0"),
    ],
)
def test_canonical_values_have_one_text(value: str, unit: str, canonical: str, text: str) -> None:
    assert str(to_canonical(Decimal(value), unit, canonical)) == text


def test_osmoles_are_their_own_dimension() -> None:
    assert dimension_name("mOsm/kg") == "an osmolality"
    assert dimension_name("mOsm/L") == "an osmolarity"
    with pytest.raises(UnitError):
        conversion_factor("mOsm/kg", "mg/kg")
