"""Slowing password guessing without handing out a denial of service (OWASP ASVS V2).

Three rules, checked before a password is (OWASP's "lockout must not become a
denial of service"; 21 CFR 11.300(d) asks to detect and report, not to let anyone
who reaches the login page stop every release):

1. **the pair** (user name, client address) is locked after ``LOGIN_FAILURE_LIMIT``
   failed logins or signatures (django-axes, ``AXES_LOCKOUT_PARAMETERS``); an
   administrator unlocks it with a reason.  Other addresses are unaffected.
2. **one user name, every address**: after ``LOGIN_SLOWDOWN_AFTER`` failures within
   ``LOGIN_FAILURE_WINDOW_SECONDS``, each further attempt must wait a growing delay
   after the last failure (``LOGIN_SLOWDOWN_DELAY``, bounded by
   ``LOGIN_SLOWDOWN_MAX_SECONDS``), answered ``429`` with ``Retry-After``.  An address
   the person signed in from within ``LOGIN_KNOWN_ADDRESS_DAYS`` is exempt, so an
   attacker who keeps failing from elsewhere never keeps the owner out.
3. **one address, many user names**: an address that failed for
   ``LOGIN_ADDRESS_USERNAME_LIMIT`` different user names within the window gets
   ``429`` with ``Retry-After`` until the oldest of those failures leaves the window.

A refused (throttled) attempt checks no password, so it is not a failure: it
neither counts toward a lock nor extends a delay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from axes.models import AccessFailureLog, AccessLog
from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone
from django.utils.module_loading import import_string

from services.errors import TooManyAttempts


def doubling_delay(excess: int) -> float:
    """1, 2, 4, 8 ... seconds for the 1st, 2nd, 3rd ... failure past the threshold."""
    return float(2 ** min(max(excess - 1, 0), 30))


@dataclass(frozen=True, slots=True)
class Throttle:
    code: str
    reason: str
    retry_after: int

    def error(self) -> TooManyAttempts:
        return TooManyAttempts(self.reason, code=self.code, retry_after=self.retry_after)


def _delay(excess: int) -> float:
    setting = settings.LOGIN_SLOWDOWN_DELAY
    function = cast(
        Callable[[int], float], import_string(setting) if isinstance(setting, str) else setting
    )
    return min(float(function(excess)), float(settings.LOGIN_SLOWDOWN_MAX_SECONDS))


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def known_address(*, username: str, client_address: str, now: datetime) -> bool:
    since = now - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    return AccessLog.objects.filter(
        username=username, ip_address=client_address, attempt_time__gte=since
    ).exists()


def login_throttle(
    *, username: str, client_address: str, now: datetime | None = None
) -> Throttle | None:
    """Why an attempt for ``username`` from ``client_address`` must wait now, or None."""
    now = now or timezone.now()
    window = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = AccessFailureLog.objects.filter(attempt_time__gte=window)

    from_address = recent.filter(ip_address=client_address)
    names = from_address.values("username").distinct().count()
    if names >= settings.LOGIN_ADDRESS_USERNAME_LIMIT:
        oldest = from_address.aggregate(t=Min("attempt_time"))["t"] or now
        until = oldest + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        return Throttle(
            "address_throttled",
            f"too many failed attempts for different accounts from {client_address}; "
            "try again later",
            _seconds(until, now),
        )

    if not username:
        return None
    of_user = recent.filter(username=username).aggregate(n=Count("id"), last=Max("attempt_time"))
    excess = of_user["n"] - settings.LOGIN_SLOWDOWN_AFTER + 1
    if of_user["last"] is None or excess <= 0:
        return None
    until = of_user["last"] + timedelta(seconds=_delay(excess))
    if until <= now:
        return None
    if known_address(username=username, client_address=client_address, now=now):
        return None
    return Throttle(
        "username_throttled",
        f"repeated failed attempts for this account from several addresses; "
        f"wait {_seconds(until, now)} seconds before the next attempt",
        _seconds(until, now),
    )
