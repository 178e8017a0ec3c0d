"""Evaluating lots and storing the verdicts (DOMAIN §4; DESIGN "Rules that keep records safe").

An evaluation is a function of (results, specification version, reference
materials, engine version).  It is stored with the digest of exactly those
inputs and never edited; the newest is current.  Evaluations of one lot are
serialised by a PostgreSQL advisory lock, so two workers never evaluate the
same lot at once, and a repeat with unchanged inputs stores nothing new.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from qc import hooks
from qc.evaluation import LotEvaluation
from qc.models import Evaluation, Lot
from qc.selectors import lot_current_evaluation
from qc.services.evaluation_inputs import lot_evaluate_now
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record

log = structlog.get_logger(__name__)

# Namespace of the per-lot advisory lock (two-key form: namespace, lot id).
_EVALUATION_LOCK_NAMESPACE = 0x45564C  # "EVL"


def evaluation_lines_payload(evaluation: LotEvaluation) -> list[dict[str, Any]]:
    """The stored, JSON form of the line verdicts (what the API and the UI show)."""
    lines = []
    for line in evaluation.lines:
        data = asdict(line)
        data["shown_values"] = [
            {
                "label": shown.label,
                "value": None if shown.value is None else str(shown.value),
                "text": shown.text,
            }
            for shown in line.shown_values
        ]
        lines.append(data)
    return lines


def lot_evaluate(*, lot_id: int) -> Evaluation | None:
    """Evaluate the lot and store the verdict if its inputs changed.

    Returns the new evaluation, or None when the current one already covers
    exactly these inputs (the task is idempotent).
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_EVALUATION_LOCK_NAMESPACE, lot_id]
            )
        lot = Lot.objects.select_related("specification").get(pk=lot_id)
        covered_version = lot.data_version
        outcome = lot_evaluate_now(lot=lot)
        found = lot_current_evaluation(lot=lot)
        current = found.evaluation if found is not None else None
        Lot.objects.filter(pk=lot_id, evaluated_version__lt=covered_version).update(
            evaluated_version=covered_version
        )
        if (
            current is not None
            and current.inputs_digest == outcome.inputs_digest
            and current.specification_id == lot.specification_id
        ):
            return None
        evaluation = Evaluation.objects.create(
            lot_id=lot_id,
            specification_id=lot.specification_id,
            engine_version=outcome.engine_version,
            inputs_digest=outcome.inputs_digest,
            data_version=covered_version,
            verdict=outcome.verdict,
            has_alerts=outcome.has_alerts,
            lines=evaluation_lines_payload(outcome),
            reasons=list(outcome.reasons),
            evaluated_at=outcome.evaluated_at or timezone.now(),
        )
        audit_record(
            actor=Actor.system("evaluation worker"),
            action=AuditAction.LOT_EVALUATED,
            object_type="lot",
            object_id=lot.lot_number,
            old_values={"verdict": current.verdict} if current else None,
            new_values={
                "verdict": evaluation.verdict,
                "evaluation_id": evaluation.pk,
                "inputs_digest": evaluation.inputs_digest,
                "specification_version": lot.specification.version,
                "engine_version": evaluation.engine_version,
            },
            records=[evaluation],
        )
        # The release side reacts in this transaction: OOS investigations, the lifecycle.
        hooks.evaluation_recorded.emit(
            hooks.EvaluationRecorded(lot=lot, evaluation=evaluation, outcome=outcome)
        )
    log.info("lot evaluated", lot=lot.lot_number, verdict=evaluation.verdict)
    return evaluation


def lots_pending_evaluation(*, limit: int = 1000) -> list[int]:
    """Lots whose data changed after their newest evaluation (the reconciler's query)."""
    return list(
        Lot.objects.filter(evaluated_version__lt=F("data_version"))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
