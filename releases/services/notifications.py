"""Telling people: in-app notifications, and e-mail once the transaction commits.

QA officers are told when a lot becomes ready for review, an OOS investigation
opens, or a failure happens after release (21 CFR 211.192); Qualified Persons
when a lot awaits certification or its pending tests conform.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from qc.models import Lot
from releases.models import Investigation, Notification, NotificationKind
from services.accounts.models import Role, User

log = structlog.get_logger(__name__)


def notify_users(
    *,
    users: Iterable[User],
    kind: str,
    text: str,
    lot: Lot | None = None,
    investigation: Investigation | None = None,
) -> list[Notification]:
    """One notification per person (in the caller's transaction); mail after commit."""
    recipients = [user for user in users if user.is_active]
    now = timezone.now()
    notifications = Notification.objects.bulk_create(
        Notification(
            recipient=user,
            kind=kind,
            text=text,
            lot=lot,
            investigation=investigation,
            created_at=now,
        )
        for user in recipients
    )
    addresses = sorted({user.email for user in recipients if user.email})
    if addresses:
        subject = f"[evrelease] {NotificationKind(kind).label}"
        if lot is not None:
            subject += f": lot {lot.lot_number}"
        transaction.on_commit(lambda: _send_mail(subject, text, addresses))
    return notifications


def notify_role(
    *,
    roles: tuple[str, ...],
    kind: str,
    text: str,
    lot: Lot | None = None,
    investigation: Investigation | None = None,
) -> list[Notification]:
    users = User.objects.filter(role__in=roles, is_active=True).order_by("pk")
    return notify_users(users=users, kind=kind, text=text, lot=lot, investigation=investigation)


def notify_qa(
    *, kind: str, text: str, lot: Lot | None = None, investigation: Investigation | None = None
) -> list[Notification]:
    return notify_role(
        roles=(Role.QA_OFFICER,), kind=kind, text=text, lot=lot, investigation=investigation
    )


def notify_qps(*, kind: str, text: str, lot: Lot | None = None) -> list[Notification]:
    return notify_role(roles=(Role.QUALIFIED_PERSON,), kind=kind, text=text, lot=lot)


def lot_ready_for_review_notify(*, lot: Lot) -> None:
    notify_qa(
        kind=NotificationKind.READY_FOR_REVIEW,
        text=f"Lot {lot.lot_number} is ready for QA review: its current evaluation conforms.",
        lot=lot,
    )


def _send_mail(subject: str, body: str, addresses: list[str]) -> None:
    """Send one message per recipient; a mail failure never undoes the committed change."""
    try:
        with get_connection() as connection:
            connection.send_messages(
                [
                    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
                    for address in addresses
                ]
            )
    except Exception as exc:  # SMTP and socket errors of many kinds
        log.warning("notification mail not sent", error=exc.__class__.__name__, to=addresses)


def notification_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of ``user`` read."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
