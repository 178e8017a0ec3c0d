"""What a stored evaluation sets in motion on the release side.

Called by the evaluation service inside its transaction: OOS results open
Phase I investigations (or post-release investigations on a lot whose product
is on the market, 21 CFR 211.192); alert-limit excursions open trend notices;
the lot's lifecycle follows the verdict (releases.lifecycle).  Nothing about a
past decision is rewritten: a failure after release adds an investigation and
alerts QA.
"""

from __future__ import annotations

from typing import Any

from qc.evaluation import LotEvaluation
from qc.models import Evaluation, Lot, LotStatus
from releases.lifecycle import RELEASED_STATES
from releases.models import InvestigationKind
from releases.services.investigations import investigation_open
from services.audit.services import Actor

_ENGINE = Actor.system("evaluation worker")


def evaluation_recorded(*, lot: Lot, evaluation: Evaluation, outcome: LotEvaluation) -> None:
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
        if line.verdict == "conforms_with_alert" and line.used_result_ids:
            investigation_open(
                lot=lot,
                kind=InvestigationKind.TREND,
                actor=_ENGINE,
                result_id=int(max(line.used_result_ids, key=int)),
                line_name=line.display_name,
                summary=line.reason,
            )
    _lifecycle_follow(lot, evaluation)


def _lifecycle_follow(lot: Lot, evaluation: Evaluation) -> Any:
    from releases.lifecycle import lot_follow_evaluation

    return lot_follow_evaluation(lot=lot, evaluation=evaluation)
