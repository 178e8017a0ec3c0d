"""Reads about accounts and their locks."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def account_locked(*, username: str, client_address: str) -> bool:
    """Is (``username``, ``client_address``) locked (django-axes' count, every user agent)?"""
    failures = AccessAttempt.objects.filter(username=username, ip_address=client_address).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return bool(failures and failures >= settings.AXES_FAILURE_LIMIT)
