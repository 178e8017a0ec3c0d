"""Specification versions: drafts, lines, QA approval with an electronic signature.

A version is a draft until a QA officer approves it with a Part 11 signature
(meaning "approved"); it then becomes effective, the previous effective version
becomes superseded, and PostgreSQL freezes its lines (trigger).  Any edit of an
effective version is a new draft that starts as a copy of its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from qc import hooks
from qc.evaluation import CRITERIA, CriterionError, validate_params
from qc.models import Product, Specification, SpecificationLine, SpecificationStatus, TestMethod
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit import records
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput, NotFound, Refused
from services.esign.services import signature_record, signer_authenticate


def criterion_types() -> list[str]:
    """The criterion types the evaluation engine knows (it checks their parameters too)."""
    return sorted(CRITERIA)


def _require_person(user: Any, key: str) -> User:
    """The person, if the release policy lets them take ``key`` (qc.hooks.person_policy)."""
    return cast(User, hooks.person_policy.require_person(key, user))


def _reason(reason: str | None, field: str = "reason") -> str:
    if not reason or not reason.strip():
        raise InvalidInput.single(
            field, "a reason is required (EU GMP Annex 11 §9)", code="reason_required"
        )
    return reason.strip()


def _next_version(product: Product) -> int:
    # The product row lock serialises version numbering per product.
    Product.objects.select_for_update().filter(pk=product.pk).first()
    current = Specification.objects.filter(product=product).aggregate(v=Max("version"))["v"]
    return (current or 0) + 1


def _draft_audit(
    spec: Specification,
    user: User,
    reason: str,
    action: AuditAction,
    lines: Sequence[SpecificationLine] = (),
) -> None:
    audit_record(
        actor=user.audit_actor(),
        action=action,
        object_type="specification",
        object_id=spec.pk,
        new_values={
            "product": spec.product.code,
            "version": spec.version,
            "status": spec.status,
            "title": spec.title,
            "based_on": spec.based_on.version if spec.based_on else None,
            "lines": spec.lines.count(),
        },
        reason=reason,
        records=lines,
    )


@transaction.atomic
def specification_create_draft(
    *, product_code: str, by: User, reason: str, title: str = ""
) -> Specification:
    """A new, empty draft version of a product's specification."""
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = _reason(reason)
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        raise NotFound(
            f"product {product_code} does not exist", code="product_not_found", field="product"
        )
    spec = Specification.objects.create(
        product=product,
        version=_next_version(product),
        title=title,
        change_reason=reason,
        created_by=by,
    )
    _draft_audit(spec, by, reason, AuditAction.SPECIFICATION_DRAFT_CREATED)
    return spec


@transaction.atomic
def specification_new_draft(
    *, specification_id: int, by: User, reason: str, title: str | None = None
) -> Specification:
    """A new draft version copying the lines of ``specification_id`` (to edit a frozen one).

    ``title``: the new version's; ``None`` keeps the source's.
    """
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = _reason(reason)
    source = Specification.objects.select_related("product").filter(pk=specification_id).first()
    if source is None:
        raise _specification_not_found(specification_id)
    spec = Specification.objects.create(
        product=source.product,
        version=_next_version(source.product),
        title=source.title if title is None else title,
        change_reason=reason,
        based_on=source,
        created_by=by,
    )
    lines = SpecificationLine.objects.bulk_create(
        [
            SpecificationLine(
                specification=spec,
                position=line.position,
                name=line.name,
                test_id=line.test_id,
                criterion_type=line.criterion_type,
                params=line.params,
                alert_params=line.alert_params,
                decimals=line.decimals,
                required=line.required,
            )
            for line in source.lines.all()
        ]
    )
    _draft_audit(spec, by, reason, AuditAction.SPECIFICATION_DRAFT_CREATED, lines)
    return spec


def _check_criterion(
    *,
    criterion_type: str,
    params: Any,
    alert_params: Any,
    decimals: int | None,
    test: TestMethod,
) -> None:
    if criterion_type not in CRITERIA:
        known = ", ".join(criterion_types()) or "none available"
        raise InvalidInput.single(
            "criterion_type",
            f"unknown criterion type {criterion_type!r} (known: {known})",
            code="unknown_criterion_type",
        )
    if not isinstance(params, Mapping):
        raise InvalidInput.single("params", "must be an object", code="not_an_object")
    if alert_params is not None and not isinstance(alert_params, Mapping):
        raise InvalidInput.single("alert_params", "must be an object or null", code="not_an_object")
    try:
        validate_params(
            criterion_type,
            params,
            alert_params=alert_params,
            decimals=decimals,
            unit=test.canonical_unit or None,
        )
    except (CriterionError, ValueError, TypeError) as exc:
        field = "alert_params" if "alert" in str(exc) else "params"
        raise InvalidInput.single(
            field, getattr(exc, "reason", str(exc)), code="criterion_params_invalid"
        ) from exc


