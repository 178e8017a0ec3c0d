"""Assay runs and their reference-material controls (system suitability, DOMAIN §3).

A run is recorded as it happened, whatever its controls show: whether it is
suitable (materials released, in date, controls in range) is decided by the
evaluation, and a failing run stays on record.  Refused here is only what cannot
be evaluated at all: an unknown method, instrument or reference material, a control
of a test the material has no certified range for, a value that is not a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from qc.models import (
    AssayRun,
    Instrument,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    ResultKind,
    RunControl,
    TestMethod,
)
from qc.services.common import Principal, actor_of, posted_by
from qc.services.values import Bad, canonical, moment, number, posted_text, short_text
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput, Problem, Refused

CONTROL_FIELDS = frozenset({"reference_material", "reference_lot", "test", "value", "unit"})


@dataclass(frozen=True, slots=True)
class _Control:
    reference_material: ReferenceMaterial
    test: TestMethod
    value_as_posted: str
    unit_as_posted: str
    canonical_value: Decimal
    limit: ReferenceMaterialLimit


def _controls(controls: Any) -> tuple[list[_Control], list[Problem]]:
    if controls is None:
        return [], []
    if not isinstance(controls, list):
        return [], [Problem("not_a_list", "must be a list", "controls")]
    keys: set[tuple[str, str]] = set()
    codes: set[str] = set()
    for item in controls:
        if isinstance(item, Mapping):
            material, lot, test = (
                item.get("reference_material"),
                item.get("reference_lot"),
                item.get("test"),
            )
            if isinstance(material, str) and isinstance(lot, str):
                keys.add((material, lot))
            if isinstance(test, str):
                codes.add(test)
    query = Q(pk__in=[])
    for material, lot in keys:
        query |= Q(code=material, lot=lot)
    materials = {(m.code, m.lot): m for m in ReferenceMaterial.objects.filter(query)}
    tests = {t.code: t for t in TestMethod.objects.filter(code__in=codes)}
    limits = {
        (limit.reference_material_id, limit.test_id): limit
        for limit in ReferenceMaterialLimit.objects.filter(
            reference_material__in=materials.values(), test__in=tests.values()
        )
    }
    parsed: list[_Control] = []
    errors: list[Problem] = []
    for index, item in enumerate(controls):
        try:
            parsed.append(_control(item, materials, tests, limits))
        except Bad as bad:
            errors.append(bad.problem(index=index, prefix="controls."))
    return parsed, errors


def _control(
    item: Any,
    materials: Mapping[tuple[str, str], ReferenceMaterial],
    tests: Mapping[str, TestMethod],
    limits: Mapping[tuple[int, int], ReferenceMaterialLimit],
) -> _Control:
    if not isinstance(item, Mapping):
        raise Bad("", "each control must be an object", code="not_an_object")
    unknown = sorted(item.keys() - CONTROL_FIELDS)
    if unknown:
        raise Bad(unknown[0], "unknown field", code="unknown_field")
    key = (item.get("reference_material"), item.get("reference_lot"))
    material = materials.get(key)  # type: ignore[arg-type]
    if material is None:
        raise Bad(
            "reference_material",
            f"unknown reference material {key[0]!r} lot {key[1]!r}",
            code="unknown_reference_material",
        )
    test = tests.get(item.get("test"))  # type: ignore[arg-type]
    if test is None:
        raise Bad("test", f"unknown test method {item.get('test')!r}", code="unknown_test")
    if test.result_kind != ResultKind.NUMERIC:
        raise Bad(
            "test",
            f"test {test.code} is not numeric; a control needs a measured number",
            code="test_not_numeric",
        )
    limit = limits.get((material.pk, test.pk))
    if limit is None:
        raise Bad(
            "test",
            f"reference material {material.code} lot {material.lot} has no certified "
            f"range for test {test.code}",
            code="no_certified_range",
        )
    posted = posted_text(value=item.get("value"), field="value")
    qualifier, value = number(text=posted)
    if qualifier:
        raise Bad(
            "value", "a control is a measured value; no '<' or '>'", code="qualifier_not_allowed"
        )
    unit = item.get("unit")
    converted = canonical(value=value, unit=unit, canonical_unit=test.canonical_unit)
    return _Control(material, test, posted, str(unit), converted, limit)


def assay_run_record(
    *,
    external_run_id: str,
    method_code: str,
    started_at: Any,
    by: Principal,
    instrument_code: str | None = None,
    analyst: str = "",
    ended_at: Any = None,
    controls: Sequence[Mapping[str, Any]] | None = None,
) -> AssayRun:
    """Record an assay run with its controls, all or nothing; audited."""
    now = timezone.now()
    errors: list[Problem] = []

    def check(fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Bad as bad:
            errors.append(bad.problem())
            return None

    run_id = check(
        short_text, value=external_run_id, field="external_run_id", limit=100, required=True
    )
    method = TestMethod.objects.filter(code=method_code).first()
    if method is None:
        errors.append(Problem("unknown_test", f"unknown test method {method_code!r}", "method"))
    instrument = None
    if instrument_code:
        instrument = Instrument.objects.filter(code=instrument_code).first()
        if instrument is None:
            errors.append(
                Problem(
                    "unknown_instrument", f"unknown instrument {instrument_code!r}", "instrument"
                )
            )
        elif not instrument.active:
            errors.append(
                Problem(
                    "instrument_retired", f"instrument {instrument_code} is retired", "instrument"
                )
            )
    analyst = check(short_text, value=analyst, field="analyst", limit=150) or ""
    started = check(moment, value=started_at, field="started_at", now=now, required=True)
    ended = check(moment, value=ended_at, field="ended_at", now=now)
    if started and ended and ended < started:
        errors.append(Problem("ends_before_start", "is before started_at", "ended_at"))
    parsed, control_errors = _controls(controls)
    errors.extend(control_errors)
    if errors:
        raise InvalidInput(errors)
    assert method is not None and started is not None
    client, user = posted_by(principal=by)
    try:
        with transaction.atomic():
            run = AssayRun.objects.create(
                external_run_id=run_id,
                method=method,
                instrument=instrument,
                analyst=analyst,
                started_at=started,
                ended_at=ended,
                posted_by_client=client,
                entered_by_user=user,
            )
            stored_controls = RunControl.objects.bulk_create(
                [
                    RunControl(
                        run=run,
                        reference_material=c.reference_material,
                        test=c.test,
                        value_as_posted=c.value_as_posted,
                        unit_as_posted=c.unit_as_posted,
                        canonical_value=c.canonical_value,
                        acceptance_low=c.limit.acceptance_low,
                        acceptance_high=c.limit.acceptance_high,
                    )
                    for c in parsed
                ]
            )
            audit_record(
                actor=actor_of(principal=by),
                action=AuditAction.ASSAY_RUN_RECORDED,
                object_type="assay_run",
                object_id=run.external_run_id,
                new_values={
                    "external_run_id": run.external_run_id,
                    "method": method.code,
                    "instrument": instrument.code if instrument else None,
                    "analyst": analyst,
                    "started_at": started,
                    "ended_at": ended,
                    "controls": [
                        {
                            "reference_material": c.reference_material.code,
                            "reference_lot": c.reference_material.lot,
                            "test": c.test.code,
                            "value": c.value_as_posted,
                            "unit": c.unit_as_posted,
                            "canonical_value": format(c.canonical_value, "f"),
                        }
                        for c in parsed
                    ],
                },
                records=[run, *stored_controls],
            )
    except IntegrityError as exc:
        if AssayRun.objects.filter(external_run_id=run_id).exists():
            raise Refused(f"assay run {run_id} already exists", code="run_exists") from exc
        raise
    return run
