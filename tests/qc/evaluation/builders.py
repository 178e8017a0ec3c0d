"""Small builders for the pure-core tests: plain data, sensible defaults, no database."""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from qc.evaluation import (
    ControlInput,
    LineEvaluation,
    LotEvaluation,
    LotInput,
    ResultInput,
    RunInput,
    SpecLine,
    evaluate_lot,
)

RUN_DATE = date(2025, 3, 1)
EXPIRY = date(2026, 1, 31)


def line(
    line_id: str = "L01",
    test_code: str = "ENDO",
    criterion_type: str = "numeric_range",
    params: Mapping[str, Any] | None = None,
    *,
    alert: Mapping[str, Any] | None = None,
    decimals: int | None = None,
    required: bool = True,
    name: str = "",
    unit: str = "",
) -> SpecLine:
    return SpecLine(
        line_id=line_id,
        test_code=test_code,
        criterion_type=criterion_type,
        params=params if params is not None else {"max": "0.50"},
        alert_params=alert,
        decimals=decimals,
        required=required,
        display_name=name,
        unit=unit,
    )


def result(
    result_id: str,
    test_code: str = "ENDO",
    value: str | Decimal | None = None,
    *,
    qualifier: str | None = None,
    text: str | None = None,
    unit: str = "",
    **extra: Any,
) -> ResultInput:
    return ResultInput(
        result_id=result_id,
        test_code=test_code,
        value=Decimal(value) if isinstance(value, str) else value,
        qualifier=qualifier,  # type: ignore[arg-type]
        text_value=text,
        unit=unit,
        **extra,
    )


def control(
    measured: str = "100",
    low: str = "90",
    high: str = "110",
    *,
    status: str = "released",
    expiry: date = EXPIRY,
    code: str = "NIST-PS-100",
    lot: str = "RM-7",
    label: str = "bead control mode",
    unit: str = "nm",
) -> ControlInput:
    return ControlInput(
        reference_code=code,
        reference_lot=lot,
        reference_status=status,
        reference_expiry=expiry,
        test_code="NTA-MODE",
        measured=Decimal(measured),
        low=Decimal(low),
        high=Decimal(high),
        unit=unit,
        label=label,
    )


def run(
    run_id: str = "R-1",
    *controls: ControlInput,
    run_date: date = RUN_DATE,
    technique: str = "NTA",
) -> RunInput:
    return RunInput(
        run_id=run_id,
        run_date=run_date,
        controls=controls if controls else (control(),),
        technique=technique,
    )


def lot(**facts: Any) -> LotInput:
    return LotInput(lot_number="EVX-MSC-01-0001", process_facts=facts)


def evaluate(
    spec: SpecLine | Sequence[SpecLine],
    results: Sequence[ResultInput] = (),
    runs: Sequence[RunInput] = (),
    *,
    facts: Mapping[str, Any] | None = None,
) -> LotEvaluation:
    lines = [spec] if isinstance(spec, SpecLine) else list(spec)
    return evaluate_lot(lot(**(facts or {})), lines, results, runs)


def evaluate_line(
    spec: SpecLine,
    results: Sequence[ResultInput] = (),
    runs: Sequence[RunInput] = (),
    *,
    facts: Mapping[str, Any] | None = None,
) -> LineEvaluation:
    (only,) = evaluate(spec, results, runs, facts=facts).lines
    return only
