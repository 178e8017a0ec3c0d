"""A value posted in any equivalent unit gets the same canonical value (qc.units, end to end)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qc.models import Result
from qc.services.ingestion import results_record
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db

# (unit as posted, how many canonical units one of it is), for particles/mL.
CONCENTRATION_UNITS = [
    ("particles/mL", 0),
    ("particles/µL", 3),
    ("particles/uL", 3),
    ("particles/nL", 6),
    ("particles/pL", 9),
    ("particles/L", -3),
    ("/mL", 0),
    ("x10^9/mL", 9),
    ("\u00d710^11 /mL", 11),
    ("E6 particles/mL", 6),
    ("count/mL", 0),
    ("mL^-1", 0),
]


@pytest.mark.requirement("ALCOA-accurate")
def test_the_examples_of_the_issue(world: Any, lot: Any, mes_api: Any) -> None:
    items = [
        {"test": "NTA-CONC", "value": "2.1e11", "unit": "particles/mL"},
        {"test": "NTA-CONC", "value": "210", "unit": "particles/pL"},
        {"test": "NTA-CONC", "value": "2.1 \u00d710^11", "unit": "/mL"},
        {"test": "NTA-CONC", "value": 2.1, "unit": "\u00d710^11/mL"},
        # 210 per nanolitre is 2.1e8 per millilitre: a thousand times less.
        {"test": "NTA-CONC", "value": "210", "unit": "particles/nL"},
    ]
    response = post_json(mes_api, f"/api/v1/lots/{lot.lot_number}/results/", {"results": items})
    values = [r["canonical_value"] for r in response.json()["results"]]
    assert values == ["210000000000"] * 4 + ["210000000"]


@pytest.mark.requirement("ALCOA-accurate")
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    digits=st.integers(min_value=1, max_value=10**12),
    exponent=st.integers(min_value=-3, max_value=6),
    units=st.lists(st.sampled_from(CONCENTRATION_UNITS), min_size=2, max_size=5, unique=True),
)
def test_any_equivalent_unit_gives_the_same_canonical_value(
    world: Any, lot: Any, mes: Any, digits: int, exponent: int, units: list[tuple[str, int]]
) -> None:
    """The same concentration, written in each unit with its number scaled to match."""
    canonical = Decimal(digits).scaleb(exponent)
    items = [
        {
            "test": "NTA-CONC",
            "value": str(canonical.scaleb(-power)),
            "unit": unit,
        }
        for unit, power in units
    ]
    recorded = results_record(lot_number=lot.lot_number, items=items, by=mes[0])
    values = {r.canonical_value for r in recorded.results}
    assert values == {canonical.normalize()} or values == {canonical}
    stored = set(
        Result.objects.filter(pk__in=[r.id for r in recorded.results]).values_list(
            "canonical_value", flat=True
        )
    )
    assert stored == {canonical}


@pytest.mark.requirement("ALCOA-accurate")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3),
    unit=st.sampled_from([("nm", 0), ("µm", -3), ("um", -3), ("mm", -6), ("pm", 3)]),
)
def test_sizes_in_any_length_unit_convert_exactly(
    world: Any, lot: Any, mes: Any, value: Decimal, unit: tuple[str, int]
) -> None:
    text, power = unit
    items = [{"test": "NTA-SIZE", "value": str(value.scaleb(power)), "unit": text}]
    [result] = results_record(lot_number=lot.lot_number, items=items, by=mes[0]).results
    assert result.canonical_value == value
