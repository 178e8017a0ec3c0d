"""Writing to the audit trail.

Call :func:`audit_record` inside the transaction that makes the change (Zulip's
pattern: the event and the change commit or roll back together).  The chain is
extended under a transaction-scoped advisory lock, which serialises appends;
call it as the last write of a transaction so the lock is held briefly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from services.audit.actions import AuditAction
from services.audit.actor import Actor
from services.audit.chain import GENESIS_HASH, event_hash, normalise_with_text
from services.audit.models import AuditEvent
from services.audit.records import BoundRecord, instance_hashes, unbound_hashes
from services.observability import current_request_id

# Arbitrary, fixed key for pg_advisory_xact_lock: "audit" in ASCII.
_AUDIT_CHAIN_LOCK = 0x6175646974


@dataclass(frozen=True, slots=True)
class Change:
    action: AuditAction
    object_type: str
    object_id: str
    old_values: Mapping[str, Any] | None = None
    new_values: Mapping[str, Any] | None = None
    # The GMP rows this change created, with their content hashes (records.py).
    records: Sequence[BoundRecord] | None = None


def audit_record(
    *,
    actor: Actor,
    action: AuditAction,
    object_type: str,
    object_id: object,
    old_values: Mapping[str, Any] | None = None,
    new_values: Mapping[str, Any] | None = None,
    reason: str = "",
    request_id: str | None = None,
    records: Sequence[Model] = (),
    removed: Sequence[BoundRecord] = (),
) -> AuditEvent:
    """Append one event to the audit trail, in the caller's transaction.

    ``records``: the GMP rows the change created or revised (saved instances of
    registered models, in their final state); the event binds their content hashes.
    ``removed``: the revisable rows it removed (``records.removal``).
    """
    bound = [*instance_hashes(records), *removed] or None
    change = Change(action, object_type, str(object_id), old_values, new_values, bound)
    return audit_record_many(actor=actor, changes=[change], reason=reason, request_id=request_id)[0]


def audit_record_many(
    *,
    actor: Actor,
    changes: Iterable[Change],
    reason: str = "",
    request_id: str | None = None,
) -> list[AuditEvent]:
    """Append several events at once (bulk ingestion), chained in order.

    Values are normalised before the chain lock is taken, and the rows go in with
    one COPY (ids drawn from the sequence first), so a thousand events hold the
    lock for milliseconds, not for a thousand-row INSERT built parameter by parameter.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction that makes the change")
    prepared = [
        (
            change,
            normalise_with_text(change.old_values),
            normalise_with_text(change.new_values),
            _records_text(change.records),
        )
        for change in changes
    ]
    if not prepared:
        return []
    actor_fields = {
        "actor_type": str(actor.type),
        "actor_id": str(actor.id),
        "actor_name": actor.name,
        "reason": reason,
        "request_id": request_id if request_id is not None else current_request_id(),
    }
    actor_row = (
        actor_fields["actor_type"],
        actor_fields["actor_id"],
        actor_fields["actor_name"],
        actor_fields["reason"],
        actor_fields["request_id"],
    )
    table = AuditEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_CHAIN_LOCK])
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, previous_hash = last if last else (0, GENESIS_HASH)
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(prepared)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        now = timezone.now()
        events = []
        rows: list[tuple[Any, ...]] = []
        for pk, (change, old_values, new_values, records) in zip(ids, prepared, strict=True):
            sequence += 1
            fields: dict[str, Any] = {
                "sequence": sequence,
                "occurred_at": now,
                **actor_fields,
                "action": change.action,
                "object_type": change.object_type,
                "object_id": change.object_id,
                "old_values": old_values[0],
                "new_values": new_values[0],
                "records": records[0],
            }
            digest = event_hash(previous_hash, fields)
            event = AuditEvent(id=pk, **fields, previous_hash=previous_hash, hash=digest)
            event._state.adding = False
            event._state.db = connection.alias
            events.append(event)
            rows.append(
                (
                    pk,
                    sequence,
                    now,
                    *actor_row,
                    change.action,
                    change.object_type,
                    change.object_id,
                    old_values[1],
                    new_values[1],
                    records[1],
                    previous_hash,
                    digest,
                )
            )
            previous_hash = digest
        columns = ", ".join(_COPY_COLUMNS)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return events


_COPY_COLUMNS = (
    "id",
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_name",
    "reason",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "old_values",
    "new_values",
    "records",
    "previous_hash",
    "hash",
)


def _records_text(
    records: Sequence[BoundRecord] | None,
) -> tuple[list[BoundRecord] | None, str | None]:
    """Bindings as stored and as COPY text: plain ints and strings read back unchanged."""
    if not records:
        return None, None
    as_list = list(records)
    return as_list, json.dumps(as_list, separators=(",", ":"))


def audit_records_bind(*, actor: Actor, reason: str) -> AuditEvent | None:
    """Bind every GMP row no event binds yet (rows written before bindings existed)
    with one audited event; None when there is nothing to bind.

    The rows are hashed as they stand now: the event says so, with its reason
    (21 CFR 11.10(e)); from then on a change behind the trigger's back shows.
    """
    if not reason.strip():
        raise ValueError("binding earlier records needs a reason")
    with transaction.atomic():
        # The chain lock first: no request binds the same rows meanwhile.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_CHAIN_LOCK])
        records = unbound_hashes()
        if not records:
            return None
        tables: dict[str, int] = {}
        for record in records:
            tables[record["table"]] = tables.get(record["table"], 0) + 1
        change = Change(
            AuditAction.AUDIT_RECORDS_BOUND,
            "audit",
            "records",
            None,
            {"records": len(records), "tables": tables},
            records,
        )
        return audit_record_many(actor=actor, changes=[change], reason=reason.strip())[0]
