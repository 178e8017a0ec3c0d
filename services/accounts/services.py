"""Writes on people, machine clients and lockouts: one service per change, each audited.

Who may sign is decided here (21 CFR 11.10(d),(g), 11.300): a role, the active
flag, the printed name, a password and a lock.  Every change, whether it comes
from the admin, a management command or the demo seed, goes through one of these
functions, which writes a typed audit event with the old and new values and the
reason in the transaction that makes the change.  An administrator never chooses
another person's password: :func:`user_password_reset` removes the current one
and mails the person a one-time set-password link; the person sets their own
(:func:`user_password_set`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction

from services.accounts import notices
from services.accounts.models import ApiClient, Role, User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.errors import InvalidInput, NotFound, Problem, Refused

# Roles whose holders sign QA decisions and certify lots: granting one is the change
# an inspector looks for first (the auditor's views filter on user.role_changed).
SIGNING_ROLES = frozenset({Role.QA_OFFICER, Role.QUALIFIED_PERSON})


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput.single(
            "reason",
            "a change to an account needs a reason (EU GMP Annex 11 §9)",
            code="reason_required",
        )
    return text


def _role(role: str) -> str:
    if role not in Role.values:
        raise InvalidInput.single("role", f"unknown role {role!r}", code="unknown_role")
    return role


def _locked_user(username: str) -> User:
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFound(f"no account named {username!r}", code="user_not_found", field="username")
    return user


def _admin_flags(role: str) -> dict[str, bool]:
    """The Django admin opens to administrators only: the role is the one authority."""
    administrator = role == Role.ADMINISTRATOR
    return {"is_staff": administrator, "is_superuser": administrator}


def _details(user: User) -> dict[str, str]:
    return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    actor: Actor,
    username: str,
    role: str,
    reason: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    """Create an account without a usable password; its owner sets one (see below)."""
    reason = _reason(reason)
    _role(role)
    username = username.strip()
    if not username:
        raise InvalidInput.single("username", "a username is required", code="required")
    if User.objects.filter(username=username).exists():
        raise Refused(
            f"an account named {username!r} already exists",
            [Problem("username_taken", "this username is taken", "username")],
        )
    user = User(
        username=username,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_active=True,
        **_admin_flags(role),
    )
    user.set_unusable_password()
    user.save()
    audit_record(
        actor=actor,
        action=AuditAction.USER_CREATED,
        object_type="user",
        object_id=user.pk,
        new_values={
            "username": username,
            "role": role,
            **_details(user),
            "is_active": True,
            "password": "(none: set by its owner)",
        },
        reason=reason,
    )
    return user


@transaction.atomic
def user_change_role(*, actor: Actor, username: str, role: str, reason: str) -> User:
    """Give an account another role (granting QA or QP makes a signer: reason required)."""
    reason = _reason(reason)
    _role(role)
    user = _locked_user(username)
    if user.role == role:
        return user
    old = {"role": user.role, "is_staff": user.is_staff, "is_superuser": user.is_superuser}
    user.role = role
    flags = _admin_flags(role)
    user.is_staff, user.is_superuser = flags["is_staff"], flags["is_superuser"]
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    audit_record(
        actor=actor,
        action=AuditAction.USER_ROLE_CHANGED,
        object_type="user",
        object_id=user.pk,
        old_values=old,
        new_values={
            "role": role,
            **flags,
            "username": user.username,
            "grants_signing_role": role in SIGNING_ROLES,
        },
        reason=reason,
    )
    return user


@transaction.atomic
def user_change_details(
    *, actor: Actor, username: str, reason: str, first_name: str, last_name: str, email: str
) -> User:
    """Change the printed name (it appears on every later signature) or the e-mail."""
    reason = _reason(reason)
    user = _locked_user(username)
    old = _details(user)
    new = {"first_name": first_name, "last_name": last_name, "email": email}
    if old == new:
        return user
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.save(update_fields=["first_name", "last_name", "email"])
    _audit_changed(
        actor=actor,
        action=AuditAction.USER_DETAILS_CHANGED,
        object_type="user",
        object_id=user.pk,
        old=old,
        new=new,
        reason=reason,
    )
    return user


@transaction.atomic
def user_set_active(*, actor: Actor, username: str, is_active: bool, reason: str) -> User:
    """Deactivate (its open sessions end on their next request) or reactivate an account."""
    reason = _reason(reason)
    user = _locked_user(username)
    if user.is_active == is_active:
        return user
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=AuditAction.USER_REACTIVATED if is_active else AuditAction.USER_DEACTIVATED,
        object_type="user",
        object_id=user.pk,
        old_values={"is_active": not is_active},
        new_values={"is_active": is_active},
        reason=reason,
    )
    return user


@transaction.atomic
def user_password_reset(*, actor: Actor, username: str, reason: str) -> User:
    """Remove the account's password and mail its owner a one-time set-password link.

    Nobody knows a working password until the owner sets one: the link goes to the
    owner's e-mail address only (built by the mail task, so the token never travels
    through the broker), and it stops working once used or after
    ``PASSWORD_RESET_TIMEOUT``.
    """
    reason = _reason(reason)
    user = _locked_user(username)
    if not user.email:
        raise Refused(
            f"{username} has no e-mail address to receive a set-password link",
            [Problem("email_required", "add the person's e-mail address first", "email")],
        )
    had_password = user.has_usable_password()
    user.set_unusable_password()  # also voids any earlier link (the token covers it)
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action=AuditAction.USER_PASSWORD_RESET,
        object_type="user",
        object_id=user.pk,
        old_values={"password": "(set)" if had_password else "(none)"},
        new_values={"password": "(none: set-password link mailed)", "mailed_to": user.email},
        reason=reason,
    )
    notices.password_link_send(user_id=user.pk)
    return user


def password_problems(*, user: User, password: str) -> list[Problem]:
    """What is wrong with ``password`` for ``user`` (AUTH_PASSWORD_VALIDATORS), as problems."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return [
            Problem(str(error.code or "password_invalid"), message, "new_password1")
            for error, message in zip(exc.error_list, exc.messages, strict=True)
        ]
    return []