@transaction.atomic
def specification_line_add(
    *,
    specification_id: int,
    by: User,
    test_code: str,
    criterion_type: str,
    params: Mapping[str, Any],
    name: str = "",
    alert_params: Mapping[str, Any] | None = None,
    decimals: int | None = None,
    required: bool = True,
    position: int | None = None,
    reason: str = "",
) -> SpecificationLine:
    """Add a line to a draft; its criterion parameters are checked by the engine now.

    ``reason`` is optional here (the draft carries its own); the web UI asks for one.
    """
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = reason.strip()
    spec = _draft_for_update(specification_id)
    test = TestMethod.objects.filter(code=test_code).first()
    if test is None:
        raise InvalidInput.single("test", f"unknown test method {test_code!r}", code="unknown_test")
    _check_line(
        criterion_type=criterion_type,
        params=params,
        alert_params=alert_params,
        decimals=decimals,
        test=test,
    )
    taken = set(spec.lines.values_list("position", flat=True))
    if position is None:
        position = max(taken, default=0) + 1
    elif position in taken:
        raise InvalidInput.single(
            "position", f"position {position} is taken in this version", code="position_taken"
        )
    line = SpecificationLine.objects.create(
        specification=spec,
        position=position,
        name=name or test.name,
        test=test,
        criterion_type=criterion_type,
        params=dict(params),
        alert_params=dict(alert_params) if alert_params is not None else None,
        decimals=decimals,
        required=required,
    )
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.SPECIFICATION_LINE_ADDED,
        object_type="specification",
        object_id=spec.pk,
        new_values=line.signature_content(),
        reason=reason,
        records=[line],
    )
    return line


def _draft_for_update(specification_id: int) -> Specification:
    """The version, locked, if it is still a draft: approved lines are frozen (the
    trigger refuses it too; this says so with a code first)."""
    spec = Specification.objects.select_for_update().filter(pk=specification_id).first()
    if spec is None:
        raise _specification_not_found(specification_id)
    if spec.status != SpecificationStatus.DRAFT:
        raise Refused(
            f"specification v{spec.version} is {spec.status}: its lines are frozen; "
            "make a new draft version to change it",
            code="specification_not_draft",
        )
    return spec


def _check_line(
    *,
    criterion_type: str,
    params: Any,
    alert_params: Any,
    decimals: int | None,
    test: TestMethod,
) -> None:
    if decimals is not None and not -30 <= decimals <= 15:
        raise InvalidInput.single("decimals", "must be between -30 and 15", code="out_of_range")
    _check_criterion(
        criterion_type=criterion_type,
        params=params,
        alert_params=alert_params,
        decimals=decimals,
        test=test,
    )


def _line_of_draft(specification_id: int, line_id: int) -> SpecificationLine:
    spec = _draft_for_update(specification_id)
    line = spec.lines.select_related("test").filter(pk=line_id).first()
    if line is None:
        raise NotFound(
            f"specification v{spec.version} has no line {line_id}",
            code="specification_line_not_found",
            field="line",
        )
    return line


@transaction.atomic
def specification_line_change(
    *,
    specification_id: int,
    line_id: int,
    by: User,
    reason: str,
    criterion_type: str,
    params: Mapping[str, Any],
    name: str = "",
    alert_params: Mapping[str, Any] | None = None,
    decimals: int | None = None,
    required: bool = True,
) -> SpecificationLine:
    """Change a draft's line in place (its test and position stay), checked by the engine.

    Only a draft's lines change: nothing has been judged against them yet, and the
    audit event keeps the old and the new line (EU GMP Annex 11 §9).
    """
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = _reason(reason)
    line = _line_of_draft(specification_id, line_id)
    _check_line(
        criterion_type=criterion_type,
        params=params,
        alert_params=alert_params,
        decimals=decimals,
        test=line.test,
    )
    old = line.signature_content()
    line.name = name or line.test.name
    line.criterion_type = criterion_type
    line.params = dict(params)
    line.alert_params = dict(alert_params) if alert_params is not None else None
    line.decimals = decimals
    line.required = required
    line.save(
        update_fields=["name", "criterion_type", "params", "alert_params", "decimals", "required"]
    )
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.SPECIFICATION_LINE_CHANGED,
        object_type="specification",
        object_id=specification_id,
        old_values=old,
        new_values=line.signature_content(),
        reason=reason,
        # A draft's line is revisable: this event binds its new content (records.py).
        records=[line],
    )
    return line


