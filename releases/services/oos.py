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
  with a signature once its findings are recorded: confirmed OOS (the lot is
  rejected by that signature, 21 CFR 211.165(f)), not confirmed (an assignable
  cause found late: a second person invalidates the result, as in Phase I), or
  inconclusive (QA decides on the lot, with a justification).

Each act is one signature: the Phase I conclusion, the invalidation, the
conclusion (whose signature also carries the rejection it makes).

All individual results are kept; an OOS result is never averaged with passing
retests (qc.evaluation.selection judges each valid result on its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from qc.models import Lot, LotStatus
from qc.tasks import enqueue_lot_evaluation
from releases.lifecycle import lot_distributed
from releases.models import (
    PHASED_KINDS,
    Conclusion,
    Disposition,
    EntryType,
    Investigation,
    InvestigationEntry,
    InvestigationKind,
    InvestigationPhase,
    NotificationKind,
    ResultInvalidation,
)
from releases.policy import ActionKey, lot_state_problems
from releases.selectors import pending_invalidation_proposal, statement_facts
from releases.services.commands import Act, investigation_command, require_meaningful_reason
from releases.services.decisions import lot_reject_locked
from releases.services.errors import Problem, Refused
from releases.services.guards import performed_by
from releases.services.investigations import entry_add, entry_add_signed
from releases.services.notifications import notifications_resolve, notify_qa
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.errors import InvalidInput
from services.esign.services import next_id


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


def _proposal_problems(investigation: Investigation, *, invalidating: bool) -> list[Problem]:
    """Why no invalidation can be proposed now (``invalidating``: the conclusion would)."""
    problems = []
    if pending_invalidation_proposal(investigation=investigation) is not None:
        problems.append(
            Problem(
                "invalidation_already_proposed",
                "An invalidation of the result is already proposed; a second person signs it.",
            )
        )
    result = investigation.result
    if invalidating and result is None:
        problems.append(
            Problem(
                "no_result",
                "No result is named by the investigation, so none can be invalidated.",
            )
        )
    if (
        invalidating
        and result is not None
        and ResultInvalidation.objects.filter(result=result).exists()
    ):
        problems.append(
            Problem("result_already_invalidated", f"Result #{result.pk} is already invalidated.")
        )
    return problems


def _propose_invalidation(investigation: Investigation, act: Act) -> None:
    """The proposal a second person signs (21 CFR 610.1); the cause is the act's reason."""
    result = investigation.result
    assert result is not None
    person = act.person
    entry_add(
        investigation=investigation,
        entry_type=EntryType.INVALIDATION_PROPOSED,
        text=act.reason,
        by=person,
        actor=person.audit_actor(),
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


def investigation_conclude_phase_one(
    *, number: str, auth: AuthContext, password: str, assignable_cause: bool, reason: str
) -> Investigation:
    """Conclude the laboratory investigation, signed (meaning "concluded"): an assignable
    cause proposes the invalidation, or the investigation goes on to Phase II."""
    if not isinstance(assignable_cause, bool):
        raise InvalidInput.single("assignable_cause", "must be true or false", code="invalid")

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
        problems += _proposal_problems(investigation, invalidating=assignable_cause)
        if problems:
            raise _refuse(investigation, "Phase I cannot conclude", *problems)
        entry_add_signed(
            investigation=investigation,
            entry_type=EntryType.PHASE_ONE_CONCLUDED,
            act=act,
            data={"assignable_cause": assignable_cause},
            label=f"{investigation.number}: Phase I concluded",
        )
        if assignable_cause:
            _propose_invalidation(investigation, act)
        else:
            _set_phase(
                investigation, InvestigationPhase.PHASE_2, act.person.audit_actor(), act.reason
            )
        return investigation

    return investigation_command(
        key=ActionKey.PHASE_ONE,
        auth=auth,
        number=number,
        reason=reason,
        password=password,
        body=conclude,
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
        if investigation.retest_allowed_at is None:
            _allow_retest(
                investigation, signer, f"assignable laboratory cause: {invalidation.reason}"
            )
        # Found in Phase I, the laboratory error invalidates; found in Phase II, the OOS
        # result is "not confirmed" (FDA OOS guidance, 2022).
        late = investigation.phase == InvestigationPhase.PHASE_2
        _close(
            investigation,
            Conclusion.NOT_CONFIRMED if late else Conclusion.INVALIDATED,
            signer,
            act.reason,
        )
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
        now = timezone.now()
        Investigation.objects.filter(pk=investigation.pk).update(phase_two_recorded_at=now)
        investigation.phase_two_recorded_at = now
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


PHASE_TWO_OUTCOMES = (Conclusion.CONFIRMED_OOS, Conclusion.NOT_CONFIRMED, Conclusion.INCONCLUSIVE)
CAPA_REFERENCE_MAX = 64


def _capa_reference(value: str) -> str:
    reference = (value or "").strip()
    if len(reference) > CAPA_REFERENCE_MAX or not reference.isprintable():
        raise InvalidInput.single(
            "capa_reference",
            f"at most {CAPA_REFERENCE_MAX} printable characters, e.g. CAPA-2024-017",
            code="invalid",
        )
    return reference


def investigation_conclude(
    *,
    number: str,
    auth: AuthContext,
    password: str,
    conclusion: str,
    reason: str,
    reject_lot: bool | None = None,
    capa_reference: str = "",
) -> Investigation:
    """QA concludes an investigation with one signature (meaning "concluded").

    After Phase II of an OOS or post-release investigation (FDA OOS guidance, 2022):

    * ``confirmed_oos``: the investigation closes and a lot not yet on the market is
      rejected by the same signature (21 CFR 211.165(f)); a distributed lot awaits
      QA's recall decision;
    * ``not_confirmed``: an assignable laboratory cause found late (the reason) proposes
      the result's invalidation, which a second person signs (21 CFR 610.1); the
      investigation closes then;
    * ``inconclusive``: QA decides on the lot (``reject_lot``) with a justification of a
      few words; the result stands, given full consideration.

    ``assessed`` closes a trend notice or a deviation.  ``capa_reference`` names the
    deviation or CAPA record the conclusion leads to.
    """
    if conclusion not in {*PHASE_TWO_OUTCOMES, Conclusion.ASSESSED}:
        raise InvalidInput.single(
            "conclusion",
            "must be 'confirmed_oos', 'not_confirmed', 'inconclusive' or 'assessed'",
            code="invalid_choice",
        )
    reference = _capa_reference(capa_reference)
    if conclusion == Conclusion.INCONCLUSIVE:
        if not isinstance(reject_lot, bool):
            raise InvalidInput.single(
                "reject_lot",
                "an inconclusive investigation needs QA's decision: true or false",
                code="decision_required",
            )
        reason = require_meaningful_reason(reason)  # the justification (FDA OOS guidance)
    elif reject_lot is not None:
        raise InvalidInput.single(
            "reject_lot",
            "only an inconclusive investigation asks QA to decide on the lot",
            code="not_applicable",
        )
    rejects = conclusion == Conclusion.CONFIRMED_OOS or bool(reject_lot)

    def conclude(investigation: Investigation, lot: Lot, act: Act) -> Investigation:
        what = "it cannot be concluded"
        phased = investigation.kind in PHASED_KINDS
        problems: list[Problem] = []
        if conclusion != Conclusion.ASSESSED and not phased:
            problems.append(
                Problem(
                    "not_phased",
                    f"It is a {investigation.get_kind_display().lower()}; only OOS and "
                    "post-release investigations end with a Phase II outcome.",
                )
            )
        if conclusion == Conclusion.ASSESSED and phased:
            problems.append(
                Problem(
                    "oos_cannot_be_assessed",
                    "An OOS result is invalidated for an assignable laboratory cause, confirmed, "
                    "not confirmed or found inconclusive; it cannot be closed as assessed.",
                )
            )
        if phased:
            problems += _proposal_problems(
                investigation, invalidating=conclusion == Conclusion.NOT_CONFIRMED
            )
        rejection = _rejection_due(investigation, lot) if rejects and phased else None
        problems += rejection.problems if rejection is not None else []
        if problems:
            raise _refuse(investigation, what, *problems)
        rejection_id = next_id(Disposition) if rejection is not None and rejection.now else None
        _, signature = entry_add_signed(
            investigation=investigation,
            entry_type=EntryType.CONCLUDED,
            act=act,
            data={
                "conclusion": conclusion,
                "capa_reference": reference,
                "reject_lot": rejects,
                # The rejection this signature makes (one act, one signature).
                "rejection_disposition_id": rejection_id,
            },
            label=f"{investigation.number}: {Conclusion(conclusion).label}",
        )
        if reference:
            Investigation.objects.filter(pk=investigation.pk).update(capa_reference=reference)
            investigation.capa_reference = reference
        if conclusion == Conclusion.NOT_CONFIRMED:
            _propose_invalidation(investigation, act)  # closes when the second person signs
            return investigation
        _close(investigation, conclusion, act.person, act.reason)
        if rejection_id is not None:
            lot_reject_locked(
                lot=lot,
                act=Act(
                    person=act.person,
                    reason=f"{Conclusion(conclusion).label} by {investigation.number}: "
                    f"{act.reason}",
                    action=act.action,
                    statement=act.statement,
                ),
                signature=signature,
                disposition_id=rejection_id,
            )
        elif rejection is not None and rejection.recall_decision:
            notify_qa(
                kind=NotificationKind.POST_RELEASE_FAILURE,
                text=f"{investigation.number} confirmed the failure of lot {lot.lot_number} "
                "after release: record the recall decision.",
                lot=lot,
                investigation=investigation,
            )
        return investigation

    return investigation_command(
        key=ActionKey.CONCLUDE,
        auth=auth,
        number=number,
        reason=reason,
        password=password,
        body=conclude,
        facts=lambda lot, investigation: statement_facts(
            lot=lot, investigation=investigation, conclusion=conclusion, reject_lot=rejects
        ),
    )


@dataclass(frozen=True)
class _Rejection:
    now: bool  # the conclusion rejects the lot itself
    recall_decision: bool  # product may be on the market: QA records the recall decision
    problems: list[Problem]


def _rejection_due(investigation: Investigation, lot: Lot) -> _Rejection:
    """What rejecting the lot after the conclusion means, checked before anything is signed."""
    if lot_distributed(lot) or investigation.kind == InvestigationKind.POST_RELEASE:
        return _Rejection(now=False, recall_decision=True, problems=[])
    if lot.status == LotStatus.REJECTED:
        return _Rejection(now=False, recall_decision=False, problems=[])
    problems = [Problem(code, words) for code, words in lot_state_problems(ActionKey.REJECT, lot)]
    return _Rejection(now=True, recall_decision=False, problems=problems)


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
    notifications_resolve(investigation=investigation)  # its work is done
    audit_record(
        actor=by.audit_actor(),
        action=AuditAction.INVESTIGATION_CLOSED,
        object_type="investigation",
        object_id=investigation.number,
        old_values={"phase": old},
        new_values={"phase": InvestigationPhase.CLOSED, "conclusion": conclusion},
        reason=reason,
    )
