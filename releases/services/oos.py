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
from django.utils import timezone

from qc.models import Lot, LotStatus
from qc.tasks import enqueue_lot_evaluation
from releases.lifecycle import lot_distributed
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
from releases.policy import ActionKey
from releases.selectors import pending_invalidation_proposal
from releases.services.commands import Act, investigation_command
from releases.services.decisions import lot_reject_locked
from releases.services.errors import Problem, Refused
from releases.services.guards import performed_by
from releases.services.investigations import entry_add
from releases.services.notifications import notify_qa
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.errors import InvalidInput


def _refuse(investigation: Investigation, what: str, *problems: Problem) -> Refused:
    return Refused(f"Investigation {investigation.number}: {what}", list(problems))


def invalidation_signer_problems(
    *, investigation: Investigation, proposal: InvestigationEntry, signer: User
) -> list[Problem]:
    """The second-person rule (21 CFR 610.1): neither the proposer nor the analyst signs."""
    problems = []
    if proposal.recorded_by_user_id == signer.pk:
        problems.append(
            Problem(
                "signer_proposed_invalidation",
                f"{signer.printed_name} proposed this invalidation; a second person must sign "
                "it (21 CFR 610.1).",
            )
        )
    result = investigation.result
    if result is not None and performed_by(result, signer):
        problems.append(
            Problem(
                "signer_performed_result",
                f"{signer.printed_name} performed result #{result.pk}; the analyst cannot "
                "invalidate their own result.",
            )
        )
    return problems


def investigation_conclude_phase_one(
    *, number: str, auth: AuthContext, assignable_cause: bool, reason: str
) -> Investigation:
    """Conclude the laboratory investigation: an assignable cause, or on to Phase II."""

    def conclude(investigation: Investigation, lot: Lot, act: Act) -> Investigation:
        problems = []
        if not investigation.entries.filter(entry_type=EntryType.CHECK).exists():
            problems.append(
                Problem(
                    "no_laboratory_check",
                    "No laboratory check is recorded: Phase I records the checks made "
                    "(analyst, method, instrument, calculations, standards) before concluding.",
                )
            )
        if pending_invalidation_proposal(investigation=investigation) is not None:
            problems.append(
                Problem(
                    "invalidation_already_proposed",
                    "Phase I already concluded with an assignable cause.",
                )
            )
        result = investigation.result
        if assignable_cause and result is None:
            problems.append(
                Problem(
                    "no_result",
                    "No result is named by the investigation, so none can be invalidated.",
                )
            )
        if (
            assignable_cause
            and result is not None
            and ResultInvalidation.objects.filter(result=result).exists()
        ):
            problems.append(
                Problem(
                    "result_already_invalidated", f"Result #{result.pk} is already invalidated."
                )
            )
        if problems:
            raise _refuse(investigation, "Phase I cannot conclude", *problems)
        person, actor = act.person, act.person.audit_actor()
        entry_add(
            investigation=investigation,
            entry_type=EntryType.PHASE_ONE_CONCLUDED,
            text=act.reason,
            by=person,
            actor=actor,
            data={"assignable_cause": assignable_cause},
        )
        if assignable_cause:
            assert result is not None
            entry_add(
                investigation=investigation,
                entry_type=EntryType.INVALIDATION_PROPOSED,
                text=act.reason,
                by=person,
                actor=actor,
                data={
                    "result_id": result.pk,
                    "test": result.test.code,
                    "value_as_posted": result.value_as_posted,
                    "unit_as_posted": result.unit_as_posted,
                    "cause": act.reason,
                    "proposed_by": person.username,
                    "proposed_by_id": person.pk,
                },
            )
        else:
            _set_phase(investigation, InvestigationPhase.PHASE_2, actor, act.reason)
        return investigation

    return investigation_command(
        key=ActionKey.PHASE_ONE, auth=auth, number=number, reason=reason, body=conclude
    )


