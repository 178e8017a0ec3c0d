"""What QC's work sets in motion on the release side (subscribers of ``qc.hooks``).

``ReleasesConfig.ready()`` subscribes these to QC's typed hooks; QC emits them
inside its own transactions, so what they write commits or rolls back with the
change that caused it:

* results recorded: the first result moves a quarantined lot into testing;
* evaluation recorded: OOS results open Phase I investigations (or post-release
  investigations on a lot whose product is on the market, 21 CFR 211.192);
  alert-limit excursions open trend notices; the lot's lifecycle follows the
  verdict (releases.lifecycle).  Nothing about a past decision is rewritten: a
  failure after release adds an investigation and alerts QA.
"""

from __future__ import annotations

from qc import hooks
from qc.evaluation import LineVerdict
from qc.models import Lot, LotStatus
from releases.lifecycle import RELEASED_STATES, lot_follow_evaluation, lot_mark_in_testing
from releases.models import InvestigationKind
from releases.services.investigations import investigation_open
from services.audit.services import Actor

_ENGINE = Actor.system("evaluation worker")


def results_recorded(event: hooks.ResultsRecorded) -> None:
    """Quarantined -> in testing when the first QC result arrives."""
    if event.lot.status == LotStatus.QUARANTINED:
        lot_mark_in_testing(lot=event.lot, actor=event.actor)


def evaluation_recorded(event: hooks.EvaluationRecorded) -> None:
    lot, outcome = event.lot, event.outcome
    # Re-read under the row lock: a release may have committed while the evaluation ran.
    status, before_hold = (
        Lot.objects.select_for_update(of=("self",))
        .values_list("status", "status_before_hold")
        .get(pk=lot.pk)
    )
    released = status in RELEASED_STATES or (
        status == LotStatus.ON_HOLD and before_hold in RELEASED_STATES
    )
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
    lot_follow_evaluation(lot=lot, evaluation=event.evaluation)


def subscribe() -> None:
    """Subscribe to QC's hooks (idempotent: ``ready()`` may run more than once)."""
    hooks.results_recorded.subscribe(results_recorded)
    hooks.evaluation_recorded.subscribe(evaluation_recorded)
