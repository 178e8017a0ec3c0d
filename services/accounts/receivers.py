"""Audit every sign-in, sign-out, failed attempt and lock (21 CFR 11.300(d), Annex 11 §12).

Django's auth signals (and django-axes' ``user_locked_out``) are the only hooks that
see every failure, whichever form, API call or signature attempted it, so these
audit events are written here (the one place the platform writes from signals: the
change they record is Django's or django-axes').
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from services.accounts.services import lock_record
from services.audit.actions import AuditAction
from services.audit.actor import ActorType
from services.audit.services import Actor, audit_record

# What a failed authentication was for: signing in, or re-entering the password to sign.
_FAILED_ACTIONS = {
    "login": AuditAction.USER_LOGIN_FAILED,
    "signature": AuditAction.USER_SIGNATURE_FAILED,
}


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor.of(user),
            action=AuditAction.USER_LOGIN,
            object_type="user",
            object_id=user.pk,
        )


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:  # a session that had already expired
        return
    ended = getattr(request, "evrelease_session_ended", "")  # see SessionGuardMiddleware
    with transaction.atomic():
        audit_record(
            actor=Actor.of(user) if not ended else Actor.system("session guard"),
            action=AuditAction.USER_SESSION_ENDED if ended else AuditAction.USER_LOGOUT,
            object_type="user",
            object_id=user.pk,
            new_values={"why": ended} if ended else None,
            reason=ended,
        )


@receiver(user_locked_out)
def audit_lock(sender: Any, request: Any, username: Any, ip_address: Any, **kwargs: Any) -> None:
    """django-axes locked (user name, address): one ``user.locked`` event, and a notice."""
    if request is None or getattr(request, "evrelease_was_locked", False):
        return  # an attempt refused because the pair was already locked
    lock_record(
        username=str(username or "")[:150],
        client_address=str(ip_address or ""),
        failures=int(getattr(request, "axes_failures_since_start", 0) or 0),
        purpose=getattr(request, "auth_purpose", "login"),
    )


@receiver(user_login_failed)
def audit_login_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    purpose = getattr(request, "auth_purpose", "login") if request is not None else "login"
    # Passwords are checked outside any transaction (signer_authenticate refuses
    # otherwise), so this commits at once: a refused attempt stays recorded although
    # the signing it was for never happens.
    with transaction.atomic():
        audit_record(
            actor=Actor(type=ActorType.USER, id="", name=username or "(no username)"),
            action=_FAILED_ACTIONS.get(purpose, AuditAction.USER_LOGIN_FAILED),
            object_type="user",
            object_id=username,
            new_values={"purpose": purpose, **getattr(request, "auth_signing_for", {})},
        )
