"""Reads of the release workflow, for the API and the QA web UI (HackSoft selectors)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from qc.models import Lot
from qc.selectors import lot_current_evaluation
from releases.models import (
    Certificate,
    Disposition,
    Investigation,
    InvestigationPhase,
    Notification,
)
from releases.services.errors import InvalidRequest, NotFound
from releases.services.guards import Action, Readiness, lot_readiness
from services.accounts.models import User
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.services import SignatureCheck, signature_verify


def lot_get(*, lot_number: str) -> Lot:
    lot = (
        Lot.objects.select_related("product", "specification").filter(lot_number=lot_number).first()
    )
    if lot is None:
        raise NotFound(f"lot {lot_number} does not exist")
    return lot


def lot_dispositions(*, lot: Lot) -> QuerySet[Disposition]:
    return (
        Disposition.objects.filter(lot=lot)
        .select_related("signature", "evaluation", "specification")
        .order_by("decided_at", "pk")
    )


def lot_release_checklist(
    *,
    lot_number: str,
    action: str = Action.RELEASE,
    signer: User | None = None,
    pending_tests: tuple[str, ...] = (),
) -> Readiness:
    """The release checklist as the UI shows it: every check, passed or with its reasons."""
    try:
        wanted = Action(action)
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        raise InvalidRequest("action", f"must be one of {choices}") from None
    return lot_readiness(
        lot=lot_get(lot_number=lot_number),
        action=wanted,
        signer=signer,
        pending_tests=pending_tests,
    )


@dataclass(frozen=True, slots=True)
class DispositionCheck:
    disposition: Disposition
    signature: SignatureCheck | None
    evaluation_current: bool


def disposition_verify(disposition: Disposition) -> DispositionCheck:
    """Does the signature still match the disposition (11.70), and is its evaluation current?"""
    current = lot_current_evaluation(lot=disposition.lot)
    return DispositionCheck(
        disposition=disposition,
        signature=signature_verify(disposition.signature) if disposition.signature else None,
        evaluation_current=current is not None
        and disposition.evaluation_id == current.evaluation.pk,
    )


def investigations_list(
    *, lot: str = "", kind: str = "", phase: str = "", open_only: bool = False
) -> QuerySet[Investigation]:
    investigations = Investigation.objects.select_related("lot", "result", "result__test")
    if lot:
        investigations = investigations.filter(lot__lot_number=lot)
    if kind:
        investigations = investigations.filter(kind=kind)
    if phase:
        investigations = investigations.filter(phase=phase)
    if open_only:
        investigations = investigations.exclude(phase=InvestigationPhase.CLOSED)
    return investigations.order_by("-opened_at", "-pk")


def investigation_get(*, number: str) -> Investigation:
    investigation = (
        Investigation.objects.select_related("lot", "result", "result__test")
        .prefetch_related("entries")
        .filter(number=number)
        .first()
    )
    if investigation is None:
        raise NotFound(f"investigation {number} does not exist")
    return investigation


def certificates_of(*, lot: Lot) -> QuerySet[Certificate]:
    return Certificate.objects.filter(lot=lot).order_by("version")


def certificate_get(*, lot: Lot, version: int | None = None) -> Certificate:
    """The latest certificate of the lot, or the given version."""
    certificates = certificates_of(lot=lot)
    certificate = (
        certificates.filter(version=version).first()
        if version is not None
        else certificates.order_by("-version").first()
    )
    if certificate is None:
        which = f"version {version}" if version is not None else "certificate"
        raise NotFound(f"lot {lot.lot_number} has no {which} yet")
    return certificate


def notifications_for(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user).select_related(
        "lot", "investigation"
    )
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-pk")


def lot_audit_events(*, lot: Lot) -> QuerySet[AuditEvent]:
    """The lot's audit trail: the lot itself, its results and its investigations."""
    numbers = list(lot.investigations.values_list("number", flat=True))
    return AuditEvent.objects.filter(
        Q(object_type="lot", object_id=lot.lot_number)
        | Q(object_type="result", new_values__lot=lot.lot_number)
        | Q(object_type="investigation", object_id__in=numbers)
    ).order_by("sequence")


def lot_signatures(*, lot: Lot) -> list[Signature]:
    """Every signature on the lot's dispositions and reviews, oldest first (11.50 manifest)."""
    ids: set[int] = set()
    ids.update(
        pk
        for pk in Disposition.objects.filter(lot=lot).values_list("signature_id", flat=True)
        if pk
    )
    ids.update(lot.audit_trail_reviews.values_list("signature_id", flat=True))
    ids.update(lot.result_reviews.values_list("signature_id", flat=True))
    ids.update(lot.recall_decisions.values_list("signature_id", flat=True))
    return list(Signature.objects.filter(pk__in=ids).order_by("signed_at", "pk"))
