"""Celery tasks of the ``documents`` queue (settings route ``releases.tasks.*`` there).

Idempotent and acknowledged late: a redelivered ``certificate_generate`` finds
the certificate already issued.  The database, not the broker, says what is
still to do: ``reconcile_certificates`` finds releasing decisions without a
certificate (schedule it with beat next to the evaluation reconciler).
"""

from __future__ import annotations

import smtplib

import structlog
from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from releases.services.certificates import (
    CERTIFICATE_TASK,
    certificate_enqueue_on_commit,
    certificate_issue,
    dispositions_without_certificate,
)
from releases.services.notifications import NOTIFICATION_MAIL_TASK, notifications_mail

log = structlog.get_logger(__name__)


@shared_task(
    name=CERTIFICATE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=10,
)
def certificate_generate(
    disposition_id: int, supersedes_id: int | None = None, correction_reason: str = ""
) -> int | None:
    certificate = certificate_issue(
        disposition_id=disposition_id,
        supersedes_id=supersedes_id,
        correction_reason=correction_reason,
    )
    return certificate.pk if certificate else None


@shared_task(name="releases.tasks.reconcile_certificates", acks_late=True)
def reconcile_certificates(limit: int = 100) -> int:
    pending = dispositions_without_certificate(limit=limit)
    with transaction.atomic():
        for disposition_id in pending:
            certificate_enqueue_on_commit(disposition_id=disposition_id)
    if pending:
        log.info("certificate reconciler re-enqueued decisions", count=len(pending))
    return len(pending)


@shared_task(
    name=NOTIFICATION_MAIL_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError, smtplib.SMTPException, OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=12,
)
def notification_mail_send(notification_ids: list[int]) -> int:
    return notifications_mail(notification_ids=notification_ids)
