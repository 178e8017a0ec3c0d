"""The OOS investigation workflow (FDA guidance "Investigating OOS Test Results", 2006/2022).

Phase I, laboratory: the checks made are recorded (``investigation_add_entry``),
then a conclusion:

* an assignable laboratory error: the result is proposed for invalidation, and a
  second person signs the invalidation (meaning "invalidated"; 21 CFR 610.1: a
  result is disregarded only when the test is shown invalid for causes unrelated
  to the product).  The original stays visible; the lot's data version is bumped
  and it is re-evaluated; a retest is allowed, up to the method's budget fixed in
  advance, by a different analyst (the release guards count).
* no assignable cause: Phase II, a production investigation that extends to
  other lots (21 CFR 211.192; the lots checked are recorded), concluded by QA
  with a signature.  A confirmed OOS rejects the lot (21 CFR 211.165(f)).

All individual results are kept; an OOS result is never averaged with passing
retests (qc.evaluation.selection judges each valid result on its own).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from qc.models import Lot, LotStatus
from releases.lifecycle import RELEASED_STATES
from releases.models import (
    PHASED_KINDS,
    Conclusion,
    EntryType,
    Investigation,
    InvestigationEntry,
    InvestigationKind,
    InvestigationPhase,
    NotificationKind,
    ResultInvalidation,
)
from releases.services.decisions import lot_reject_locked
from releases.services.errors import InvalidRequest, Refused
from releases.services.guards import performed_by
from releases.services.investigations import entry_add, investigation_locked
from releases.services.notifications import notify_qa
from releases.services.signing import (
    authenticate,
    create_signed,
    require_person,
    require_reason,
)
from services.accounts.models import Role, User
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.esign.models import Meaning
from services.esign.services import signature_record

_LAB_SUPERVISORS = (Role.QC_REVIEWER, Role.QA_OFFICER)


def _refuse(investigation: Investigation, what: str, *problems: str) -> Refused:
    return Refused(f"Investigation {investigation.number}: {what}", list(problems))


def _require_open_phase(investigation: Investigation, phase: str, what: str) -> None:
    problems = []
    if investigation.kind not in PHASED_KINDS:
        problems.append(
            f"It is a {investigation.get_kind_display().lower()}; only OOS and post-release "
            "investigations have phases."
        )
    if investigation.phase != phase:
        problems.append(
            f"It is in {investigation.get_phase_display()}, not {InvestigationPhase(phase).label}."
        )
    if problems:
        raise _refuse(investigation, what, *problems)


def _pending_proposal(investigation: Investigation) -> InvestigationEntry | None:
    proposal = (
        investigation.entries.filter(entry_type=EntryType.INVALIDATION_PROPOSED)
        .order_by("-pk")
        .first()
    )
    if proposal is None:
        return None
    done = investigation.entries.filter(entry_type=EntryType.RESULT_INVALIDATED).exists()
    return None if done else proposal


def investigation_conclude_phase_one(
    *, number: str, by: object, assignable_cause: bool, reason: str
) -> Investigation:
    """Conclude the laboratory investigation: an assignable cause, or on to Phase II."""
    person = require_person(by, _LAB_SUPERVISORS, "conclude Phase I investigations")
    reason = require_reason(reason)
    actor = person.audit_actor()
    with transaction.atomic():
        investigation = investigation_locked(number)
        _require_open_phase(investigation, InvestigationPhase.PHASE_1, "Phase I cannot conclude")
        problems = []
        if not investigation.entries.filter(entry_type=EntryType.CHECK).exists():
            problems.append(
                "No laboratory check is recorded: Phase I records the checks made (analyst, "
                "method, instrument, calculations, standards) before concluding."
            )
        if _pending_proposal(investigation) is not None:
            problems.append("Phase I already concluded with an assignable cause.")
        result = investigation.result
        if assignable_cause and result is None:
            problems.append("No result is named by the investigation, so none can be invalidated.")
        if (
            assignable_cause
            and result is not None
            and ResultInvalidation.objects.filter(result=result).exists()
        ):
            problems.append(f"Result #{result.pk} is already invalidated.")
        if problems:
            raise _refuse(investigation, "Phase I cannot conclude", *problems)
        entry_add(
            investigation=investigation,
            entry_type=EntryType.PHASE_ONE_CONCLUDED,
            text=reason,
            by=person,
            actor=actor,
            data={"assignable_cause": assignable_cause},
        )
        if assignable_cause:
            assert result is not None
            entry_add(
                investigation=investigation,
                entry_type=EntryType.INVALIDATION_PROPOSED,
                text=reason,
                by=person,
                actor=actor,
                data={
                    "result_id": result.pk,
                    "test": result.test.code,
                    "value_as_posted": result.value_as_posted,
                    "unit_as_posted": result.unit_as_posted,
                    "cause": reason,
                    "proposed_by": person.username,
                    "proposed_by_id": person.pk,
                },
            )
        else:
            _set_phase(investigation, InvestigationPhase.PHASE_2, actor, reason)
    return investigation


def investigation_invalidate_result(
    *,
    number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> ResultInvalidation:
    """A second person signs the proposed invalidation (21 CFR 610.1; FDA OOS guidance).

    The signer is neither the proposer nor the analyst of the result.  The lot's
    data version is bumped and it is re-evaluated on commit; a retest is allowed.
    """
    person = require_person(by, _LAB_SUPERVISORS, "sign result invalidations")
    reason = require_reason(reason)
    signer = authenticate(person, password, request)
    with transaction.atomic():
        investigation = investigation_locked(number)
        lot = Lot.objects.select_for_update(of=("self",)).get(pk=investigation.lot_id)
        proposal = _pending_proposal(investigation)
        if proposal is None or not investigation.is_open:
            raise _refuse(
                investigation,
                "no result can be invalidated",
                "No invalidation is proposed: Phase I must conclude with an assignable "
                "laboratory cause first.",
            )
        result = investigation.result
        assert result is not None and proposal.data is not None
        problems = []
        if proposal.recorded_by_user_id == signer.pk:
            problems.append(
                f"{signer.printed_name} proposed this invalidation; a second person must sign "
                "it (21 CFR 610.1)."
            )
        if performed_by(result, signer):
            problems.append(
                f"{signer.printed_name} performed result #{result.pk}; the analyst cannot "
                "invalidate their own result."
            )
        if problems:
            raise _refuse(investigation, "the invalidation is refused", *problems)
        signature = signature_record(
            signer=signer,
            meaning=Meaning.INVALIDATED,
            reason=reason,
            record=proposal,
            record_label=f"{investigation.number}: invalidation of result #{result.pk}",
        )
        proposer = User.objects.get(pk=proposal.data["proposed_by_id"])
        invalidation = ResultInvalidation.objects.create(
            result=result,
            reason=str(proposal.data["cause"]),
            investigation=investigation,
            proposed_by=proposer,
            signature=signature,
            invalidated_at=timezone.now(),
        )
        Lot.objects.filter(pk=lot.pk).update(data_version=F("data_version") + 1)
        entry_add(
            investigation=investigation,
            entry_type=EntryType.RESULT_INVALIDATED,
            text=reason,
            by=signer,
            actor=signer.audit_actor(),
            data={
                "result_id": result.pk,
                "signature_id": signature.pk,
                "invalidation_id": invalidation.pk,
            },
        )
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.RESULT_INVALIDATED,
            object_type="result",
            object_id=result.pk,
            new_values={
                "lot": lot.lot_number,
                "test": result.test.code,
                "investigation": investigation.number,
                "proposed_by": proposer.username,
                "signature_id": signature.pk,
                "cause": invalidation.reason,
            },
            reason=reason,
        )
        _allow_retest(investigation, signer, f"assignable laboratory cause: {invalidation.reason}")
        _close(investigation, Conclusion.INVALIDATED, signer, reason)
        transaction.on_commit(lambda: _enqueue_evaluation(lot.pk))
    return invalidation


def _enqueue_evaluation(lot_id: int) -> None:
    from qc.tasks import enqueue_lot_evaluation

    enqueue_lot_evaluation(lot_id)


def investigation_allow_retest(*, number: str, by: object, reason: str) -> Investigation:
    """Allow a retest (Phase II: by another analyst, within the method's budget)."""
    person = require_person(by, _LAB_SUPERVISORS, "allow retests")
    reason = require_reason(reason)
    with transaction.atomic():
        investigation = investigation_locked(number)
        if investigation.kind not in PHASED_KINDS or not investigation.is_open:
            raise _refuse(
                investigation,
                "no retest can be allowed",
                "Only an open OOS or post-release investigation allows retests.",
            )
        if investigation.retest_allowed_at is not None:
            raise _refuse(investigation, "no retest can be allowed", "A retest is already allowed.")
        if investigation.phase == InvestigationPhase.PHASE_1:
            raise _refuse(
                investigation,
                "no retest can be allowed",
                "No retest before the laboratory investigation concludes (FDA OOS guidance).",
            )
        _allow_retest(investigation, person, reason)
    return investigation


def _allow_retest(investigation: Investigation, by: User, reason: str) -> None:
    result = investigation.result
    now = timezone.now()
    Investigation.objects.filter(pk=investigation.pk).update(
        retest_allowed_at=now, retest_allowed_by=by.printed_name
    )
    investigation.retest_allowed_at, investigation.retest_allowed_by = now, by.printed_name
    entry_add(
        investigation=investigation,
        entry_type=EntryType.RETEST_ALLOWED,
        text=reason,
        by=by,
        actor=by.audit_actor(),
        data={
            "budget": investigation.retest_budget,
            "excluded_analyst": result.performed_by if result is not None else "",
        },
    )


def investigation_record_phase_two(
    *, number: str, by: object, lots_checked: Sequence[str], findings: str
) -> InvestigationEntry:
    """QA records which other lots the production investigation checked (21 CFR 211.192)."""
    person = require_person(by, (Role.QA_OFFICER,), "record Phase II investigations")
    findings = require_reason(findings, "findings")
    if not isinstance(lots_checked, (list, tuple)) or not all(
        isinstance(n, str) for n in lots_checked
    ):
        raise InvalidRequest("lots_checked", "must be a list of lot numbers")
    with transaction.atomic():
        investigation = investigation_locked(number)
        _require_open_phase(
            investigation, InvestigationPhase.PHASE_2, "Phase II cannot be recorded"
        )
        wanted = sorted({n.strip() for n in lots_checked if n.strip()})
        lots = {
            lot.lot_number: lot
            for lot in Lot.objects.filter(lot_number__in=wanted).select_related("product")
        }
        unknown = [n for n in wanted if n not in lots]
        if unknown:
            raise InvalidRequest("lots_checked", f"unknown lot(s): {', '.join(unknown)}")
        if investigation.lot.lot_number in lots:
            raise InvalidRequest("lots_checked", "list the other lots, not the lot investigated")
        return entry_add(
            investigation=investigation,
            entry_type=EntryType.LOTS_CHECKED,
            text=findings,
            by=person,
            actor=person.audit_actor(),
            data={
                "lots": [
                    {"lot_number": n, "product": lots[n].product.code, "status": lots[n].status}
                    for n in wanted
                ],
                "findings": findings,
            },
        )


def investigation_conclude(
    *,
    number: str,
    by: object,
    password: str,
    conclusion: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Investigation:
    """QA closes an investigation with a signature (meaning "concluded").

    ``confirmed_oos`` ends Phase II of an OOS or post-release investigation; an OOS
    lot not yet on the market is rejected in the same transaction with a second
    signature (meaning "rejected"; 21 CFR 211.165(f)); a lot already distributed
    awaits QA's recall decision.  ``assessed`` closes a trend notice or a deviation.
    """
    person = require_person(by, (Role.QA_OFFICER,), "conclude investigations")
    reason = require_reason(reason)
    if conclusion not in {Conclusion.CONFIRMED_OOS, Conclusion.ASSESSED}:
        raise InvalidRequest("conclusion", "must be 'confirmed_oos' or 'assessed'")
    signer = authenticate(person, password, request)
    with transaction.atomic():
        investigation = investigation_locked(number)
        lot = (
            Lot.objects.select_for_update(of=("self",))
            .select_related("product", "specification")
            .get(pk=investigation.lot_id)
        )
        what = "it cannot be concluded"
        if not investigation.is_open:
            raise _refuse(investigation, what, "It is already closed.")
        if conclusion == Conclusion.CONFIRMED_OOS:
            _require_open_phase(investigation, InvestigationPhase.PHASE_2, what)
            if not investigation.entries.filter(entry_type=EntryType.LOTS_CHECKED).exists():
                raise _refuse(
                    investigation,
                    what,
                    "Phase II has not recorded which other lots were checked (21 CFR 211.192: "
                    "the investigation extends to other batches).",
                )
        elif investigation.kind in PHASED_KINDS:
            raise _refuse(
                investigation,
                what,
                "An OOS result is either invalidated for an assignable laboratory cause or "
                "confirmed after Phase II; it cannot be closed as assessed.",
            )
        create_signed(
            InvestigationEntry(
                investigation=investigation,
                recorded_at=timezone.now(),
                recorded_by=signer.audit_actor().name,
                recorded_by_user=signer,
                entry_type=EntryType.CONCLUDED,
                text=reason,
                data={"conclusion": conclusion},
            ),
            signer=signer,
            meaning=Meaning.CONCLUDED,
            reason=reason,
            label=f"{investigation.number}: {Conclusion(conclusion).label}",
        )
        _close(investigation, conclusion, signer, reason)
        if conclusion == Conclusion.CONFIRMED_OOS:
            _after_confirmed_oos(investigation, lot, signer, reason)
    return investigation


def _after_confirmed_oos(investigation: Investigation, lot: Lot, signer: User, reason: str) -> None:
    distributed = lot.status in RELEASED_STATES or (
        lot.status == LotStatus.ON_HOLD and lot.status_before_hold in RELEASED_STATES
    )
    if distributed or investigation.kind == InvestigationKind.POST_RELEASE:
        notify_qa(
            kind=NotificationKind.POST_RELEASE_FAILURE,
            text=f"{investigation.number} confirmed the failure of lot {lot.lot_number} after "
            "release: record the recall decision.",
            lot=lot,
            investigation=investigation,
        )
        return
    if lot.status != LotStatus.REJECTED:
        lot_reject_locked(
            lot=lot,
            signer=signer,
            reason=f"Out of specification confirmed by {investigation.number}: {reason}",
        )


def _set_phase(investigation: Investigation, phase: str, actor: object, reason: str) -> None:
    old = investigation.phase
    investigation.phase = phase
    investigation.save(update_fields=["phase"])
    audit_record(
        actor=actor,  # type: ignore[arg-type]
        action=AuditAction.INVESTIGATION_PHASE_CHANGED,
        object_type="investigation",
        object_id=investigation.number,
        old_values={"phase": old},
        new_values={"phase": phase},
        reason=reason,
    )


def _close(investigation: Investigation, conclusion: str, by: User, reason: str) -> None:
    old = investigation.phase
    investigation.phase = InvestigationPhase.CLOSED
    investigation.conclusion = conclusion
    investigation.closed_at = timezone.now()
    investigation.save(update_fields=["phase", "conclusion", "closed_at"])
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.INVESTIGATION_CLOSED,
        object_type="investigation",
        object_id=investigation.number,
        old_values={"phase": old},
        new_values={"phase": InvestigationPhase.CLOSED, "conclusion": conclusion},
        reason=reason,
    )
