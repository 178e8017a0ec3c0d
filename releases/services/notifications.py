"""Telling people: in-app notifications, and e-mail by a task once the transaction commits.

Mail is never sent from the web process: the notification rows are written in
the deciding transaction, and on commit a retrying Celery task (documents queue)
mails them, so a mail server that is down never fails or slows a signed decision.

QA officers are told when a lot becomes ready for review, an OOS investigation
opens, or a failure happens after release (21 CFR 211.192); Qualified Persons
when a lot awaits certification or its pending tests conform; QC reviewers when
a lot's results wait for their review.  A notification resolves itself when the
work it announced is done (``notifications_resolve``, called by the service that
did it): it no longer counts as unread.
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
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.celery import app as celery_app

log = structlog.get_logger(__name__)
_NOTIFIER = Actor.system("notifications")


def notify_users(
    *,
    users: Iterable[User],
    kind: str,
    text: str,
    lot: Lot | None = None,
    investigation: Investigation | None = None,
) -> list[Notification]:
    """One notification per person (in the caller's transaction); mail after commit.

    Audited as one ``notification.sent`` event on the lot (or the investigation), so
    who was told what, and when, is part of the lot's audit trail (21 CFR 211.192).
    """
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
    if notifications:
        _audit_sent(notifications, kind=kind, text=text, lot=lot, investigation=investigation)
    mailed = [n.pk for n in notifications if n.recipient.email]
    if mailed:
        transaction.on_commit(lambda: _publish_mail(mailed))
    return notifications


def _audit_sent(
    notifications: list[Notification],
    *,
    kind: str,
    text: str,
    lot: Lot | None,
    investigation: Investigation | None,
) -> None:
    if lot is not None:
        subject = ("lot", lot.lot_number)
    elif investigation is not None:
        subject = ("investigation", investigation.number)
    else:
        subject = ("notification", str(notifications[0].pk))
    with transaction.atomic():
        audit_record(
            actor=_NOTIFIER,
            action=AuditAction.NOTIFICATION_SENT,
            object_type=subject[0],
            object_id=subject[1],
            new_values={
                "kind": kind,
                "text": text,
                "recipients": [n.recipient.username for n in notifications],
                "notification_ids": [n.pk for n in notifications],
                "investigation": investigation.number if investigation is not None else None,
            },
        )


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


def result_review_needed_notify(*, lot: Lot, unreviewed: int) -> list[Notification]:
    """Tell the QC reviewers once while the lot's results wait for their review."""
    waiting = Notification.objects.filter(
        lot=lot, kind=NotificationKind.RESULT_REVIEW_NEEDED, resolved_at__isnull=True
    )
    if not unreviewed or waiting.exists():
        return []
    return notify_role(
        roles=(Role.QC_REVIEWER,),
        kind=NotificationKind.RESULT_REVIEW_NEEDED,
        text=f"Lot {lot.lot_number}: {unreviewed} result(s) wait for a second person's review "
        "before the lot can be decided (21 CFR 211.194(a)(8)).",
        lot=lot,
    )


def notifications_resolve(
    *,
    lot: Lot | None = None,
    investigation: Investigation | None = None,
    kinds: Iterable[str] | None = None,
) -> int:
    """The work announced is done: the notifications stop counting as unread or open.

    In the caller's transaction (the decision, the closing, the review that did the work).
    """
    if lot is None and investigation is None:
        raise ValueError("resolve the notifications of a lot or of an investigation")
    open_ = Notification.objects.filter(resolved_at__isnull=True)
    if lot is not None:
        open_ = open_.filter(lot=lot)
    if investigation is not None:
        open_ = open_.filter(investigation=investigation)
    if kinds is not None:
        open_ = open_.filter(kind__in=list(kinds))
    return open_.update(resolved_at=timezone.now())


def lot_ready_for_review_notify(*, lot: Lot) -> None:
    notify_qa(
        kind=NotificationKind.READY_FOR_REVIEW,
        text=f"Lot {lot.lot_number} is ready for QA review: its current evaluation conforms.",
        lot=lot,
    )


NOTIFICATION_MAIL_TASK = "releases.tasks.notification_mail_send"


def _publish_mail(notification_ids: list[int]) -> None:
    try:
        # By name: the task module imports this one (tasks call services, not back).
        celery_app.send_task(
            NOTIFICATION_MAIL_TASK,
            args=(notification_ids,),
            retry=False,
            retry_policy={"max_retries": 0},
        )
    except Exception as exc:  # kombu raises many kinds of connection errors
        log.warning("notification mail not queued", error=exc.__class__.__name__)


def notifications_mail(*, notification_ids: list[int]) -> int:
    """Mail each notification not mailed yet, one message per person; returns how many.

    Run by the mail task; an SMTP error propagates so the task retries, and each
    message is marked as mailed as soon as the server took it (never sent twice).
    """
    pending = list(
        Notification.objects.filter(pk__in=notification_ids, mailed_at__isnull=True)
        .select_related("recipient", "lot")
        .order_by("pk")
    )
    sent = 0
    with get_connection() as connection:
        for notification in pending:
            subject = f"[evrelease] {NotificationKind(notification.kind).label}"
            if notification.lot is not None:
                subject += f": lot {notification.lot.lot_number}"
            message = EmailMessage(
                subject,
                notification.text,
                settings.DEFAULT_FROM_EMAIL,
                [notification.recipient.email],
                connection=connection,
            )
            message.send()
            Notification.objects.filter(pk=notification.pk).update(mailed_at=timezone.now())
            sent += 1
    return sent


def notification_open(*, user: User, notification_id: int) -> Notification | None:
    """Mark the person's notification read (opening its link) and return it."""
    notification = (
        Notification.objects.filter(recipient=user, pk=notification_id)
        .select_related("lot", "investigation")
        .first()
    )
    if notification is not None and notification.read_at is None:
        notification_mark_read(user=user, notification_id=notification.pk)
    return notification


def notification_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of ``user`` read."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
