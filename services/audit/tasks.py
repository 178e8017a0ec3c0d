"""Celery task of the ``documents`` queue: verify the audit chain (long trails)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from services.audit.actor import Actor, ActorType
from services.audit.verification import CHAIN_VERIFY_TASK, chain_verification_run


@shared_task(
    name=CHAIN_VERIFY_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    max_retries=5,
)
def chain_verify(run_id: str, actor_type: str, actor_id: str, actor_name: str) -> int:
    """Idempotent per ``run_id``: a redelivered run finds its stored result."""
    actor = Actor(type=ActorType(actor_type), id=actor_id, name=actor_name)
    return chain_verification_run(run_id=run_id, actor=actor).pk
