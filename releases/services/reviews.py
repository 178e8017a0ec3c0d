"""The reviews a release needs: QC's second-person review of the results, QA's of the audit trail.

21 CFR 211.194(a)(8): laboratory records show a second person reviewed them for
accuracy, completeness and compliance; the reviewer is not the performer.
21 CFR 211.192: the quality unit reviews all records before release; QA signs
that it reviewed the lot's audit trail up to a given event.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from qc.models import Result
from releases.lifecycle import lot_lock
from releases.models import AuditTrailReview, ResultReview
from releases.services.errors import InvalidRequest, NotFound, Refused
from releases.services.guards import ids_text, performed_by
from releases.services.signing import (
    authenticate,
    create_signed,
    require_person,
    require_reason,
)
from services.accounts.models import Role
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from services.audit.services import audit_record
from services.esign.models import Meaning


def lot_record_result_review(
    *,
    lot_number: str,
    by: object,
    password: str,
    comment: str,
    request: HttpRequest | None = None,
) -> ResultReview:
    """A QC reviewer signs the review of every result the lot has now."""
    person = require_person(by, (Role.QC_REVIEWER,), "review laboratory results")
    comment = require_reason(comment)
    signer = authenticate(person, password, request)
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise NotFound(f"lot {lot_number} does not exist")
        results = list(Result.objects.filter(lot=lot).select_related("test", "run"))
        if not results:
            raise Refused(
                f"The results of lot {lot_number} cannot be reviewed",
                [f"Lot {lot_number} has no results yet."],
            )
        own = [result for result in results if performed_by(result, signer)]
        if own:
            raise Refused(
                f"{signer.printed_name} cannot review the results of lot {lot_number}",
                [
                    f"{signer.printed_name} ({signer.username}) performed result(s) "
                    f"{ids_text(r.pk for r in own)} ({_codes(own)}); a second person reviews "
                    "them (21 CFR 211.194(a)(8))."
                ],
            )
        review, signature = create_signed(
            ResultReview(
                lot=lot,
                reviewer=signer,
                reviewer_name=signer.printed_name,
                reviewed_at=timezone.now(),
                result_ids=sorted(result.pk for result in results),
                comment=comment,
            ),
            signer=signer,
            meaning=Meaning.REVIEWED,
            reason=comment,
            label=f"lot {lot_number}: review of {len(results)} result(s)",
        )
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.LOT_RESULTS_REVIEWED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "result_review_id": review.pk,
                "result_ids": review.result_ids,
                "signature_id": signature.pk,
            },
            reason=comment,
        )
    return review


def _codes(results: list[Result]) -> str:
    return ", ".join(sorted({result.test.code for result in results}))


def lot_record_audit_trail_review(
    *,
    lot_number: str,
    by: object,
    password: str,
    comment: str,
    up_to_sequence: int | None = None,
    request: HttpRequest | None = None,
) -> AuditTrailReview:
    """QA signs that it reviewed the lot's audit trail up to event ``up_to_sequence``.

    Without ``up_to_sequence`` the review covers the trail as it stands now.
    """
    person = require_person(by, (Role.QA_OFFICER,), "record audit-trail reviews")
    comment = require_reason(comment)
    signer = authenticate(person, password, request)
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise NotFound(f"lot {lot_number} does not exist")
        last = AuditEvent.objects.aggregate(last=Max("sequence"))["last"] or 0
        sequence = last if up_to_sequence is None else up_to_sequence
        if not 0 < sequence <= last:
            raise InvalidRequest(
                "up_to_sequence", f"must name an existing audit event (1 to {last})"
            )
        review, signature = create_signed(
            AuditTrailReview(
                lot=lot,
                reviewer=signer,
                reviewer_name=signer.printed_name,
                reviewed_at=timezone.now(),
                up_to_sequence=sequence,
                comment=comment,
            ),
            signer=signer,
            meaning=Meaning.REVIEWED,
            reason=comment,
            label=f"lot {lot_number}: audit trail reviewed to #{sequence}",
        )
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.LOT_AUDIT_TRAIL_REVIEWED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "audit_trail_review_id": review.pk,
                "up_to_sequence": sequence,
                "signature_id": signature.pk,
            },
            reason=comment,
        )
    return review
