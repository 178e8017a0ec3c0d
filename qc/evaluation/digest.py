"""Canonical JSON and SHA-256 of exactly the inputs a verdict depends on.

An evaluation is a function of (results, specification version, reference
materials, engine version) and is stored with this digest, so a stale evaluation is
detectable: recompute the digest from today's data and compare.

What goes in, and in what order (so the digest never depends on input order):

* ``engine_version``;
* ``spec``: every line, sorted by ``line_id``, with params and alert params as given;
* ``lot``: the lot number and only the process facts some line reads;
* ``results``: only results of tests some line reads, sorted by ``result_id``, without
  ``performed_at``/``performed_by`` (attribution, not inputs of the verdict);
* ``runs``: only runs those results name, sorted by ``run_id``, controls sorted.

Decimals are written in normalised text (``0.50`` and ``0.5`` are the same input),
dates in ISO 8601. Keys are sorted, separators compact, text UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Context, Decimal
from typing import Any, Final

from qc.evaluation.types import ControlInput, LotInput, ResultInput, RunInput, SpecLine

_WIDE: Final = Context(prec=1000, Emax=999_999, Emin=-999_999)


def canonical_decimal(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    return str(value.normalize(_WIDE))


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list):
        return list(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON-able input data")


_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def canonical_json(value: Any) -> str:
    """Sorted keys, compact, UTF-8, Decimals as normalised text, no NaN."""
    return _ENCODER.encode(value)


def spec_record(line: SpecLine) -> dict[str, Any]:
    return {
        "line_id": line.line_id,
        "test_code": line.test_code,
        "criterion_type": line.criterion_type,
        "params": line.params,
        "alert_params": line.alert_params,
        "decimals": line.decimals,
        "required": line.required,
        "display_name": line.display_name,
        "unit": line.unit,
    }


def spec_json(lines: Iterable[SpecLine]) -> str:
    return canonical_json([spec_record(line) for line in sorted(lines, key=_line_id)])


def _line_id(line: SpecLine) -> str:
    return line.line_id


def result_record(result: ResultInput) -> dict[str, Any]:
    return {
        "result_id": result.result_id,
        "test_code": result.test_code,
        "value": result.value,
        "qualifier": result.qualifier,
        "text_value": result.text_value,
        "unit": result.unit,
        "replicate": result.replicate,
        "run_id": result.run_id,
        "superseded": result.superseded,
        "invalidated": result.invalidated,
        "invalidation_reason": result.invalidation_reason,
        "raw_data": result.raw_data,
        "technique": result.technique,
        "retest_of": result.retest_of,
    }


def _control_record(control: ControlInput) -> dict[str, Any]:
    return {
        "reference_code": control.reference_code,
        "reference_lot": control.reference_lot,
        "reference_status": control.reference_status,
        "reference_expiry": control.reference_expiry,
        "test_code": control.test_code,
        "measured": control.measured,
        "low": control.low,
        "high": control.high,
        "unit": control.unit,
        "label": control.label,
    }


def run_record(run: RunInput) -> dict[str, Any]:
    controls = sorted((_control_record(c) for c in run.controls), key=canonical_json)
    return {
        "run_id": run.run_id,
        "run_date": run.run_date,
        "technique": run.technique,
        "controls": controls,
    }


def canonical_inputs(
    *,
    spec_json_text: str,
    lot: LotInput,
    fact_fields: Iterable[str],
    results: Iterable[ResultInput],
    runs: Iterable[RunInput],
    engine_version: str,
) -> str:
    """The exact text hashed into the digest (for auditors who want to re-check it).

    ``results`` and ``runs`` must already be the ones the verdict used; they are sorted
    here. ``spec_json_text`` is :func:`spec_json` of the lines (computed once per spec).
    """
    facts = {f: lot.process_facts[f] for f in sorted(fact_fields) if f in lot.process_facts}
    result_list = [result_record(r) for r in sorted(results, key=_result_id)]
    run_list = [run_record(r) for r in sorted(runs, key=_run_id)]
    # Keys in sorted order, so this equals canonical_json of the whole object.
    return (
        f'{{"engine_version":{canonical_json(engine_version)}'
        f',"lot":{canonical_json({"lot_number": lot.lot_number, "process_facts": facts})}'
        f',"results":{canonical_json(result_list)}'
        f',"runs":{canonical_json(run_list)}'
        f',"spec":{spec_json_text}}}'
    )


def _result_id(result: ResultInput) -> str:
    return result.result_id


def _run_id(run: RunInput) -> str:
    return run.run_id


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
