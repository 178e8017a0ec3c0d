"""QA's recall decision on a lot whose product may be on the market.

After a failure following release or conditional release (21 CFR 211.192: the
investigation extends even after distribution), QA records, with a signature,
whether distributed product is recalled.  A recall also rejects the lot
(21 CFR 211.165(f)), with its own signature (meaning "rejected").  The past
release decision is never rewritten: both are new records.  Without a recall, a
lot on hold stays on hold until QA releases the hold, with its own reason.
"""

from __future__ import annotations

from django.utils import timezone

from qc.models import Lot
from releases.models import Investigation, NotificationKind, RecallDecision
from releases.policy import ActionKey
from releases.services.commands import Act, lot_command
from releases.services.decisions import lot_reject_locked
from releases.services.notifications import notifications_resolve
from services.accounts.context import AuthContext
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput


def lot_record_recall_decision(
    *,
    lot_number: str,
    auth: AuthContext,
    password: str,
    recall: bool,
    reason: str,
    investigation_number: str | None = None,
) -> RecallDecision:
    if not isinstance(recall, bool):
        raise InvalidInput.single("recall", "must be true or false", code="invalid")

    def decide(lot: Lot, act: Act) -> RecallDecision:
        investigation = None
        if investigation_number:
            investigation = Investigation.objects.filter(
                number=investigation_number, lot=lot
            ).first()
            if investigation is None:
                raise InvalidInput.single(
                    "investigation",
                    f"no investigation {investigation_number} on this lot",
                    code="investigation_not_on_lot",
                )
        decision = RecallDecision(
            lot=lot,
            investigation=investigation,
            recall=recall,
            reason=act.reason,
            decided_at=timezone.now(),
            decided_by=act.person,
            decided_by_name=act.person.printed_name,
        )
        disposition = None
        if recall:
            rejection = Act(
                person=act.person,
                reason=f"Recall: {act.reason}",
                action=act.action,
                statement=act.statement,
            )
            disposition = lot_reject_locked(lot=lot, act=rejection, recall=True)
            decision.disposition = disposition
        decision, signature = act.sign(
            decision,
            label=f"lot {lot_number}: recall decision ({'recall' if recall else 'no recall'})",
        )
        audit_record(
            actor=act.person.audit_actor(),
            action=AuditAction.LOT_RECALL_DECIDED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "recall_decision_id": decision.pk,
                "recall": recall,
                "investigation": investigation_number,
                "signature_id": signature.pk,
                "rejection_disposition_id": disposition.pk if disposition else None,
            },
            reason=act.reason,
            records=[decision],
        )
        # The failure after release asked QA for this decision: that work is done.
        notifications_resolve(lot=lot, kinds=(NotificationKind.POST_RELEASE_FAILURE,))
        return decision

    return lot_command(
        key=ActionKey.RECALL_DECISION,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        body=decide,
    )