@transaction.atomic
def specification_line_remove(
    *, specification_id: int, line_id: int, by: User, reason: str
) -> None:
    """Take a line out of a draft; the audit event keeps what it said."""
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = _reason(reason)
    line = _line_of_draft(specification_id, line_id)
    old = line.signature_content()
    removal = records.removal(line)
    # A draft's line was never in force (nothing was judged against it), so it may go;
    # the trigger refuses this for any approved version.
    line.delete()
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.SPECIFICATION_LINE_REMOVED,
        object_type="specification",
        object_id=specification_id,
        old_values=old,
        reason=reason,
        # The chain records the removal, so verification expects the row gone.
        removed=[removal],
    )


def _approval_signing(spec: Specification) -> tuple[str, str]:
    words = f"{spec.product.code} specification v{spec.version} ({spec.lines.count()} lines)"
    return hooks.person_policy.signing(hooks.SPECIFICATION_APPROVE, specification_words=words)


def specification_approval_statement(*, specification: Specification) -> str:
    """What the approver confirms by signing (21 CFR 11.50): shown before, stored with it."""
    return _approval_signing(specification)[1]


def specification_approve(
    *,
    specification_id: int,
    auth: AuthContext,
    password: str,
    reason: str,
) -> Specification:
    """QA approves a draft with a signature; it becomes effective, the old one superseded.

    ``auth`` is who signs, from where (built at the edge: ``AuthContext.from_request``).
    The password is checked first, outside the transaction, so a failed attempt is
    recorded and counts toward the lockout even though nothing is approved.
    """
    _require_person(auth.principal, hooks.SPECIFICATION_APPROVE)
    reason = _reason(reason)
    signer = signer_authenticate(auth=auth, password=password)
    with transaction.atomic():
        spec = (
            Specification.objects.select_for_update()
            .select_related("product")
            .filter(pk=specification_id)
            .first()
        )
        if spec is None:
            raise _specification_not_found(specification_id)
        if spec.status != SpecificationStatus.DRAFT:
            raise Refused(
                f"specification v{spec.version} is {spec.status}, not a draft",
                code="specification_not_draft",
            )
        if not spec.lines.exists():
            raise Refused(
                "a specification without lines cannot be approved", code="specification_empty"
            )
        previous = (
            Specification.objects.select_for_update()
            .filter(product=spec.product, status=SpecificationStatus.EFFECTIVE)
            .first()
        )
        if previous is not None:
            previous.status = SpecificationStatus.SUPERSEDED
            previous.save(update_fields=["status"])
            audit_record(
                actor=signer.audit_actor(),
                action=AuditAction.SPECIFICATION_SUPERSEDED,
                object_type="specification",
                object_id=previous.pk,
                old_values={"status": SpecificationStatus.EFFECTIVE},
                new_values={"status": SpecificationStatus.SUPERSEDED, "by_version": spec.version},
                reason=reason,
            )
        meaning, statement = _approval_signing(spec)
        signature = signature_record(
            signer=signer,
            meaning=meaning,
            reason=reason,
            record=spec,
            record_label=f"{spec.product.code} specification v{spec.version}",
            statement=statement,
        )
        spec.status = SpecificationStatus.EFFECTIVE
        spec.approved_at = timezone.now()
        spec.approved_by = signer
        spec.approval_signature = signature
        spec.save(update_fields=["status", "approved_at", "approved_by", "approval_signature"])
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.SPECIFICATION_APPROVED,
            object_type="specification",
            object_id=spec.pk,
            old_values={"status": SpecificationStatus.DRAFT},
            new_values={
                "status": SpecificationStatus.EFFECTIVE,
                "product": spec.product.code,
                "version": spec.version,
                "signature_id": signature.pk,
            },
            reason=reason,
        )
    return spec


@transaction.atomic
def specification_withdraw(*, specification_id: int, by: User, reason: str) -> Specification:
    """Abandon a draft (it stays on record as withdrawn)."""
    _require_person(by, hooks.SPECIFICATION_AUTHOR)
    reason = _reason(reason)
    spec = Specification.objects.select_for_update().filter(pk=specification_id).first()
    if spec is None:
        raise _specification_not_found(specification_id)
    if spec.status != SpecificationStatus.DRAFT:
        raise Refused(
            f"only a draft can be withdrawn; v{spec.version} is {spec.status}",
            code="specification_not_draft",
        )
    spec.status = SpecificationStatus.WITHDRAWN
    spec.save(update_fields=["status"])
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.SPECIFICATION_WITHDRAWN,
        object_type="specification",
        object_id=spec.pk,
        old_values={"status": SpecificationStatus.DRAFT},
        new_values={"status": SpecificationStatus.WITHDRAWN},
        reason=reason,
    )
    return spec


def _specification_not_found(specification_id: int) -> NotFound:
    return NotFound(
        f"specification {specification_id} does not exist",
        code="specification_not_found",
        field="specification",
    )
