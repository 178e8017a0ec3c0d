"""The reviews a release needs: QC's second-person review of the results, QA's of the audit trail.

21 CFR 211.194(a)(8): laboratory records show a second person reviewed them for
accuracy, completeness and compliance; the reviewer is not the performer.
21 CFR 211.192: the quality unit reviews all records before release; QA signs
that it reviewed the lot's audit trail up to a given event.
"""

from __future__ import annotations

from django.db.models import Max
from django.utils import timezone

from qc.models import Lot, Result
from qc.selectors import lot_evaluations
from releases.models import AuditTrailReview, NotificationKind, ResultReview
from releases.policy import ActionKey, Facts
from releases.selectors import statement_facts
from releases.services.commands import Act, lot_command
from releases.services.errors import Problem, Refused
from releases.services.guards import ids_text, performed_by
from releases.services.notifications import notifications_resolve
from services.accounts.context import AuthContext
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from services.audit.services import audit_record
from services.errors import InvalidInput


def lot_record_result_review(
    *, lot_number: str, auth: AuthContext, password: str, comment: str
) -> ResultReview:
    """A QC reviewer signs the review of every result the lot has now."""

    def review(lot: Lot, act: Act) -> ResultReview:
        results = list(Result.objects.filter(lot=lot).select_related("test", "run"))
        if not results:
            raise Refused(
                f"The results of lot {lot_number} cannot be reviewed",
                [Problem("no_results", f"Lot {lot_number} has no results yet.")],
            )
        signer = act.person
        own = [result for result in results if performed_by(result, signer)]
        if own:
            raise Refused(
                f"{signer.printed_name} cannot review the results of lot {lot_number}",
                [
                    Problem(
                        "reviewer_performed_results",
                        f"{signer.printed_name} ({signer.username}) performed result(s) "
                        f"{ids_text(r.pk for r in own)} ({_codes(own)}); a second person "
                        "reviews them (21 CFR 211.194(a)(8)).",
                    )
                ],
            )
        record, signature = act.sign(
            ResultReview(
                lot=lot,
                reviewer=signer,
                reviewer_name=signer.printed_name,
                reviewed_at=timezone.now(),
                result_ids=sorted(result.pk for result in results),
                comment=act.reason,
            ),
            label=f"lot {lot_number}: review of {len(results)} result(s)",
        )
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.LOT_RESULTS_REVIEWED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "result_review_id": record.pk,
                "result_ids": record.result_ids,
                "signature_id": signature.pk,
            },
            reason=act.reason,
            records=[record],
        )
        # Every result the lot has now is reviewed: the reviewers' notice is done.
        notifications_resolve(lot=lot, kinds=(NotificationKind.RESULT_REVIEW_NEEDED,))
        return record

    return lot_command(
        key=ActionKey.RESULT_REVIEW,
        auth=auth,
        lot_number=lot_number,
        reason=comment,
        password=password,
        body=review,
    )


def _codes(results: list[Result]) -> str:
    return ", ".join(sorted({result.test.code for result in results}))


def lot_record_audit_trail_review(
    *,
    lot_number: str,
    auth: AuthContext,
    password: str,
    comment: str,
    up_to_sequence: int | None = None,
) -> AuditTrailReview:
    """QA signs that it reviewed the lot's whole audit trail up to event ``up_to_sequence``.

    "The lot's audit trail" is :func:`releases.selectors.lot_audit_trail`: the lot,
    its results, the assay runs and controls behind them, its investigations,
    reviews, decisions, certificates and their signatures, exactly the set the
    review page shows; the statement signed gives its number of events.  Without
    ``up_to_sequence`` the review covers the trail as it stands now (its newest
    event).  The review records the evaluation current at signing: a later one voids it.
    """
    last = AuditEvent.objects.aggregate(last=Max("sequence"))["last"] or 0
    if up_to_sequence is not None and not 0 < up_to_sequence <= last:
        raise InvalidInput.single(
            "up_to_sequence",
            f"must name an existing audit event (1 to {last})",
            code="unknown_audit_event",
        )
    covered: dict[str, Facts] = {}

    def facts(lot: Lot) -> Facts:
        covered["facts"] = statement_facts(lot=lot, up_to_sequence=up_to_sequence)
        return covered["facts"]

    def review(lot: Lot, act: Act) -> AuditTrailReview:
        signer = act.person
        sequence = covered["facts"].up_to_sequence or 0
        record, signature = act.sign(
            AuditTrailReview(
                lot=lot,
                reviewer=signer,
                reviewer_name=signer.printed_name,
                reviewed_at=timezone.now(),
                up_to_sequence=sequence,
                evaluation=lot_evaluations(lot=lot).first(),
                comment=act.reason,
            ),
            label=f"lot {lot_number}: audit trail reviewed to #{sequence}",
        )
        audit_record(
            actor=signer.audit_actor(),
            action=AuditAction.LOT_AUDIT_TRAIL_REVIEWED,
            object_type="lot",
            object_id=lot_number,
            new_values={
                "audit_trail_review_id": record.pk,
                "up_to_sequence": sequence,
                "events": covered["facts"].events,
                "evaluation_id": record.evaluation_id,
                "signature_id": signature.pk,
            },
            reason=act.reason,
            records=[record],
        )
        return record

    return lot_command(
        key=ActionKey.AUDIT_TRAIL_REVIEW,
        auth=auth,
        lot_number=lot_number,
        reason=comment,
        password=password,
        body=review,
        facts=facts,
    )
