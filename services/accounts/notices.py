"""Mail about accounts, sent by a task once the transaction commits.

The accounts service cannot use the release side's in-app notifications
(``releases`` may import ``services``, never the reverse), so it owns its mail:
on commit it publishes ``services.accounts.tasks.account_mail_send`` (documents
queue), and the task composes and sends the message.  Mail is never sent from the
web process, so a mail server that is down never fails or slows the change.

Two messages:

- a **lock notice** to every active administrator with an e-mail address (and to
  ``ADMINS``): which account, which client address, how many failures
  (21 CFR 11.300(d): detect *and report*);
- a **set-password link** to the account's owner only.  The task builds the
  one-time token when it sends, so no secret travels through the broker.

The audit trail is the record (``user.locked``, ``user.password_reset``); when the
broker cannot be reached the mail is lost, a warning is logged, and the
administrator can issue the link again.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from services.accounts.models import Role, User
from services.celery import app as celery_app

log = structlog.get_logger(__name__)

ACCOUNT_MAIL_TASK = "services.accounts.tasks.account_mail_send"
LOCK_NOTICE = "lock_notice"
PASSWORD_LINK = "password_link"


def _publish(kind: str, payload: dict[str, Any]) -> None:
    try:
        # By name: the task module imports this one.
        celery_app.send_task(
            ACCOUNT_MAIL_TASK,
            args=(kind, payload),
            queue="documents",
            retry=False,
            retry_policy={"max_retries": 0},
        )
    except Exception as exc:  # kombu raises many kinds of connection errors
        log.warning("account mail not queued", kind=kind, error=exc.__class__.__name__)


def lock_notice_send(*, username: str, client_address: str, failures: int) -> None:
    payload = {"username": username, "client_address": client_address, "failures": failures}
    transaction.on_commit(lambda: _publish(LOCK_NOTICE, payload))


def password_link_send(*, user_id: int) -> None:
    transaction.on_commit(lambda: _publish(PASSWORD_LINK, {"user_id": user_id}))


def password_link(user: User) -> str:
    """The absolute one-time link for ``user`` (valid for PASSWORD_RESET_TIMEOUT)."""
    path = reverse(
        "password-set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL.rstrip("/") + path


def administrator_addresses() -> list[str]:
    addresses = User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).exclude(email="")
    emails = list(addresses.order_by("pk").values_list("email", flat=True))
    emails += [email for _, email in getattr(settings, "ADMINS", ()) if email not in emails]
    return emails


def _lock_message(payload: dict[str, Any]) -> EmailMessage | None:
    recipients = administrator_addresses()
    if not recipients:
        return None
    username, address = payload["username"], payload["client_address"]
    body = (
        f"The account {username!r} was locked for the client address {address} after "
        f"{payload['failures']} failed sign-in or signature attempts (21 CFR 11.300(d)).\n\n"
        "Other addresses are not affected: the person can still sign in from their own "
        "workstation.  If the attempts were theirs, unlock it with a reason:\n"
        f"  python manage.py unlock_account {username} --address {address} --reason '...'\n"
        "or in the administration, Access attempts -> 'Unlock, with a reason'.\n"
        "Every attempt is in the audit trail (user.login_failed, user.locked)."
    )
    return EmailMessage(
        f"[evrelease] Account {username} locked for {address}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )


def _link_message(payload: dict[str, Any]) -> EmailMessage | None:
    user = User.objects.filter(pk=payload["user_id"], is_active=True).first()
    if user is None or not user.email or user.has_usable_password():
        return None  # deactivated meanwhile, or the password was already set
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    body = (
        f"Hello {user.printed_name},\n\n"
        f"an administrator issued a set-password link for your evrelease account "
        f"{user.username!r}.  Choose your own password here (the link works once, "
        f"for {hours} hours):\n\n  {password_link(user)}\n\n"
        "Nobody else knows it: your password is also what you re-enter to sign "
        "records (21 CFR 11.200).  If you did not expect this message, tell your "
        "QA department."
    )
    return EmailMessage(
        "[evrelease] Set your password", body, settings.DEFAULT_FROM_EMAIL, [user.email]
    )


_COMPOSERS = {LOCK_NOTICE: _lock_message, PASSWORD_LINK: _link_message}


def account_mail(*, kind: str, payload: dict[str, Any]) -> int:
    """Compose and send one account message; returns how many were sent (0 or 1).

    Run by the mail task; an SMTP error propagates so the task retries.
    """
    message = _COMPOSERS[kind](payload)
    if message is None:
        return 0
    with get_connection() as connection:
        message.connection = connection
        message.send()
    return 1