def investigation_invalidate_result(
    *, number: str, auth: AuthContext, password: str, reason: str
) -> ResultInvalidation:
    """A second person signs the proposed invalidation (21 CFR 610.1; FDA OOS guidance).

    The signer is neither the proposer nor the analyst of the result.  The lot's
    data version is bumped and it is re-evaluated on commit; a retest is allowed.
    """

    def invalidate(investigation: Investigation, lot: Lot, act: Act) -> ResultInvalidation:
        proposal = pending_invalidation_proposal(investigation=investigation)
        if proposal is None:
            raise _refuse(
                investigation,
                "no result can be invalidated",
                Problem(
                    "no_invalidation_proposed",
                    "No invalidation is proposed: Phase I must conclude with an assignable "
                    "laboratory cause first.",
                ),
            )
        result = investigation.result
        assert result is not None and proposal.data is not None
        signer = act.person
        problems = invalidation_signer_problems(
            investigation=investigation, proposal=proposal, signer=signer
        )
        if problems:
            raise _refuse(investigation, "the invalidation is refused", *problems)
        signature = act.signature_of(
            proposal, label=f"{investigation.number}: invalidation of result #{result.pk}"
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
            text=act.reason,
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
            reason=act.reason,
            records=[invalidation],
        )
        _allow_retest(investigation, signer, f"assignable laboratory cause: {invalidation.reason}")
        _close(investigation, Conclusion.INVALIDATED, signer, act.reason)
        lot_id = lot.pk
        transaction.on_commit(lambda: enqueue_lot_evaluation(lot_id))
        return invalidation

    return investigation_command(
        key=ActionKey.INVALIDATE_RESULT,
        auth=auth,
        number=number,
        reason=reason,
        password=password,
        body=invalidate,
    )


def investigation_allow_retest(*, number: str, auth: AuthContext, reason: str) -> Investigation:
    """Allow a retest (Phase II: by another analyst, within the method's budget)."""

    def allow(investigation: Investigation, lot: Lot, act: Act) -> Investigation:
        if investigation.retest_allowed_at is not None:
            raise _refuse(
                investigation,
                "no retest can be allowed",
                Problem("retest_already_allowed", "A retest is already allowed."),
            )
        _allow_retest(investigation, act.person, act.reason)
        return investigation

    return investigation_command(
        key=ActionKey.ALLOW_RETEST, auth=auth, number=number, reason=reason, body=allow
    )


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
    *, number: str, auth: AuthContext, lots_checked: Sequence[str], findings: str
) -> InvestigationEntry:
    """QA records which other lots the production investigation checked (21 CFR 211.192)."""
    if not isinstance(lots_checked, (list, tuple)) or not all(
        isinstance(n, str) for n in lots_checked
    ):
        raise InvalidInput.single("lots_checked", "must be a list of lot numbers", code="invalid")

    def record(investigation: Investigation, lot: Lot, act: Act) -> InvestigationEntry:
        wanted = sorted({n.strip() for n in lots_checked if n.strip()})
        lots = {
            other.lot_number: other
            for other in Lot.objects.filter(lot_number__in=wanted).select_related("product")
        }
        unknown = [n for n in wanted if n not in lots]
        if unknown:
            raise InvalidInput.single(
                "lots_checked", f"unknown lot(s): {', '.join(unknown)}", code="lot_not_found"
            )
        if lot.lot_number in lots:
            raise InvalidInput.single(
                "lots_checked",
                "list the other lots, not the lot investigated",
                code="lot_investigated_listed",
            )
        return entry_add(
            investigation=investigation,
            entry_type=EntryType.LOTS_CHECKED,
            text=act.reason,
            by=act.person,
            actor=act.person.audit_actor(),
            data={
                "lots": [
                    {"lot_number": n, "product": lots[n].product.code, "status": lots[n].status}
                    for n in wanted
                ],
                "findings": act.reason,
            },
        )

    return investigation_command(
        key=ActionKey.PHASE_TWO,
        auth=auth,
        number=number,
        reason=findings,
        reason_field="findings",
        body=record,
    )


