"""Writes on accounts and machine clients, each audited in its transaction."""

from __future__ import annotations

from axes.utils import reset
from django.db import transaction

from services.accounts.models import ApiClient, Role, User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record


@transaction.atomic
def api_client_create(*, name: str, actor: Actor, description: str = "") -> tuple[ApiClient, str]:
    """Create a machine client; return it and its key (shown once, stored hashed)."""
    if ApiClient.objects.filter(name=name, revoked=False).exists():
        raise ValueError(f"an active machine client named {name!r} already exists")
    client, key = ApiClient.objects.create_key(name=name, description=description)
    assert isinstance(client, ApiClient)
    audit_record(
        actor=actor,
        action=AuditAction.API_CLIENT_CREATED,
        object_type="api_client",
        object_id=client.pk,
        new_values={"name": name, "prefix": client.prefix},
    )
    return client, key


@transaction.atomic
def api_client_revoke(*, name: str, actor: Actor, reason: str) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(name=name, revoked=False)
    client.revoked = True
    client.save(update_fields=["revoked"])
    audit_record(
        actor=actor,
        action=AuditAction.API_CLIENT_REVOKED,
        object_type="api_client",
        object_id=client.pk,
        old_values={"revoked": False},
        new_values={"revoked": True},
        reason=reason,
    )
    return client


@transaction.atomic
def user_upsert(
    *,
    username: str,
    role: str,
    password: str,
    first_name: str,
    last_name: str,
    email: str,
    actor: Actor,
) -> tuple[User, bool]:
    """Create the account, or reset its password and role; audited either way."""
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if user is None:
        user = User(username=username)
    old = None if created else {"role": user.role, "is_active": user.is_active}
    user.role = role
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.is_active = True
    user.is_staff = role == Role.ADMINISTRATOR
    user.is_superuser = role == Role.ADMINISTRATOR
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action=AuditAction.USER_CREATED if created else AuditAction.USER_UPDATED,
        object_type="user",
        object_id=user.pk,
        old_values=old,
        new_values={"username": username, "role": role, "password": "(set)"},
    )
    return user, created


@transaction.atomic
def user_unlock(*, username: str, actor: Actor, reason: str) -> None:
    """Lift a lockout (21 CFR 11.300(d)); only an administrator, with a reason."""
    removed = reset(username=username)
    audit_record(
        actor=actor,
        action=AuditAction.USER_UNLOCKED,
        object_type="user",
        object_id=username,
        new_values={"failed_attempts_cleared": removed},
        reason=reason,
    )
