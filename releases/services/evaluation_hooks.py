"""What a stored evaluation sets in motion on the release side.

Called by the evaluation service inside its transaction: OOS results open
Phase I investigations (or post-release investigations on a released lot,
21 CFR 211.192); alert-limit excursions open trend notices; the lot's
lifecycle follows the verdict.
"""

from __future__ import annotations

from typing import Any

from qc.evaluation import LotEvaluation
from qc.models import Evaluation, Lot
from releases.models import InvestigationKind
from releases.services.investigations import RELEASED_STATES, investigation_open
from services.audit.services import Actor

_ENGINE = Actor.system("evaluation worker")


def evaluation_recorded(*, lot: Lot, evaluation: Evaluation, outcome: LotEvaluation) -> None:
    released = lot.status in RELEASED_STATES
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
    try:
        from releases.lifecycle import lot_follow_evaluation
    except ImportError:  # the release workflow is not installed yet
        return None
    return lot_follow_evaluation(lot=lot, evaluation=evaluation)
