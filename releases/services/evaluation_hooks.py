"""What QC's work sets in motion on the release side (subscribers of ``qc.hooks``).

``ReleasesConfig.ready()`` subscribes these to QC's typed hooks; QC emits them
inside its own transactions, so what they write commits or rolls back with the
change that caused it:

* results recorded: the first result moves a quarantined lot into testing;
* evaluation recorded: OOS results open Phase I investigations (or post-release
  investigations on a lot whose product is on the market, 21 CFR 211.192);
  alert-limit excursions open trend notices, and a value that breaks a Nelson rule
  against the signed control limits an out-of-trend notice; the lot's status follows the verdict
  (through releases.lifecycle's transitions).  Nothing about a past decision is
  rewritten: a failure after release adds an investigation and alerts QA.
"""

from __future__ import annotations

from qc import hooks
from qc.evaluation import LineVerdict, LotVerdict
from qc.models import Evaluation, Lot, LotStatus, Result
from releases.lifecycle import lot_distributed, lot_mark_in_testing, lot_transition
from releases.models import InvestigationKind, NotificationKind
from releases.services.guards import unreviewed_result_ids
from releases.services.holds import lot_flag_conditional_failure
from releases.services.investigations import investigation_open
from releases.services.notifications import (
    lot_ready_for_review_notify,
    notify_qps,
    result_review_needed_notify,
)
from releases.services.trends import control_baseline_signed, lot_out_of_trend_judge
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record

S = LotStatus

_ENGINE = Actor.system("evaluation worker")


def results_recorded(event: hooks.ResultsRecorded) -> None:
    """Quarantined -> in testing when the first QC result arrives."""
    if event.lot.status == LotStatus.QUARANTINED:
        lot_mark_in_testing(lot=event.lot, actor=event.actor)


def evaluation_recorded(event: hooks.EvaluationRecorded) -> None:
    lot, outcome = event.lot, event.outcome
    # Re-read under the row lock: a release may have committed while the evaluation ran.
    released = lot_distributed(Lot.objects.select_for_update(of=("self",)).get(pk=lot.pk))
    for line in outcome.lines:
        for result_id in line.failing_result_ids:
            kind = InvestigationKind.POST_RELEASE if released else InvestigationKind.OOS
            investigation_open(
                lot=lot,
                kind=kind,
                actor=_ENGINE,
                result_id=int(result_id),
                line_name=line.display_name,
                summary=line.reason,
            )
        if line.verdict == LineVerdict.CONFORMS_WITH_ALERT and line.used_result_ids:
            investigation_open(
                lot=lot,
                kind=InvestigationKind.TREND,
                actor=_ENGINE,
                result_id=int(max(line.used_result_ids, key=int)),
                line_name=line.display_name,
                summary=line.reason,
            )
    # Against the signed control limits of the product's charts (Nelson rules).
    lot_out_of_trend_judge(lot=lot)
    lot_follow_evaluation(lot=lot, evaluation=event.evaluation)
    if lot.status != S.REJECTED:  # 21 CFR 211.194(a)(8): results wait for a second person
        result_review_needed_notify(lot=lot, unreviewed=len(unreviewed_result_ids(lot)))


_WORKFLOW = Actor.system("release workflow")


def lot_follow_evaluation(*, lot: Lot, evaluation: Evaluation) -> str:
    """Let the lot's status follow a newly stored evaluation; return the status now.

    Runs inside the evaluation's transaction.  The lot row is locked and re-read:
    a decision may have committed while the evaluation was being computed.
    """
    locked = Lot.objects.select_for_update(of=("self",)).select_related("product").get(pk=lot.pk)
    conforms = evaluation.verdict == LotVerdict.CONFORMS
    cited = f"evaluation #{evaluation.pk} ({evaluation.verdict.replace('_', ' ')})"
    status = locked.status
    if status == S.QUARANTINED and Result.objects.filter(lot=locked).exists():
        lot_transition(lot=locked, to=S.IN_TESTING, actor=_WORKFLOW, reason="QC results evaluated")
        status = locked.status
    if status == S.IN_TESTING and conforms:
        lot_transition(
            lot=locked, to=S.READY_FOR_REVIEW, actor=_WORKFLOW, reason=f"{cited}: conforms"
        )
        lot_ready_for_review_notify(lot=locked)
    elif status == S.READY_FOR_REVIEW and not conforms:
        lot_transition(
            lot=locked, to=S.IN_TESTING, actor=_WORKFLOW, reason=f"{cited}: no longer conforms"
        )
    elif status == S.APPROVED:
        # The QA approval covered the previous evaluation; the data changed, so it is void.
        lot_transition(
            lot=locked,
            to=S.READY_FOR_REVIEW if conforms else S.IN_TESTING,
            actor=_WORKFLOW,
            reason=f"QA approval void: the lot's data changed ({cited})",
        )
        if conforms:
            lot_ready_for_review_notify(lot=locked)
    elif status == S.CONDITIONALLY_RELEASED:
        if evaluation.verdict == LotVerdict.DOES_NOT_CONFORM:
            lot_flag_conditional_failure(lot=locked, evaluation=evaluation)
        elif conforms:
            notify_qps(
                kind=NotificationKind.PENDING_TESTS_CONFORM,
                text=f"Lot {locked.lot_number}: the tests pending at conditional release now "
                "conform; a Qualified Person may finalise the release.",
                lot=locked,
            )
    elif status == S.ON_HOLD:
        _follow_while_on_hold(locked, conforms, cited)
    lot.status, lot.status_before_hold = locked.status, locked.status_before_hold
    return locked.status


def _follow_while_on_hold(lot: Lot, conforms: bool, cited: str) -> None:
    """Keep the state a hold returns to in step with the data (an approval is void)."""
    before = lot.status_before_hold
    after = before
    if before in {S.IN_TESTING, S.READY_FOR_REVIEW, S.APPROVED}:
        after = S.READY_FOR_REVIEW if conforms else S.IN_TESTING
    if after == before:
        return
    Lot.objects.filter(pk=lot.pk).update(status_before_hold=after)
    lot.status_before_hold = after
    audit_record(
        actor=_WORKFLOW,
        action=AuditAction.LOT_HOLD_RETURN_STATE_CHANGED,
        object_type="lot",
        object_id=lot.lot_number,
        old_values={"status_before_hold": before},
        new_values={"status_before_hold": after},
        reason=cited,
    )


def subscribe() -> None:
    """Subscribe to QC's hooks (idempotent: ``ready()`` may run more than once)."""
    hooks.results_recorded.subscribe(results_recorded)
    hooks.evaluation_recorded.subscribe(evaluation_recorded)
    hooks.control_baseline_signed.subscribe(control_baseline_signed)
