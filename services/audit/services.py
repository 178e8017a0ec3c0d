"""Writing to the audit trail.

Call :func:`audit_record` inside the transaction that makes the change (Zulip's
pattern: the event and the change commit or roll back together).  The chain is
extended under a transaction-scoped advisory lock, which serialises appends;
call it as the last write of a transaction so the lock is held briefly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from services.audit.chain import GENESIS_HASH, event_hash, normalise
from services.audit.models import ActorType, AuditEvent
from services.observability import current_request_id

# Arbitrary, fixed key for pg_advisory_xact_lock: "audit" in ASCII.
_AUDIT_CHAIN_LOCK = 0x6175646974


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a person, a machine client or the system itself."""

    type: str
    id: str
    name: str

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, id="", name=name)

    @classmethod
    def of(cls, principal: Any) -> Actor:
        """The actor for a user or an API client (anything with ``audit_actor()``)."""
        if principal is None:
            return cls.system()
        if isinstance(principal, Actor):
            return principal
        return principal.audit_actor()


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    object_type: str
    object_id: str
    old_values: Mapping[str, Any] | None = None
    new_values: Mapping[str, Any] | None = None


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    old_values: Mapping[str, Any] | None = None,
    new_values: Mapping[str, Any] | None = None,
    reason: str = "",
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the audit trail, in the caller's transaction."""
    change = Change(action, object_type, str(object_id), old_values, new_values)
    return audit_record_many(actor=actor, changes=[change], reason=reason, request_id=request_id)[0]


def audit_record_many(
    *,
    actor: Actor,
    changes: Iterable[Change],
    reason: str = "",
    request_id: str | None = None,
) -> list[AuditEvent]:
    """Append several events at once (bulk ingestion), chained in order."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction that makes the change")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_CHAIN_LOCK])
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, previous_hash = last if last else (0, GENESIS_HASH)
        now = timezone.now()
        events = []
        for change in changes:
            sequence += 1
            fields: dict[str, Any] = {
                "sequence": sequence,
                "occurred_at": now,
                "actor_type": str(actor.type),
                "actor_id": str(actor.id),
                "actor_name": actor.name,
                "action": change.action,
                "object_type": change.object_type,
                "object_id": change.object_id,
                "old_values": normalise(change.old_values),
                "new_values": normalise(change.new_values),
                "reason": reason,
                "request_id": request_id if request_id is not None else current_request_id(),
            }
            digest = event_hash(previous_hash, fields)
            events.append(AuditEvent(**fields, previous_hash=previous_hash, hash=digest))
            previous_hash = digest
        return AuditEvent.objects.bulk_create(events)
