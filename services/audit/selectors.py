"""Reading and verifying the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from services.audit.chain import CHAINED_FIELDS, GENESIS_HASH, event_hash
from services.audit.models import AuditEvent
from services.audit.records import registered


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    problem: str
    # Set when the break is a GMP row that no longer matches its binding.
    table: str = ""
    record_id: int | None = None


@dataclass(frozen=True, slots=True)
class RecordsChecked:
    """The last outcome of an intact verification: how many bound rows were recomputed."""

    count: int


def audit_events(
    *, object_type: str | None = None, object_id: str | None = None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    return events.order_by("sequence")


def bound_record(reference: str) -> Q:
    """Events that bind the GMP row ``table:id`` (``qc_result:42``): the event that
    created it (a bulk request's lot event lists it in ``records``) and any backfill."""
    table, _, pk = reference.partition(":")
    if not pk.isdigit() or table not in {t.table for t in registered()}:
        return Q(pk__in=[])
    return Q(records__contains=[{"table": table, "id": int(pk)}])


_CHAINED_COLUMNS = ("sequence", *CHAINED_FIELDS[1:], "records", "previous_hash", "hash")


def audit_chain_verify(*, batch_size: int = 5000) -> Iterator[ChainBreak | RecordsChecked | int]:
    """Recompute the chain from the first event, then every row the events bind.

    Yields the number of events checked after each batch (for progress); then,
    the chain being intact, recomputes the content hash of every bound GMP row
    (:func:`records_verify`).  Yields a ``ChainBreak`` naming the first event (and
    row) that fails and stops, or ``RecordsChecked`` when everything holds.
    """
    previous_hash = GENESIS_HASH
    expected_sequence = 1
    names = _CHAINED_COLUMNS[:-2]
    # A server-side cursor over plain tuples: no model instances, constant memory.
    rows = (
        AuditEvent.objects.order_by("sequence")
        .values_list(*_CHAINED_COLUMNS)
        .iterator(chunk_size=batch_size)
    )
    for row in rows:
        fields = dict(zip(names, row, strict=False))
        sequence, stored_previous, stored_hash = row[0], row[-2], row[-1]
        if sequence != expected_sequence:
            yield ChainBreak(expected_sequence, "event missing (sequence gap)")
            return
        if stored_previous != previous_hash:
            yield ChainBreak(sequence, "does not follow the previous event's hash")
            return
        if event_hash(previous_hash, fields) != stored_hash:
            yield ChainBreak(sequence, "content does not match its hash")
            return
        previous_hash = stored_hash
        if sequence % batch_size == 0:
            yield sequence
        expected_sequence += 1
    if (expected_sequence - 1) % batch_size:
        yield expected_sequence - 1
    yield records_verify(up_to_sequence=expected_sequence - 1)


def records_verify(*, up_to_sequence: int) -> ChainBreak | RecordsChecked:
    """Recompute, in PostgreSQL, the content hash of every row bound by events up to
    ``up_to_sequence``; the first (by event, then id) that differs or is gone fails.

    One query per registered table: the bindings are unnested from the events and
    joined with the rows, and only mismatches leave the database.
    """
    checked = 0
    failures: list[tuple[int, int, str, bool]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # the zone the hashes were bound in
        for table in registered():
            # A revisable row (a draft's line) answers to its latest binding only, and
            # a binding without a hash says an audited event removed the row.
            latest = "DISTINCT ON (id)" if table.revisable else ""
            order = "ORDER BY id, sequence DESC" if table.revisable else ""
            # Table and column names come from the registry, never from input.
            cursor.execute(
                f"""
                SELECT count(*),
                       min(ARRAY[b.sequence, b.id, (t.id IS NULL)::int])
                       FILTER (WHERE CASE WHEN b.hash IS NULL THEN t.id IS NOT NULL
                               ELSE t.id IS NULL OR {table.hash_sql("t")} <> b.hash END)
                FROM (
                    SELECT {latest} e.sequence, (r->>'id')::bigint AS id, r->>'hash' AS hash
                    FROM {AuditEvent._meta.db_table} e
                    CROSS JOIN LATERAL jsonb_array_elements(e.records) r
                    WHERE e.records IS NOT NULL AND e.sequence <= %s AND r->>'table' = %s
                    {order}
                ) b
                LEFT JOIN {table.table} t ON t.id = b.id
                """,  # noqa: S608
                [up_to_sequence, table.table],
            )
            count, first = cursor.fetchone()
            checked += count
            if first is not None:
                failures.append((first[0], first[1], table.table, bool(first[2])))
    if not failures:
        return RecordsChecked(checked)
    sequence, record_id, table_name, removed = min(failures)
    how = "removed" if removed else "changed"
    return ChainBreak(
        sequence,
        f"{table_name} #{record_id} no longer matches the content hash event "
        f"#{sequence} bound to it ({how})",
        table=table_name,
        record_id=record_id,
    )
