"""Housekeeping of the API platform (schedule with Celery beat, e.g. daily)."""

from celery import shared_task

from services.api.idempotency import idempotency_purge


@shared_task(name="services.api.tasks.idempotency_purge_task", ignore_result=True)
def idempotency_purge_task() -> int:
    return idempotency_purge()
