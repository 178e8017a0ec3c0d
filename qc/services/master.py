"""Master data (products, test methods, instruments, reference materials): audited saves.

Administrators edit master data in the admin; every add and change goes through
:func:`master_data_save`, which writes the old and new values and the reason to
the audit trail in the same transaction.  Nothing is ever deleted (the admin
offers no delete, and PostgreSQL refuses it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from qc.models import Instrument, Product, ReferenceMaterial, ReferenceMaterialLimit, TestMethod
from qc.models.master import ResultKind
from qc.services.lots import process_fields_check
from qc.units import UnitError, check_unit
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import audit_record

OBJECT_TYPES: dict[type[models.Model], str] = {
    Product: "product",
    TestMethod: "test_method",
    Instrument: "instrument",
    ReferenceMaterial: "reference_material",
    ReferenceMaterialLimit: "reference_material_limit",
}

# (created, changed) audit actions of each kind of master-data record.
_ACTIONS: dict[type[models.Model], tuple[AuditAction, AuditAction]] = {
    Product: (AuditAction.PRODUCT_CREATED, AuditAction.PRODUCT_CHANGED),
    TestMethod: (AuditAction.TEST_METHOD_CREATED, AuditAction.TEST_METHOD_CHANGED),
    Instrument: (AuditAction.INSTRUMENT_CREATED, AuditAction.INSTRUMENT_CHANGED),
    ReferenceMaterial: (
        AuditAction.REFERENCE_MATERIAL_CREATED,
        AuditAction.REFERENCE_MATERIAL_CHANGED,
    ),
    ReferenceMaterialLimit: (
        AuditAction.REFERENCE_MATERIAL_LIMIT_CREATED,
        AuditAction.REFERENCE_MATERIAL_LIMIT_CHANGED,
    ),
}

# Records whose code is unique (the others are named by their id in the audit trail).
_CODED = (Product, TestMethod, Instrument)


def _value(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    if isinstance(field, models.ForeignKey):
        related = getattr(instance, name, None)
        return None if related is None else str(getattr(related, "code", related))
    return field.value_from_object(instance)  # type: ignore[union-attr]


def master_data_problems(*, instance: models.Model) -> dict[str, str]:
    """Domain checks a form cannot express: a parseable canonical unit, process fields."""
    problems: dict[str, str] = {}
    if isinstance(instance, TestMethod):
        if instance.result_kind == ResultKind.NUMERIC:
            try:
                check_unit(instance.canonical_unit)
            except UnitError as exc:
                problems["canonical_unit"] = exc.reason
            if not instance.canonical_unit:
                problems["canonical_unit"] = "a numeric test needs a canonical unit"
        elif instance.canonical_unit:
            problems["canonical_unit"] = "only numeric tests have a unit"
        if instance.result_kind == ResultKind.QUALITATIVE and not isinstance(
            instance.allowed_values, list
        ):
            problems["allowed_values"] = "must be a list of texts"
    if isinstance(instance, Product):
        found = process_fields_check(definition=instance.process_fields)
        if found:
            problems["process_fields"] = "; ".join(found)
    if isinstance(instance, ReferenceMaterialLimit) and (
        instance.acceptance_low is not None
        and instance.acceptance_high is not None
        and instance.acceptance_low > instance.acceptance_high
    ):
        problems["acceptance_high"] = "must not be below acceptance_low"
    return problems


def master_data_save(
    *, instance: models.Model, by: User, reason: str, fields: Iterable[str]
) -> models.Model:
    """Save an added or changed master-data record and audit what changed, with why."""
    object_type = OBJECT_TYPES.get(type(instance), type(instance)._meta.model_name or "record")
    names = list(fields)
    with transaction.atomic():
        created = instance._state.adding
        old: dict[str, Any] | None = None
        if not created:
            previous = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
            old = {name: _value(previous, name) for name in names}
        instance.save()
        new = {name: _value(instance, name) for name in names}
        if old is not None:
            changed = [name for name in names if old[name] != new[name]]
            if not changed:
                return instance
            old = {name: old[name] for name in changed}
            new = {name: new[name] for name in changed}
        audit_record(
            actor=by.audit_actor(),
            action=_ACTIONS[type(instance)][0 if created else 1],
            object_type=object_type,
            object_id=instance.code if isinstance(instance, _CODED) else instance.pk,
            old_values=old,
            new_values=new,
            reason=reason.strip(),
        )
    return instance
