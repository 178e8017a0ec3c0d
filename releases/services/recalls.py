"""QA's recall decision on a lot whose product may be on the market.

After a failure following release or conditional release (21 CFR 211.192: the
investigation extends even after distribution), QA records, with a signature,
whether distributed product is recalled.  A recall also rejects the lot
(21 CFR 211.165(f)), with its own signature (meaning "rejected").  The past
release decision is never rewritten: both are new records.  Without a recall, a
lot on hold stays on hold until QA releases the hold, with its own reason.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from qc.models import LotStatus
from releases.lifecycle import RELEASED_STATES, lot_lock, status_text
from releases.models import Investigation, RecallDecision
from releases.services.decisions import lot_reject_locked
from releases.services.errors import InvalidRequest, NotFound, Refused
from releases.services.signing import authenticate, create_signed, require_person, require_reason
from services.accounts.models import Role
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.esign.models import Meaning


def lot_record_recall_decision(
    *,
    lot_number: str,
    by: object,
    password: str,
    recall: bool,
    reason: str,
    investigation_number: str | None = None,
    request: HttpRequest | None = None,
) -> RecallDecision:
    person = require_person(by, (Role.QA_OFFICER,), "record recall decisions")
    reason = require_reason(reason)
    if not isinstance(recall, bool):
        raise InvalidRequest("recall", "must be true or false")
    signer = authenticate(person, password, request)
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise NotFound(f"lot {lot_number} does not exist")
        distributed = lot.status in RELEASED_STATES or (
            lot.status == LotStatus.ON_HOLD and lot.status_before_hold in RELEASED_STATES
        )
        if not distributed:
            raise Refused(
                f"No recall decision applies to lot {lot_number}",
                [
                    f"Lot {lot_number} is {status_text(lot.status)}: it was never "
                    "released, so nothing is on the market."
                ],
            )
        investigation = None
        if investigation_number:
            investigation = Investigation.objects.filter(
                number=investigation_number, lot=lot
            ).first()
            if investigation is None:
                raise InvalidRequest(
                    "investigation", f"no investigation {investigation_number} on this lot"
                )
        decision = RecallDecision(
            lot=lot,
            investigation=investigation,
            recall=recall,
            reason=reason,
            decided_at=timezone.now(),
            decided_by=signer,
            decided_by_name=signer.printed_name,
        )
        disposition = None
        if recall:
            disposition = lot_reject_locked(
                lot=lot, signer=signer, reason=f"Recall: {reason}", recall=True
            )
            decision.disposition = disposition
        decision, signature = create_signed(
            decision,
            signer=signer,
            meaning=Meaning.APPROVED,
            reason=reason,
            label=f"lot {lot_number}: recall decision ({'recall' if recall else 'no recall'})",
        )
        audit_record(
            actor=signer.audit_actor(),
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
            reason=reason,
        )
    return decision
