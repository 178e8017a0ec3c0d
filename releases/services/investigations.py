"""Opening investigations and adding to their record (FDA OOS guidance; 21 CFR 211.192).

Opened by the system when the engine confirms a result out of specification
(OOS), outside an alert limit (trend notice), or failing after release; opened
by QA for a deviation.  Re-evaluations never open a second one for the same
result and kind.  The method's retest budget is copied when an investigation
opens, so it cannot be raised after the fact (FDA OOS guidance: the number of
retests is fixed in advance).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from qc.models import Lot, Result
from releases.models import (
    EntryType,
    Investigation,
    InvestigationAttachment,
    InvestigationEntry,
    InvestigationKind,
    NotificationKind,
)
from releases.policy import ActionKey
from releases.services.commands import Act, investigation_command, lot_command
from releases.services.notifications import notify_qa
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.errors import InvalidInput
from services.esign.models import Signature

ENTRY_ACTIONS: dict[str, AuditAction] = {
    EntryType.OPENED: AuditAction.INVESTIGATION_OPENED,
    EntryType.CHECK: AuditAction.INVESTIGATION_CHECK,
    EntryType.NOTE: AuditAction.INVESTIGATION_NOTE,
    EntryType.PHASE_ONE_CONCLUDED: AuditAction.INVESTIGATION_PHASE_ONE_CONCLUDED,
    EntryType.INVALIDATION_PROPOSED: AuditAction.INVESTIGATION_INVALIDATION_PROPOSED,
    EntryType.RESULT_INVALIDATED: AuditAction.INVESTIGATION_RESULT_INVALIDATED,
    EntryType.RETEST_ALLOWED: AuditAction.INVESTIGATION_RETEST_ALLOWED,
    EntryType.LOTS_CHECKED: AuditAction.INVESTIGATION_LOTS_CHECKED,
    EntryType.CONCLUDED: AuditAction.INVESTIGATION_CONCLUDED,
    EntryType.ATTACHMENT_ADDED: AuditAction.INVESTIGATION_ATTACHMENT_ADDED,
}

_PREFIX = {
    InvestigationKind.OOS: "OOS",
    InvestigationKind.TREND: "TRD",
    InvestigationKind.CONTROL_RULE: "OOT",
    InvestigationKind.POST_RELEASE: "PRF",
    InvestigationKind.DEVIATION: "DEV",
}
_ALERTS = {
    InvestigationKind.OOS: (NotificationKind.OOS_OPENED, "An OOS investigation opened"),
    InvestigationKind.POST_RELEASE: (
        NotificationKind.POST_RELEASE_FAILURE,
        "A result failed after release; an investigation opened",
    ),
    InvestigationKind.CONTROL_RULE: (
        NotificationKind.OUT_OF_TREND,
        "A control-chart rule was broken; an out-of-trend notice opened",
    ),
}


def investigation_open(
    *,
    lot: Lot,
    kind: str,
    summary: str,
    actor: Actor,
    result_id: int | None = None,
    line_name: str = "",
) -> Investigation:
    """Open an investigation, or return the one already open for this result and kind."""
    if result_id is not None:
        existing = Investigation.objects.filter(result_id=result_id, kind=kind).first()
        if existing is not None:
            return existing
    budget = 0
    if result_id is not None:
        budget = (
            Result.objects.filter(pk=result_id)
            .values_list("test__retest_budget", flat=True)
            .first()
            or 0
        )
    now = timezone.now()
    with transaction.atomic():
        investigation = Investigation.objects.create(
            number=uuid.uuid4().hex,
            kind=kind,
            lot=lot,
            result_id=result_id,
            line_name=line_name,
            summary=summary,
            opened_at=now,
            opened_by=actor.name,
            retest_budget=budget,
        )
        investigation.number = f"{_PREFIX[InvestigationKind(kind)]}-{now:%Y}-{investigation.pk:05d}"
        investigation.save(update_fields=["number"])
        opened = InvestigationEntry.objects.create(
            investigation=investigation,
            recorded_at=now,
            recorded_by=actor.name,
            entry_type=EntryType.OPENED,
            text=summary,
        )
        audit_record(
            actor=actor,
            action=AuditAction.INVESTIGATION_OPENED,
            object_type="investigation",
            object_id=investigation.number,
            new_values={
                "kind": kind,
                "lot": lot.lot_number,
                "result_id": result_id,
                "line": line_name,
                "phase": investigation.phase,
                "retest_budget": budget,
            },
            reason=summary,
            records=[investigation, opened],
        )
        alert = _ALERTS.get(InvestigationKind(kind))
        if alert is not None:
            notification_kind, headline = alert
            notify_qa(
                kind=notification_kind,
                text=f"{headline} on lot {lot.lot_number}: {investigation.number} — {summary}",
                lot=lot,
                investigation=investigation,
            )
    return investigation


def investigation_open_deviation(
    *, lot_number: str, auth: AuthContext, summary: str
) -> Investigation:
    """QA opens a deviation on a lot; it blocks release until concluded (EU GMP Annex 16)."""
    return lot_command(
        key=ActionKey.OPEN_DEVIATION,
        auth=auth,
        lot_number=lot_number,
        reason=summary,
        reason_field="summary",
        body=lambda lot, act: investigation_open(
            lot=lot,
            kind=InvestigationKind.DEVIATION,
            summary=act.reason,
            actor=act.person.audit_actor(),
        ),
    )


def entry_add(
    *,
    investigation: Investigation,
    entry_type: str,
    text: str,
    by: User | None,
    actor: Actor,
    data: dict[str, Any] | None = None,
    records: Sequence[Model] = (),
) -> InvestigationEntry:
    """Append an entry (in the caller's transaction) and audit it; its event binds the
    entry and ``records``, the GMP rows written with it (an attachment)."""
    entry = InvestigationEntry.objects.create(
        investigation=investigation,
        recorded_at=timezone.now(),
        recorded_by=actor.name,
        recorded_by_user=by,
        entry_type=entry_type,
        text=text,
        data=data,
    )
    _entry_audit(entry, actor, records=records)
    return entry


def entry_add_signed(
    *,
    investigation: Investigation,
    entry_type: str,
    act: Act,
    data: dict[str, Any],
    label: str,
) -> tuple[InvestigationEntry, Signature]:
    """Append an entry signed by ``act`` (one signature: the act's meaning) and audit it."""
    person = act.person
    entry, signature = act.sign(
        InvestigationEntry(
            investigation=investigation,
            recorded_at=timezone.now(),
            recorded_by=person.audit_actor().name,
            recorded_by_user=person,
            entry_type=entry_type,
            text=act.reason,
            data=data,
        ),
        label=label,
    )
    _entry_audit(entry, person.audit_actor(), signature_id=signature.pk)
    return entry, signature


def _entry_audit(
    entry: InvestigationEntry,
    actor: Actor,
    signature_id: int | None = None,
    records: Sequence[Model] = (),
) -> None:
    audit_record(
        actor=actor,
        action=ENTRY_ACTIONS[entry.entry_type],
        object_type="investigation",
        object_id=entry.investigation.number,
        new_values={
            "entry_id": entry.pk,
            "entry_type": entry.entry_type,
            "data": entry.data,
            **({"signature_id": signature_id} if signature_id is not None else {}),
        },
        reason=entry.text,
        records=[entry, *records],
    )


def investigation_add_entry(
    *,
    number: str,
    auth: AuthContext,
    entry_type: str,
    text: str,
    data: dict[str, Any] | None = None,
) -> InvestigationEntry:
    """Record a laboratory check or a note (Phase I records every check made)."""
    if entry_type not in {EntryType.CHECK, EntryType.NOTE}:
        raise InvalidInput.single("entry_type", "must be 'check' or 'note'", code="invalid_choice")
    if data is not None and not isinstance(data, dict):
        raise InvalidInput.single("data", "must be an object", code="invalid")
    return investigation_command(
        key=ActionKey.INVESTIGATION_ENTRY,
        auth=auth,
        number=number,
        reason=text,
        reason_field="text",
        body=lambda investigation, lot, act: entry_add(
            investigation=investigation,
            entry_type=entry_type,
            text=act.reason,
            by=act.person,
            actor=act.person.audit_actor(),
            data=data,
        ),
    )


def attachment_read(upload: IO[bytes]) -> bytes:
    """An upload's bytes, at most one byte past the limit (the service then refuses it),
    so an oversized file is never read whole into memory."""
    return upload.read(settings.INVESTIGATION_ATTACHMENT_MAX_BYTES + 1)


def _attachment_name(file_name: str) -> str:
    name = PurePosixPath(str(file_name).replace("\\", "/")).name.strip()
    if not name or len(name) > 255 or not name.isprintable():
        raise InvalidInput.single(
            "file", "the file needs a printable name of at most 255 characters", code="invalid"
        )
    return name


def investigation_attach_file(
    *,
    number: str,
    auth: AuthContext,
    file_name: str,
    content: bytes,
    description: str,
    media_type: str = "",
) -> InvestigationAttachment:
    """Attach a raw-data file (21 CFR 211.194(a)): stored once, never replaced or removed,
    its SHA-256 in the log and the audit trail (21 CFR 11.10(e))."""
    name = _attachment_name(file_name)
    limit = settings.INVESTIGATION_ATTACHMENT_MAX_BYTES
    if not content:
        raise InvalidInput.single("file", "the file is empty", code="file_empty")
    if len(content) > limit:
        raise InvalidInput.single(
            "file",
            f"the file is larger than {limit} bytes (INVESTIGATION_ATTACHMENT_MAX_BYTES)",
            code="file_too_large",
        )
    kind = (media_type or "").strip()[:100]
    if not kind.isprintable() or "/" not in kind:
        kind = "application/octet-stream"
    digest = hashlib.sha256(content).hexdigest()

    def attach(investigation: Investigation, lot: Lot, act: Act) -> InvestigationAttachment:
        person = act.person
        attachment = InvestigationAttachment.objects.create(
            investigation=investigation,
            file_name=name,
            media_type=kind,
            size=len(content),
            sha256=digest,
            content=content,
            description=act.reason,
            uploaded_at=timezone.now(),
            uploaded_by=person.audit_actor().name,
            uploaded_by_user=person,
        )
        entry_add(
            investigation=investigation,
            entry_type=EntryType.ATTACHMENT_ADDED,
            text=act.reason,
            by=person,
            actor=person.audit_actor(),
            data={
                "attachment_id": attachment.pk,
                "file_name": name,
                "media_type": kind,
                "size": len(content),
                "sha256": digest,
            },
            records=[attachment],
        )
        return attachment

    return investigation_command(
        key=ActionKey.ATTACH,
        auth=auth,
        number=number,
        reason=description,
        reason_field="description",
        body=attach,
    )
