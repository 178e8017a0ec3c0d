"""Readiness checks: each returns None when healthy, or a short reason."""

from __future__ import annotations

from pathlib import Path

import redis
from django.conf import settings
from django.db import connection


def database_problem() -> str | None:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        connection.close()
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def broker_problem() -> str | None:
    if settings.REDIS_URL:
        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
            )
            client.ping()
        except Exception as exc:
            return f"broker unreachable: {exc.__class__.__name__}"
        return None
    folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    if not folder.is_dir():
        return f"broker folder {folder} is missing"
    return None