@transaction.atomic
def user_password_set(*, user: User, token: str, password: str) -> User:
    """The account's owner sets their own password with the one-time link's ``token``.

    The token is checked under the account's row lock, so a link works once: setting
    the password changes what the token was derived from.
    """
    user = _locked_user(user.username)
    if not default_token_generator.check_token(user, token):
        raise Refused(
            "this set-password link is no longer valid; ask an administrator for a new one",
            [Problem("link_invalid", "the link was used already or has expired")],
        )
    problems = password_problems(user=user, password=password)
    if problems:
        raise InvalidInput(problems, headline="the password was not accepted")
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        actor=user.audit_actor(),
        action=AuditAction.USER_PASSWORD_SET,
        object_type="user",
        object_id=user.pk,
        new_values={"password": "(set by its owner)", "via": "set-password link"},
        reason="the account's owner set their own password",
    )
    return user


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
    reason: str,
) -> tuple[User, bool]:
    """Demo seeding only (``seed_demo``): create the account or bring it back to ``role``,
    with a password the operator chose.  Each change is audited like any other."""
    created = not User.objects.filter(username=username).exists()
    if created:
        user_create(
            actor=actor,
            username=username,
            role=role,
            reason=reason,
            first_name=first_name,
            last_name=last_name,
            email=email,
        )
    else:
        user_change_role(actor=actor, username=username, role=role, reason=reason)
        user_change_details(
            actor=actor,
            username=username,
            reason=reason,
            first_name=first_name,
            last_name=last_name,
            email=email,
        )
        user_set_active(actor=actor, username=username, is_active=True, reason=reason)
    user = _locked_user(username)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action=AuditAction.USER_PASSWORD_SET,
        object_type="user",
        object_id=user.pk,
        new_values={"password": "(set)", "via": "seed_demo"},
        reason=reason,
    )
    return user, created


# ---------------------------------------------------------------------------
# Lockouts (21 CFR 11.300(d))
# ---------------------------------------------------------------------------


def lock_record(*, username: str, client_address: str, failures: int, purpose: str) -> None:
    """Record that (``username``, ``client_address``) just got locked, and tell the
    administrators (mail on commit).  Called from django-axes' ``user_locked_out``
    signal, outside any transaction: the lock is already committed."""
    user = User.objects.filter(username=username).first()
    with transaction.atomic():
        audit_record(
            actor=Actor.system("lockout"),
            action=AuditAction.USER_LOCKED,
            object_type="user",
            object_id=user.pk if user is not None else username,
            new_values={
                "username": username,
                "client_address": client_address,
                "failures": failures,
                "purpose": purpose,
                "known_account": user is not None,
            },
            reason=f"{failures} failed attempts from {client_address}",
        )
        notices.lock_notice_send(
            username=username, client_address=client_address, failures=failures
        )


def _lock_rows(*, username: str, client_address: str | None) -> Any:
    rows = AccessAttempt.objects.filter(username=username)
    return rows.filter(ip_address=client_address) if client_address else rows


