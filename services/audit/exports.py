"""The audit trail as an export (CSV, JSON Lines, PDF): every chained field and the hashes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from services.audit.chain import CHAINED_FIELDS
from services.audit.models import AuditEvent
from services.exports import Export, copy_csv, server_side_chunks

# ``records`` (the rows an event binds) is hashed too: an auditor re-verifies from the file.
COLUMNS = (*CHAINED_FIELDS, "records", "previous_hash", "hash")
_AS_TEXT = ("occurred_at", "old_values", "new_values", "records")


def audit_chunks(events: QuerySet[AuditEvent]) -> Iterable[list[Sequence[Any]]]:
    """Rows of plain values from a server-side cursor, a chunk at a time; times and JSON
    cast to text by PostgreSQL (no Python datetime or dict built per value)."""
    casts = {f"{name}_text": Cast(name, TextField()) for name in _AS_TEXT}
    names = [f"{name}_text" if name in _AS_TEXT else name for name in COLUMNS]
    return server_side_chunks(events.order_by("sequence").annotate(**casts).values_list(*names))


def audit_csv_rows(events: QuerySet[AuditEvent]) -> Iterable[bytes]:
    """The CSV rows of the events, made by PostgreSQL's COPY from the filtered queryset's
    own SQL: the same columns and values as :func:`audit_chunks`."""
    sql, params = events.order_by("sequence").values_list(*COLUMNS).query.sql_with_params()
    return copy_csv(
        sql=sql, params=params, using=events.db, columns=COLUMNS, unquoted=("sequence",)
    )


def audit_export(*, events: QuerySet[AuditEvent], filters: Mapping[str, str]) -> Export:
    return Export(
        what="audit-events",
        title="Audit trail",
        columns=COLUMNS,
        chunks=lambda: audit_chunks(events),
        csv_rows=lambda: audit_csv_rows(events),
        filters=filters,
        json_columns=frozenset({"old_values", "new_values", "records"}),
        pdf_template="exports/audit.html",
    )
