"""Reading and verifying the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from services.audit.chain import GENESIS_HASH, event_hash
from services.audit.models import AuditEvent


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    problem: str


def audit_events(
    *, object_type: str | None = None, object_id: str | None = None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    return events.order_by("sequence")


def _stored_fields(event: AuditEvent) -> dict[str, object]:
    return {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "old_values": event.old_values,
        "new_values": event.new_values,
        "reason": event.reason,
        "request_id": event.request_id,
    }


def audit_chain_verify(*, batch_size: int = 5000) -> Iterator[ChainBreak | int]:
    """Recompute the chain from the first event; yield the first break found.

    Yields the number of events checked after each batch (for progress), and a
    ``ChainBreak`` naming the first sequence number that fails, then stops.
    """
    previous_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    queryset = AuditEvent.objects.order_by("sequence")
    last_sequence = 0
    while True:
        batch = list(queryset.filter(sequence__gt=last_sequence)[:batch_size])
        if not batch:
            return
        for event in batch:
            if event.sequence != expected_sequence:
                yield ChainBreak(expected_sequence, "event missing (sequence gap)")
                return
            if event.previous_hash != previous_hash:
                yield ChainBreak(event.sequence, "does not follow the previous event's hash")
                return
            if event_hash(previous_hash, _stored_fields(event)) != event.hash:
                yield ChainBreak(event.sequence, "content does not match its hash")
                return
            previous_hash = event.hash
            expected_sequence += 1
            last_sequence = event.sequence
        checked += len(batch)
        yield checked
