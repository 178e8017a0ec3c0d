"""Recording a disposition: the one place a decision on a lot is written.

Inside the deciding transaction (lot row locked): the disposition row, its
signature over the disposition's content when signed (21 CFR 11.70), the
status change (releases.lifecycle), the audit event, and, on commit, the
Certificate of Analysis task for releasing decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from qc.models import Evaluation, Lot, LotStatus
from releases.lifecycle import lot_transition
from releases.models import (
    RELEASING_DECISIONS,
    UNSIGNED_DECISIONS,
    Decision,
    Disposition,
    NotificationKind,
)
from releases.services.certificates import certificate_enqueue_on_commit
from releases.services.commands import Act
from releases.services.notifications import notifications_resolve
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.esign.models import Signature

DECISION_ACTIONS: dict[str, AuditAction] = {
    Decision.APPROVED: AuditAction.LOT_APPROVED,
    Decision.RELEASED: AuditAction.LOT_RELEASED,
    Decision.CONDITIONALLY_RELEASED: AuditAction.LOT_CONDITIONALLY_RELEASED,
    Decision.FINALISED: AuditAction.LOT_FINALISED,
    Decision.REJECTED: AuditAction.LOT_REJECTED,
    Decision.HOLD: AuditAction.LOT_HOLD,
    Decision.HOLD_RELEASED: AuditAction.LOT_HOLD_RELEASED,
}


def disposition_record(
    *,
    lot: Lot,
    decision: Decision,
    status_after: str,
    reason: str,
    evaluation: Evaluation | None,
    by: User | None,
    actor: Actor,
    act: Act | None = None,
    pending_tests: Sequence[str] = (),
    signature: Signature | None = None,
    disposition_id: int | None = None,
) -> Disposition:
    """Write the decision, signed by ``act`` when its action signs (holds are not signed).

    ``signature``: the decision is part of an act already signed (an investigation's
    conclusion that rejects the lot, whose signed content names ``disposition_id``),
    so it carries that signature instead of a second one."""
    disposition = Disposition(
        lot=lot,
        decision=decision,
        status_before=lot.status,
        status_after=status_after,
        specification=lot.specification,
        evaluation=evaluation,
        reason=reason,
        pending_tests=list(pending_tests),
        decided_at=timezone.now(),
        decided_by=by,
        decided_by_name=actor.name,
    )
    if signature is not None:
        disposition.pk, disposition.signature = disposition_id, signature
        disposition.save(force_insert=True)
    elif decision not in UNSIGNED_DECISIONS:
        if act is None or not act.action.signs:
            raise ValueError(f"a {decision} decision needs a signature")
        act.sign(disposition, label=f"lot {lot.lot_number}: {Decision(decision).label}")
    else:
        disposition.save(force_insert=True)
    if status_after != lot.status:
        lot_transition(lot=lot, to=status_after, actor=actor, reason=reason)
    audit_record(
        actor=actor,
        action=DECISION_ACTIONS[decision],
        object_type="lot",
        object_id=lot.lot_number,
        old_values={"status": disposition.status_before},
        new_values={
            "disposition_id": disposition.pk,
            "decision": decision,
            "status": status_after,
            "evaluation_id": evaluation.pk if evaluation else None,
            "inputs_digest": evaluation.inputs_digest if evaluation else None,
            "signature_id": disposition.signature_id,
            "pending_tests": list(pending_tests),
        },
        reason=reason,
        records=[disposition],
    )
    if decision in RELEASING_DECISIONS:
        certificate_enqueue_on_commit(disposition_id=disposition.pk)
    _resolve_done_work(lot, decision, status_after)
    return disposition


# What a decision finishes: the notifications that asked for it resolve themselves.
_DONE_WORK = {
    Decision.APPROVED: (NotificationKind.READY_FOR_REVIEW,),
    Decision.CONDITIONALLY_RELEASED: (NotificationKind.READY_FOR_REVIEW,),
}


def _resolve_done_work(lot: Lot, decision: str, status_after: str) -> None:
    if status_after in (LotStatus.RELEASED, LotStatus.REJECTED):
        notifications_resolve(lot=lot)  # decided: nothing of the lot waits any more
    elif decision in _DONE_WORK:
        notifications_resolve(lot=lot, kinds=_DONE_WORK[Decision(decision)])
