"""Lots: creation with their batch-record facts, the spec binding, and status moves.

A lot is bound at creation to its product's effective specification version; only
QA rebinds it, with a reason (SENAITE's lesson: later spec edits never change the
verdict of a lot tested against an earlier version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from qc import hooks, tasks
from qc.models import Lot, Product, Specification, SpecificationStatus
from qc.services.common import Principal, actor_of, posted_by
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput, Problem, Refused, lot_not_found

# Lot numbers travel in URLs (/api/v1/lots/<lot_number>/): no slashes, no spaces.
LOT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")

# The kinds of process fact a product may declare in ``Product.process_fields``:
# {"isolation_method": {"type": "choice", "choices": ["SEC", "TFF"], "required": true}}
PROCESS_FIELD_TYPES = ("text", "choice", "number", "integer", "boolean", "date")
_DEFINITION_KEYS = {"type", "choices", "required", "label", "help"}


# ---------------------------------------------------------------------------
# Process facts
# ---------------------------------------------------------------------------


def process_fields_check(*, definition: Any) -> list[str]:
    """Problems with a product's ``process_fields`` definition (empty list: fine)."""
    if not isinstance(definition, Mapping):
        return ["process fields must be an object mapping field names to definitions"]
    problems = []
    for name, spec in definition.items():
        if not isinstance(spec, Mapping):
            problems.append(f"'{name}': the definition must be an object")
            continue
        unknown = sorted(set(spec) - _DEFINITION_KEYS)
        if unknown:
            problems.append(f"'{name}': unknown keys {', '.join(unknown)}")
        kind = spec.get("type")
        if kind not in PROCESS_FIELD_TYPES:
            problems.append(f"'{name}': type must be one of {', '.join(PROCESS_FIELD_TYPES)}")
        choices = spec.get("choices")
        if kind == "choice" and (
            not isinstance(choices, list)
            or not choices
            or not all(isinstance(c, str) and c.strip() for c in choices)
        ):
            problems.append(f"'{name}': a choice field needs a non-empty list of text choices")
        if "required" in spec and not isinstance(spec["required"], bool):
            problems.append(f"'{name}': required must be true or false")
    return problems


def _fact_problem(spec: Mapping[str, Any], value: Any) -> tuple[str, str] | None:
    """(code, reason) when ``value`` does not fit the declared fact, else None."""
    kind = spec.get("type")
    if kind == "text":
        if not isinstance(value, str):
            return "wrong_type", "must be non-empty text"
        if not value.strip():
            return "blank", "must be non-empty text"
    elif kind == "choice":
        choices = spec.get("choices") or []
        if value not in choices:
            return "not_a_choice", f"must be one of: {', '.join(map(str, choices))}"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return "value_not_a_number", "must be a number"
        try:
            if not Decimal(str(value)).is_finite():
                return "value_not_finite", "must be a finite number"
        except InvalidOperation:
            return "value_not_a_number", "must be a number"
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "not_a_whole_number", "must be a whole number"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return "not_a_boolean", "must be true or false"
    elif kind == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return "not_a_date", "must be a date (YYYY-MM-DD)"
    return None


def process_validate(*, product: Product, process: Any) -> list[Problem]:
    """Check a lot's process facts against the product's declared fields."""
    if process is None:
        process = {}
    if not isinstance(process, Mapping):
        return [Problem("not_an_object", "must be an object of process facts", "process")]
    declared: Mapping[str, Any] = product.process_fields or {}
    errors = []
    for name, value in process.items():
        spec = declared.get(name)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            errors.append(
                Problem(
                    "unknown_process_field",
                    f"unknown process field for product {product.code} (declared: {known})",
                    f"process.{name}",
                )
            )
            continue
        problem = None if value is None else _fact_problem(spec, value)
        if value is None and spec.get("required"):
            problem = ("required", "is required")
        if problem:
            errors.append(Problem(problem[0], problem[1], f"process.{name}"))
    for name, spec in declared.items():
        if spec.get("required") and name not in process:
            errors.append(Problem("required", "is required", f"process.{name}"))
    return errors


# ---------------------------------------------------------------------------
# Lots
# ---------------------------------------------------------------------------


