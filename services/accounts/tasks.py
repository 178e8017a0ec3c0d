"""Celery task of the ``documents`` queue: mail about accounts (see ``notices``)."""

from __future__ import annotations

from smtplib import SMTPException
from typing import Any

from celery import shared_task

from services.accounts.notices import account_mail


@shared_task(
    name="services.accounts.tasks.account_mail_send",
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def account_mail_send(kind: str, payload: dict[str, Any]) -> int:
    return account_mail(kind=kind, payload=payload)