def investigation_conclude(
    *, number: str, auth: AuthContext, password: str, conclusion: str, reason: str
) -> Investigation:
    """QA closes an investigation with a signature (meaning "concluded").

    ``confirmed_oos`` ends Phase II of an OOS or post-release investigation; an OOS
    lot not yet on the market is rejected in the same transaction with a second
    signature (meaning "rejected"; 21 CFR 211.165(f)); a lot already distributed
    awaits QA's recall decision.  ``assessed`` closes a trend notice or a deviation.
    """
    if conclusion not in {Conclusion.CONFIRMED_OOS, Conclusion.ASSESSED}:
        raise InvalidInput.single(
            "conclusion", "must be 'confirmed_oos' or 'assessed'", code="invalid_choice"
        )

    def conclude(investigation: Investigation, lot: Lot, act: Act) -> Investigation:
        what = "it cannot be concluded"
        phased = investigation.kind in PHASED_KINDS
        if conclusion == Conclusion.CONFIRMED_OOS and not phased:
            raise _refuse(
                investigation,
                what,
                Problem(
                    "not_phased",
                    f"It is a {investigation.get_kind_display().lower()}; only OOS and "
                    "post-release investigations confirm an OOS result.",
                ),
            )
        if (
            conclusion == Conclusion.CONFIRMED_OOS
            and not investigation.entries.filter(entry_type=EntryType.LOTS_CHECKED).exists()
        ):
            raise _refuse(
                investigation,
                what,
                Problem(
                    "phase_two_not_recorded",
                    "Phase II has not recorded which other lots were checked (21 CFR 211.192: "
                    "the investigation extends to other batches).",
                ),
            )
        if conclusion == Conclusion.ASSESSED and phased:
            raise _refuse(
                investigation,
                what,
                Problem(
                    "oos_cannot_be_assessed",
                    "An OOS result is either invalidated for an assignable laboratory cause or "
                    "confirmed after Phase II; it cannot be closed as assessed.",
                ),
            )
        signer = act.person
        act.sign(
            InvestigationEntry(
                investigation=investigation,
                recorded_at=timezone.now(),
                recorded_by=signer.audit_actor().name,
                recorded_by_user=signer,
                entry_type=EntryType.CONCLUDED,
                text=act.reason,
                data={"conclusion": conclusion},
            ),
            label=f"{investigation.number}: {Conclusion(conclusion).label}",
        )
        _close(investigation, conclusion, signer, act.reason)
        if conclusion == Conclusion.CONFIRMED_OOS:
            _after_confirmed_oos(investigation, lot, act)
        return investigation

    return investigation_command(
        key=ActionKey.CONCLUDE,
        auth=auth,
        number=number,
        reason=reason,
        password=password,
        body=conclude,
    )


def _after_confirmed_oos(investigation: Investigation, lot: Lot, act: Act) -> None:
    if lot_distributed(lot) or investigation.kind == InvestigationKind.POST_RELEASE:
        notify_qa(
            kind=NotificationKind.POST_RELEASE_FAILURE,
            text=f"{investigation.number} confirmed the failure of lot {lot.lot_number} after "
            "release: record the recall decision.",
            lot=lot,
            investigation=investigation,
        )
        return
    if lot.status == LotStatus.REJECTED:
        return
    rejection = Act(
        person=act.person,
        reason=f"Out of specification confirmed by {investigation.number}: {act.reason}",
        action=act.action,
        statement=act.statement,
    )
    lot_reject_locked(lot=lot, act=rejection)


def _set_phase(investigation: Investigation, phase: str, actor: Actor, reason: str) -> None:
    old = investigation.phase
    investigation.phase = phase
    investigation.save(update_fields=["phase"])
    audit_record(
        actor=actor,
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