@transaction.atomic
def user_unlock(
    *, username: str, actor: Actor, reason: str, client_address: str | None = None
) -> int:
    """Lift a lockout (every address, or one); only an administrator, with a reason.

    The failure counts are cleared; the failures themselves stay in the audit trail.
    Returns how many lockout records were cleared.
    """
    reason = _reason(reason)
    rows = _lock_rows(username=username, client_address=client_address)
    cleared: list[Mapping[str, Any]] = [
        {"client_address": row.ip_address, "failures": row.failures_since_start}
        for row in rows.select_for_update().order_by("ip_address")
    ]
    rows.delete()
    user = User.objects.filter(username=username).first()
    audit_record(
        actor=actor,
        action=AuditAction.USER_UNLOCKED,
        object_type="user",
        object_id=user.pk if user is not None else username,
        old_values={"locks": cleared},
        new_values={
            "username": username,
            "client_address": client_address or "(every address)",
            "failed_attempts_cleared": len(cleared),
        },
        reason=reason,
    )
    return len(cleared)


# ---------------------------------------------------------------------------
# Machine clients
# ---------------------------------------------------------------------------


def _client_values(client: ApiClient) -> dict[str, Any]:
    return {
        "name": client.name,
        "description": client.description,
        "expiry_date": client.expiry_date.isoformat() if client.expiry_date else None,
    }


@transaction.atomic
def api_client_create(
    *,
    name: str,
    actor: Actor,
    description: str = "",
    reason: str = "",
    expiry_date: datetime | None = None,
) -> tuple[ApiClient, str]:
    """Create a machine client; return it and its key (shown once, stored hashed)."""
    if ApiClient.objects.filter(name=name, revoked=False).exists():
        raise Refused(
            f"an active machine client named {name!r} already exists",
            [Problem("api_client_exists", "an active machine client has this name", "name")],
        )
    client, key = ApiClient.objects.create_key(
        name=name, description=description, expiry_date=expiry_date
    )
    assert isinstance(client, ApiClient)
    audit_record(
        actor=actor,
        action=AuditAction.API_CLIENT_CREATED,
        object_type="api_client",
        object_id=client.pk,
        new_values={**_client_values(client), "prefix": client.prefix},
        reason=reason.strip(),
    )
    return client, key


def _locked_client(
    *, name: str | None = None, pk: str | None = None, active: bool = True
) -> ApiClient:
    clients = ApiClient.objects.select_for_update()
    if active:
        clients = clients.filter(revoked=False)
    client = clients.filter(pk=pk).first() if pk is not None else clients.filter(name=name).first()
    if client is None:
        raise NotFound(
            f"no active machine client named {name or pk!r}", code="api_client_not_found"
        )
    return client


@transaction.atomic
def api_client_change(
    *,
    actor: Actor,
    client_id: str,
    reason: str,
    name: str,
    description: str,
    expiry_date: datetime | None,
) -> ApiClient:
    """Rename a machine client, describe it, or change when its key expires."""
    reason = _reason(reason)
    client = _locked_client(pk=client_id, active=False)
    old = _client_values(client)
    client.name, client.description, client.expiry_date = name, description, expiry_date
    new = _client_values(client)
    if old == new:
        return client
    client.save(update_fields=["name", "description", "expiry_date"])
    _audit_changed(
        actor=actor,
        action=AuditAction.API_CLIENT_CHANGED,
        object_type="api_client",
        object_id=client.pk,
        old=old,
        new=new,
        reason=reason,
    )
    return client


@transaction.atomic
def api_client_revoke(
    *, actor: Actor, reason: str, name: str | None = None, client_id: str | None = None
) -> ApiClient:
    """Revoke a machine client's key for good (its requests get 401 from now on)."""
    reason = _reason(reason)
    client = _locked_client(name=name, pk=client_id)
    client.revoked = True
    client.save(update_fields=["revoked"])
    audit_record(
        actor=actor,
        action=AuditAction.API_CLIENT_REVOKED,
        object_type="api_client",
        object_id=client.pk,
        old_values={"revoked": False},
        new_values={"revoked": True, "name": client.name},
        reason=reason,
    )
    return client


def _audit_changed(
    *,
    actor: Actor,
    action: AuditAction,
    object_type: str,
    object_id: object,
    old: dict[str, Any],
    new: dict[str, Any],
    reason: str,
) -> None:
    """Audit only the fields that changed, old beside new (21 CFR 11.10(e))."""
    changed = [key for key in new if old[key] != new[key]]
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        old_values={key: old[key] for key in changed},
        new_values={key: new[key] for key in changed},
        reason=reason,
    )
