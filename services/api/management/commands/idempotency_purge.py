from typing import Any

from django.core.management.base import BaseCommand

from services.api.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete idempotency keys older than IDEMPOTENCY_KEY_TTL (run daily; also a Celery task)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_purge()
        self.stdout.write(f"deleted {deleted} expired idempotency key(s)")
