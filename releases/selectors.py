"""Reads of the release workflow, for the API and the QA web UI (HackSoft selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Max, Model, Q, QuerySet
from django.db.models.functions import Cast

from qc.models import AssayRun, Lot, Result
from qc.selectors import lot_current_evaluation
from releases.models import (
    AuditTrailReview,
    Certificate,
    Disposition,
    EntryType,
    Investigation,
    InvestigationAttachment,
    InvestigationEntry,
    InvestigationPhase,
    Notification,
    RecallDecision,
    ResultInvalidation,
    ResultReview,
)
from releases.policy import (
    ACTIONS,
    CHECKLIST_ACTION,
    ActionKey,
    Checklist,
    Facts,
    Subject,
    applies_to_investigation,
    applies_to_lot,
    may_take,
)
from releases.services.guards import Readiness, lot_readiness
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from services.errors import InvalidInput, NotFound, lot_not_found
from services.esign.models import Signature
from services.esign.services import SignatureCheck, signature_verify


def lot_get(*, lot_number: str) -> Lot:
    lot = (
        Lot.objects.select_related("product", "specification").filter(lot_number=lot_number).first()
    )
    if lot is None:
        raise lot_not_found(lot_number)
    return lot


def lot_dispositions(*, lot: Lot) -> QuerySet[Disposition]:
    return (
        Disposition.objects.filter(lot=lot)
        .select_related("signature", "evaluation", "specification")
        .order_by("decided_at", "pk")
    )


@dataclass(frozen=True, slots=True)
class ActionOffer:
    """One action of the policy on a lot, as the caller may see it before signing."""

    key: str
    title: str
    meaning: str
    statement: str
    applies: bool  # the lot is in a state where the action can be taken
    allowed: bool  # the caller holds a role that may take it


@dataclass(frozen=True, slots=True)
class ReleaseChecklist:
    readiness: Readiness
    meaning: str
    statement: str  # what the signer of the checklist's decision confirms (11.50)
    actions: tuple[ActionOffer, ...]

    @property
    def lot(self) -> Lot:
        return self.readiness.lot


def lot_action_offers(*, lot: Lot, principal: Any, facts: Facts) -> tuple[ActionOffer, ...]:
    """Every lot action of the policy table with its statement, for ``principal``."""
    return tuple(
        ActionOffer(
            key=key.value,
            title=action.title,
            meaning=action.meaning,
            statement=action.statement(facts),
            applies=applies_to_lot(key, lot),
            allowed=may_take(key, principal, lot),
        )
        for key, action in ACTIONS.items()
        if action.subject == Subject.LOT
    )


def lot_release_checklist(
    *,
    lot_number: str,
    action: str = Checklist.RELEASE,
    signer: User | None = None,
    pending_tests: tuple[str, ...] = (),
) -> ReleaseChecklist:
    """The release checklist as the UI shows it: every check, passed or with its reasons,
    and the statement each action's signer confirms (the same words in the API and UI)."""
    try:
        wanted = Checklist(action)
    except ValueError:
        choices = ", ".join(c.value for c in Checklist)
        raise InvalidInput.single(
            "action", f"must be one of {choices}", code="invalid_choice"
        ) from None
    lot = lot_get(lot_number=lot_number)
    readiness = lot_readiness(lot=lot, action=wanted, signer=signer, pending_tests=pending_tests)
    facts = statement_facts(lot=lot, pending_tests=pending_tests)
    decision = ACTIONS[CHECKLIST_ACTION[wanted]]
    return ReleaseChecklist(
        readiness=readiness,
        meaning=decision.meaning,
        statement=decision.statement(facts),
        actions=lot_action_offers(lot=lot, principal=signer, facts=facts),
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
        raise NotFound(
            f"investigation {number} does not exist",
            code="investigation_not_found",
            field="number",
        )
    return investigation


def investigation_attachments(*, investigation: Investigation) -> QuerySet[InvestigationAttachment]:
    """The raw-data files of the investigation, without their bytes (listed, not served)."""
    return investigation.attachments.defer("content").order_by("uploaded_at", "pk")


def attachment_get(*, number: str, pk: int) -> InvestigationAttachment:
    attachment = (
        InvestigationAttachment.objects.select_related("investigation")
        .filter(investigation__number=number, pk=pk)
        .first()
    )
    if attachment is None:
        raise NotFound(
            f"investigation {number} has no attachment {pk}",
            code="attachment_not_found",
            field="pk",
        )
    return attachment


def pending_invalidation_proposal(*, investigation: Investigation) -> InvestigationEntry | None:
    """The Phase I proposal to invalidate the result, while no second person has signed it."""
    entries = sorted(investigation.entries.all(), key=lambda entry: entry.pk)
    if any(entry.entry_type == EntryType.RESULT_INVALIDATED for entry in entries):
        return None
    proposals = [e for e in entries if e.entry_type == EntryType.INVALIDATION_PROPOSED]
    return proposals[-1] if proposals else None


def investigation_offers(
    key: ActionKey, investigation: Investigation, proposal: InvestigationEntry | None
) -> bool:
    """Whether the investigation's next step includes the action now: the policy's phases
    and conditions, and the pending proposal that separates a conclusion that found an
    assignable cause from the second person's signature (``proposal``)."""
    if not applies_to_investigation(key, investigation):
        return False
    if key in (ActionKey.PHASE_ONE, ActionKey.CONCLUDE):
        return proposal is None
    if key == ActionKey.INVALIDATE_RESULT:
        return proposal is not None
    if key == ActionKey.ALLOW_RETEST:
        return investigation.retest_allowed_at is None
    return True


def lot_last_event(*, lot: Lot) -> int | None:
    """The sequence of the newest event of the lot's audit trail."""
    return lot_audit_trail(lot=lot).aggregate(last=Max("sequence"))["last"]


def statement_facts(
    *,
    lot: Lot,
    investigation: Investigation | None = None,
    up_to_sequence: int | None = None,
    pending_tests: tuple[str, ...] = (),
    conclusion: str = "",
    reject_lot: bool = False,
) -> Facts:
    """What the policy's statements quote about this lot (and investigation), read now."""
    proposal = pending_invalidation_proposal(investigation=investigation) if investigation else None
    trail = lot_audit_trail(lot=lot)
    last = up_to_sequence if up_to_sequence is not None else lot_last_event(lot=lot)
    return Facts(
        lot=lot,
        investigation=investigation,
        results=Result.objects.filter(lot=lot).count(),
        up_to_sequence=last,
        events=trail.filter(sequence__lte=last).count() if last else 0,
        proposal_cause=str((proposal.data or {}).get("cause", "")) if proposal else "",
        proposed_by=proposal.recorded_by if proposal else "",
        pending_tests=pending_tests,
        conclusion=conclusion,
        reject_lot=reject_lot,
    )


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
        raise NotFound(f"lot {lot.lot_number} has no {which} yet", code="certificate_not_found")
    return certificate


def notifications_for(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user).select_related(
        "lot", "investigation"
    )
    if unread_only:  # unread and still open: resolved work no longer asks for attention
        notifications = notifications.filter(read_at__isnull=True, resolved_at__isnull=True)
    return notifications.order_by("-created_at", "-pk")


def _ids(queryset: QuerySet[Any], field: str = "pk") -> QuerySet[Any]:
    """``field`` of ``queryset`` as text, for a subquery against ``AuditEvent.object_id``."""
    return queryset.annotate(audit_id=Cast(field, CharField())).values("audit_id")


def lot_audit_trail(*, lot: Lot) -> QuerySet[AuditEvent]:
    """Every audit event that touches the lot, in sequence (Annex 11 §9, PIC/S PI 041 §9).

    The lot itself (status, evaluations, reviews, decisions, certificates), its
    results (recorded, invalidated), the assay runs those results came from with
    their reference-material controls (``assay_run`` events carry the controls),
    its investigations and their entries, every signature applied to one of the
    lot's records (a signature's event names the signed model and its pk), every
    failed attempt to sign for it, and the notifications sent about it.
    The ids are collected by subqueries, so the whole trail is one query.
    """
    results = Result.objects.filter(lot=lot)
    investigations = Investigation.objects.filter(lot=lot)
    signed: list[tuple[type[Model], QuerySet[Any]]] = [
        (Disposition, Disposition.objects.filter(lot=lot)),
        (AuditTrailReview, AuditTrailReview.objects.filter(lot=lot)),
        (ResultReview, ResultReview.objects.filter(lot=lot)),
        (RecallDecision, RecallDecision.objects.filter(lot=lot)),
        (InvestigationEntry, InvestigationEntry.objects.filter(investigation__lot=lot)),
        (ResultInvalidation, ResultInvalidation.objects.filter(result__lot=lot)),
        (Certificate, Certificate.objects.filter(lot=lot)),
    ]
    touches = (
        Q(object_type="lot", object_id=lot.lot_number)
        | Q(object_type="result", object_id__in=_ids(results))
        | Q(
            object_type="assay_run",
            object_id__in=AssayRun.objects.filter(results__lot=lot).values("external_run_id"),
        )
        | Q(object_type="investigation", object_id__in=investigations.values("number"))
        # A failed attempt to sign for the lot is the person's event, naming the lot.
        | Q(action=AuditAction.USER_SIGNATURE_FAILED, new_values__lot=lot.lot_number)
    )
    for model, records in signed:
        touches |= Q(object_type=model._meta.model_name, object_id__in=_ids(records))
    return AuditEvent.objects.filter(touches).order_by("sequence")


def lot_trail_by_number(lot_number: str) -> QuerySet[AuditEvent]:
    """:func:`lot_audit_trail` of a lot named by its number (none for an unknown lot)."""
    lot = Lot.objects.filter(lot_number=lot_number).first()
    return lot_audit_trail(lot=lot) if lot is not None else AuditEvent.objects.none()


# Review by exception (PIC/S PI 041 §9): what an audit-trail reviewer looks at first.
EXCEPTIONAL_ACTIONS = frozenset(
    {
        AuditAction.RESULT_INVALIDATED,
        AuditAction.INVESTIGATION_RESULT_INVALIDATED,
        AuditAction.INVESTIGATION_INVALIDATION_PROPOSED,
        AuditAction.LOT_SPECIFICATION_REBOUND,
        AuditAction.USER_SIGNATURE_FAILED,
        AuditAction.CERTIFICATE_CORRECTION_REQUESTED,
        AuditAction.LOT_HOLD_RETURN_STATE_CHANGED,
    }
)


def audit_exceptions(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """The events of ``events`` a reviewer reads first: changes of a value already
    recorded (old values present), invalidations, supersessions, failed signature
    attempts and rebindings to another specification."""
    return events.filter(
        Q(action__in=EXCEPTIONAL_ACTIONS)
        | Q(old_values__isnull=False)
        | Q(new_values__has_key="supersedes")
    ).exclude(old_values__isnull=False, action=AuditAction.LOT_STATUS_CHANGED)


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