def lot_create(
    *,
    lot_number: str,
    product_code: str,
    manufactured_on: date,
    process: Mapping[str, Any] | None,
    by: Principal,
    expires_on: date | None = None,
    site: str = "",
) -> Lot:
    """Register a lot, bound to its product's effective specification; audited."""
    errors: list[Problem] = []
    if not LOT_NUMBER.match(lot_number or ""):
        errors.append(
            Problem(
                "lot_number_invalid",
                "must be 1-64 characters: letters, digits and . _ : + - (no spaces or slashes)",
                "lot_number",
            )
        )
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        errors.append(Problem("unknown_product", f"unknown product {product_code!r}", "product"))
    today = timezone.now().date()
    if manufactured_on > today + timedelta(days=1):
        errors.append(Problem("in_the_future", "is in the future", "manufactured_on"))
    if product is not None and expires_on is None and product.shelf_life_days:
        expires_on = manufactured_on + timedelta(days=product.shelf_life_days)
    if expires_on is not None and expires_on < manufactured_on:
        errors.append(
            Problem("expires_before_manufacture", "is before manufactured_on", "expires_on")
        )
    if product is not None:
        errors.extend(process_validate(product=product, process=process))
    if errors:
        raise InvalidInput(errors)
    assert product is not None
    specification = Specification.objects.filter(
        product=product, status=SpecificationStatus.EFFECTIVE
    ).first()
    if specification is None:
        raise Refused(
            f"product {product.code} has no effective specification; "
            "QA must approve one before lots can be registered",
            code="no_effective_specification",
        )
    client, user = posted_by(principal=by)
    try:
        with transaction.atomic():
            lot = Lot.objects.create(
                lot_number=lot_number,
                product=product,
                specification=specification,
                manufactured_on=manufactured_on,
                expires_on=expires_on,
                site=site,
                process=dict(process or {}),
                created_by_client=client,
                created_by_user=user,
            )
            audit_record(
                actor=actor_of(principal=by),
                action=AuditAction.LOT_CREATED,
                object_type="lot",
                object_id=lot.lot_number,
                new_values={
                    "lot_number": lot.lot_number,
                    "product": product.code,
                    "specification": f"{product.code} v{specification.version}",
                    "manufactured_on": manufactured_on,
                    "expires_on": expires_on,
                    "site": site,
                    "process": lot.process,
                    "status": lot.status,
                },
            )
    except IntegrityError as exc:
        if Lot.objects.filter(lot_number=lot_number).exists():
            raise Refused(f"lot {lot_number} already exists", code="lot_exists") from exc
        raise
    return lot


def lot_get(*, lot_number: str) -> Lot:
    lot = Lot.objects.filter(lot_number=lot_number).first()
    if lot is None:
        raise lot_not_found(lot_number)
    return lot


def lot_data_changed(*, lot_id: int) -> tuple[int, str]:
    """Bump the lot's ``data_version`` (in the caller's transaction); return (version, status).

    Every change to a lot's QC inputs calls this, so "not yet evaluated" is the
    query ``lot.data_version > newest evaluation.data_version``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE qc_lot SET data_version = data_version + 1 WHERE id = %s "
            "RETURNING data_version, status",
            [lot_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise lot_not_found(f"#{lot_id}")
    return int(row[0]), str(row[1])


def lot_evaluation_enqueue_on_commit(*, lot_id: int) -> None:
    """Ask for an evaluation of the lot once the transaction commits.

    The reconciler finds lots whose data are newer than their evaluation anyway,
    so the enqueue is an optimisation, never the only record of pending work.
    """
    # tasks.enqueue_lot_evaluation is looked up when the commit happens (tests swap it).
    transaction.on_commit(lambda: tasks.enqueue_lot_evaluation(lot_id))


@transaction.atomic
def lot_rebind_specification(
    *, lot_number: str, specification_id: int, by: User, reason: str
) -> Lot:
    """QA binds a lot to another effective version of its product's spec, with a reason."""
    hooks.person_policy.require_person(hooks.SPECIFICATION_REBIND, by)
    if not reason or not reason.strip():
        raise InvalidInput.single(
            "reason", "a reason is required to rebind a lot", code="reason_required"
        )
    lot = Lot.objects.select_for_update().filter(lot_number=lot_number).first()
    if lot is None:
        raise lot_not_found(lot_number)
    specification = Specification.objects.filter(pk=specification_id).first()
    if specification is None or specification.product_id != lot.product_id:
        raise InvalidInput.single(
            "specification",
            f"no specification #{specification_id} of this lot's product",
            code="unknown_specification",
        )
    if specification.status != SpecificationStatus.EFFECTIVE:
        raise Refused(
            f"specification v{specification.version} is {specification.status}; "
            "a lot is bound only to the effective version",
            code="specification_not_effective",
        )
    if specification.pk == lot.specification_id:
        raise Refused(
            f"lot {lot_number} is already bound to v{specification.version}",
            code="already_bound",
        )
    old = Specification.objects.get(pk=lot.specification_id)
    lot.specification = specification
    lot.save(update_fields=["specification"])
    lot.data_version, _ = lot_data_changed(lot_id=lot.pk)
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.LOT_SPECIFICATION_REBOUND,
        object_type="lot",
        object_id=lot.lot_number,
        old_values={"specification_id": old.pk, "version": old.version},
        new_values={"specification_id": specification.pk, "version": specification.version},
        reason=reason.strip(),
    )
    lot_evaluation_enqueue_on_commit(lot_id=lot.pk)
    return lot
