"""Celery tasks of the ``evaluation`` queue.

Tasks are idempotent (the service stores nothing when the inputs are
unchanged), acknowledged late and re-queued if their worker dies
(settings: CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST), retried
with backoff on database errors, and never the only record of pending work:
``reconcile_evaluations`` (beat) finds every lot whose data changed after its
newest evaluation, so a broker outage or a crash between commit and publish
loses nothing.
"""

from __future__ import annotations

import structlog
from celery import shared_task
from django.db import InterfaceError, OperationalError

from qc.services.evaluation import lot_evaluate, lots_pending_evaluation

log = structlog.get_logger(__name__)

# Publishing must never hold up (or fail) the request that stored the data:
# the reconciler re-enqueues whatever could not be published.
_PUBLISH_RETRY_POLICY = {"max_retries": 0}


@shared_task(
    name="qc.tasks.evaluate_lot",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=10,
)
def evaluate_lot(lot_id: int) -> int | None:
    evaluation = lot_evaluate(lot_id=lot_id)
    return evaluation.pk if evaluation else None


@shared_task(name="qc.tasks.reconcile_evaluations", acks_late=True)
def reconcile_evaluations(limit: int = 1000) -> int:
    pending = lots_pending_evaluation(limit=limit)
    for lot_id in pending:
        enqueue_lot_evaluation(lot_id)
    if pending:
        log.info("reconciler re-enqueued lots", count=len(pending))
    return len(pending)


def enqueue_lot_evaluation(lot_id: int) -> bool:
    """Publish an evaluation task; on a broker failure log it and let the reconciler act."""
    try:
        evaluate_lot.apply_async((lot_id,), retry=False, retry_policy=_PUBLISH_RETRY_POLICY)
    except Exception as exc:  # kombu raises many kinds of connection errors
        log.warning(
            "could not publish evaluation; the reconciler will retry",
            lot_id=lot_id,
            error=exc.__class__.__name__,
        )
        return False
    return True
