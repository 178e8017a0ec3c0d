"""Turn a lot's ORM records into the pure engine's plain inputs (and evaluate them now).

Built for bulk use: ``inputs_for_lots`` loads any number of lots with a fixed
number of queries (results, supersessions, invalidations, runs, controls), so
``spec_impact`` over 10,000 lots is bound by the engine, not by round trips.
Invalidations are read through ``Result.invalidation`` (the release side owns
the record; QC only reads its reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from qc.evaluation import (
    ControlInput,
    LotEvaluation,
    LotInput,
    ResultInput,
    RunInput,
    SpecLine,
    evaluate_lot,
)
from qc.evaluation.types import Qualifier
from qc.models import (
    AssayRun,
    Lot,
    ReferenceMaterialLimit,
    Result,
    RunControl,
    Specification,
    SpecificationLine,
)

_QUALIFIERS: dict[str, Qualifier] = {"<": "<", ">": ">"}
_MISSING_RANGE_STATUS = "without a certified acceptance range for this test"


@dataclass(frozen=True, slots=True)
class LotInputs:
    lot: LotInput
    results: tuple[ResultInput, ...]
    runs: tuple[RunInput, ...]


def spec_lines_of(*, specification: Specification) -> list[SpecLine]:
    lines = SpecificationLine.objects.filter(specification=specification).select_related("test")
    return [
        SpecLine(
            # Zero-padded position: stable, readable, and the same in every run.
            line_id=f"{line.position:03d}",
            test_code=line.test.code,
            criterion_type=line.criterion_type,
            params=line.params,
            alert_params=line.alert_params,
            decimals=line.decimals,
            required=line.required,
            display_name=line.name,
            unit=line.test.canonical_unit,
        )
        for line in lines
    ]


def plain(value: Decimal) -> Decimal:
    """Drop the column's trailing zeros (``121.000000000000000`` -> ``121``).

    Normalised values keep only their significant digits, so reasons read
    ``2.05×10^11`` rather than every digit of the column.
    """
    return value.normalize()


def _fact(value: Any) -> str | int | Decimal:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return str(value)


def lot_input_of(*, lot_number: str, process: Mapping[str, Any]) -> LotInput:
    return LotInput(
        lot_number=lot_number,
        process_facts={key: _fact(value) for key, value in (process or {}).items()},
    )


def run_inputs(run_ids: set[int]) -> dict[int, RunInput]:
    """The engine's view of each run (its controls against the range recorded with it)."""
    if not run_ids:
        return {}
    runs = {
        run["pk"]: run
        for run in AssayRun.objects.filter(pk__in=run_ids).values(
            "pk", "external_run_id", "started_at", "method__technique"
        )
    }
    controls: dict[int, list[ControlInput]] = defaultdict(list)
    control_rows = RunControl.objects.filter(run_id__in=run_ids).values(
        "run_id",
        "reference_material_id",
        "reference_material__code",
        "reference_material__lot",
        "reference_material__status",
        "reference_material__expires_on",
        "test_id",
        "test__code",
        "test__canonical_unit",
        "canonical_value",
        "acceptance_low",
        "acceptance_high",
    )
    rows = list(control_rows)
    limits = {
        (limit.reference_material_id, limit.test_id): limit
        for limit in ReferenceMaterialLimit.objects.filter(
            reference_material_id__in={row["reference_material_id"] for row in rows}
        )
    }
    for row in rows:
        limit = limits.get((row["reference_material_id"], row["test_id"]))
        status = row["reference_material__status"]
        if row["acceptance_low"] is not None and row["acceptance_high"] is not None:
            # The range recorded with the run, not whatever the material says today.
            low, high = row["acceptance_low"], row["acceptance_high"]
        elif limit is None:
            # No certified range is never an implied pass: the control fails.
            low = high = row["canonical_value"]
            status = _MISSING_RANGE_STATUS
        else:
            low, high = limit.acceptance_low, limit.acceptance_high
        controls[row["run_id"]].append(
            ControlInput(
                reference_code=row["reference_material__code"],
                reference_lot=row["reference_material__lot"],
                reference_status=status,
                reference_expiry=row["reference_material__expires_on"],
                test_code=row["test__code"],
                measured=plain(row["canonical_value"]),
                low=plain(low),
                high=plain(high),
                unit=row["test__canonical_unit"],
            )
        )
    return {
        pk: RunInput(
            # The instrument's own run id: what a QA officer recognises in a reason.
            run_id=run["external_run_id"],
            run_date=run["started_at"].date(),
            controls=tuple(controls.get(pk, ())),
            technique=run["method__technique"],
        )
        for pk, run in runs.items()
    }


def inputs_for_lots(*, lots: Sequence[Lot] | Iterable[Lot]) -> dict[int, LotInputs]:
    """The engine inputs of each lot, keyed by lot pk, in a fixed number of queries."""
    lots = list(lots)
    lot_ids = [lot.pk for lot in lots]
    rows = list(
        Result.objects.filter(lot_id__in=lot_ids).values(
            "pk",
            "lot_id",
            "test__code",
            "test__technique",
            "canonical_value",
            "canonical_unit",
            "numeric_value",
            "qualifier",
            "text_value",
            "replicate",
            "run_id",
            "performed_at",
            "performed_by",
            "raw_data",
            "supersedes_id",
            "invalidation__reason",
        )
    )
    superseded = {row["supersedes_id"] for row in rows if row["supersedes_id"]}
    runs = run_inputs({row["run_id"] for row in rows if row["run_id"]})
    by_lot: dict[int, list[ResultInput]] = defaultdict(list)
    runs_by_lot: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        reason = row["invalidation__reason"]
        value = row["canonical_value"]
        by_lot[row["lot_id"]].append(
            ResultInput(
                result_id=str(row["pk"]),
                test_code=row["test__code"],
                value=plain(value) if value is not None else None,
                qualifier=_QUALIFIERS.get(row["qualifier"]),
                text_value=row["text_value"] or None,
                unit=row["canonical_unit"],
                replicate=row["replicate"],
                run_id=runs[row["run_id"]].run_id if row["run_id"] in runs else None,
                superseded=row["pk"] in superseded,
                invalidated=reason is not None,
                invalidation_reason=reason or "",
                performed_at=row["performed_at"],
                performed_by=row["performed_by"],
                raw_data=row["raw_data"],
                technique=row["test__technique"],
                retest_of=str(row["supersedes_id"]) if row["supersedes_id"] else None,
            )
        )
        if row["run_id"]:
            runs_by_lot[row["lot_id"]].add(row["run_id"])
    return {
        lot.pk: LotInputs(
            lot=lot_input_of(lot_number=lot.lot_number, process=lot.process),
            results=tuple(by_lot.get(lot.pk, ())),
            runs=tuple(runs[run_id] for run_id in sorted(runs_by_lot.get(lot.pk, ()))),
        )
        for lot in lots
    }


def lot_evaluate_now(*, lot: Lot) -> LotEvaluation:
    """Evaluate a lot against its bound specification now, storing nothing."""
    spec_lines = spec_lines_of(specification=lot.specification)
    inputs = inputs_for_lots(lots=[lot])[lot.pk]
    return evaluate_lot(
        inputs.lot, spec_lines, inputs.results, inputs.runs, evaluated_at=timezone.now()
    )
