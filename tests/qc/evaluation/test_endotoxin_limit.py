"""An endotoxin limit stated as K/M (USP <85>) instead of a number typed in."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qc.evaluation import CriterionError, validate_params
from qc.evaluation.describe import describe_criterion
from tests.qc.evaluation.builders import evaluate_line, line, result

KM = {"endotoxin_k": "5", "endotoxin_m": "10", "endotoxin_m_unit": "mL/kg/h"}


def endotoxin_line(params: dict[str, Any], decimals: int | None = 2, unit: str = "EU/mL") -> Any:
    return line("E", "LAL", params=params, decimals=decimals, unit=unit, name="Endotoxin")


@pytest.mark.requirement("USP<85>")
@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        ("0.50", "conforms"),
        ("0.504", "conforms"),
        ("0.505", "does_not_conform"),
        ("0.51", "does_not_conform"),
    ],
)
def test_k_over_m_is_the_limit(value: str, verdict: str) -> None:
    evaluation = evaluate_line(endotoxin_line(KM), [result("E-1", "LAL", value, unit="EU/mL")])
    assert evaluation.verdict == verdict
    assert "≤ 0.50 EU/mL" in evaluation.reason


@pytest.mark.requirement("USP<85>")
def test_k_over_m_in_words() -> None:
    params = {**KM, "endotoxin_m_unit": "mL/kg"}
    assert (
        describe_criterion("numeric_range", params, "EU/mL", decimals=2)
        == "≤ K/M = 5 EU/kg ÷ 10 mL/kg = 0.50 EU/mL"
    )
    intrathecal = {"endotoxin_k": "0.2", "endotoxin_m": "0.5", "endotoxin_m_unit": "mg/kg/h"}
    assert (
        describe_criterion("numeric_range", intrathecal, "EU/mg")
        == "≤ K/M = 0.2 EU/kg ÷ 0.5 mg/kg/h = 0.4 EU/mg"
    )


def test_a_quotient_that_does_not_terminate_is_rounded_down() -> None:
    params = {"endotoxin_k": "5", "endotoxin_m": "3", "endotoxin_m_unit": "mL/kg/h"}
    spec = endotoxin_line(params)
    assert evaluate_line(spec, [result("E-1", "LAL", "1.66", unit="EU/mL")]).verdict == "conforms"
    assert (
        evaluate_line(spec, [result("E-1", "LAL", "1.67", unit="EU/mL")]).verdict
        == "does_not_conform"
    )
    assert describe_criterion("numeric_range", params, "EU/mL", decimals=2).endswith("= 1.66 EU/mL")
    assert describe_criterion("numeric_range", params, "EU/mL").endswith("= 1.666 EU/mL")


def test_k_over_m_converts_to_the_tests_unit() -> None:
    spec = endotoxin_line(KM, decimals=None, unit="EU/L")
    evaluation = evaluate_line(spec, [result("E-1", "LAL", "400", unit="EU/L")])
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].value == Decimal(400)


@pytest.mark.parametrize(
    ("params", "unit", "fragment"),
    [
        ({**KM, "max": "0.5"}, "EU/mL", "either 'max' or K/M"),
        ({**KM, "endotoxin_m": "0"}, "EU/mL", "above 0"),
        ({"endotoxin_k": "5", "endotoxin_m_unit": "mL/kg"}, "EU/mL", "'endotoxin_m'"),
        ({**KM, "endotoxin_m_unit": "mL/h"}, "EU/mL", "'endotoxin_m_unit' must be one of"),
        (KM, "EU/mg", "K/M is in EU/mL"),
    ],
)
def test_bad_k_over_m(params: dict[str, Any], unit: str, fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("numeric_range", params, unit=unit)
