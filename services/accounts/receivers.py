"""Audit every login, logout and failed login (21 CFR 11.300(d), Annex 11 §12).

Django's auth signals are the only hook that sees every failure, whichever
form or API attempted it, so the audit events are written here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from services.audit.actions import AuditAction
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


@receiver(user_login_failed)
def audit_login_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    purpose = getattr(request, "auth_purpose", "login") if request is not None else "login"
    # Written in its own transaction: a refused attempt must stay recorded even
    # when the surrounding work (a signing request, say) rolls back.
    with transaction.atomic(durable=False):
        audit_record(
            actor=Actor(type="user", id="", name=username or "(no username)"),
            action=_FAILED_ACTIONS.get(purpose, AuditAction.USER_LOGIN_FAILED),
            object_type="user",
            object_id=username,
            new_values={"purpose": purpose},
        )
