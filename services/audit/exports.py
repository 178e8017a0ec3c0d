"""The audit trail as an export (CSV, JSON Lines, PDF): every chained field and the hashes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from services.audit.chain import CHAINED_FIELDS
from services.audit.models import AuditEvent
from services.exports import Export, server_side_chunks, sql_chunks

# ``records`` (the rows an event binds) is hashed too: an auditor re-verifies from the file.
COLUMNS = (*CHAINED_FIELDS, "records", "previous_hash", "hash")
_AS_TEXT = ("occurred_at", "old_values", "new_values", "records")


def audit_chunks(events: QuerySet[AuditEvent]) -> Iterable[list[Sequence[Any]]]:
    """Rows of plain values from a server-side cursor, a chunk at a time; times and JSON
    cast to text by PostgreSQL (no Python datetime or dict built per value)."""
    casts = {f"{name}_text": Cast(name, TextField()) for name in _AS_TEXT}
    names = [f"{name}_text" if name in _AS_TEXT else name for name in COLUMNS]
    return server_side_chunks(events.order_by("sequence").annotate(**casts).values_list(*names))


def _csv_field(column: str) -> str:
    if column == "sequence":
        return f"t.{column}::text"
    # NULL -> empty field; text always quoted, quotes doubled (RFC 4180).
    return f"""coalesce('"' || replace(t.{column}::text, '"', '""') || '"', '')"""


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterable[list[Sequence[str]]]:
    """The CSV line of each event, made by PostgreSQL from the same query as
    :func:`audit_chunks` (its columns wrapped), read from a server-side cursor."""
    sql, params = events.order_by("sequence").values_list(*COLUMNS).query.sql_with_params()
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    line = " || ',' || ".join(_csv_field(name) for name in COLUMNS)
    # Column names are constants of this module; the filters stay bound parameters.
    wrapped = f"SELECT {line} || E'\\n' FROM ({sql}) AS t({names})"  # noqa: S608
    return sql_chunks(sql=wrapped, params=params, using=events.db)


def audit_export(*, events: QuerySet[AuditEvent], filters: Mapping[str, str]) -> Export:
    return Export(
        what="audit-events",
        title="Audit trail",
        columns=COLUMNS,
        chunks=lambda: audit_chunks(events),
        csv_lines=lambda: audit_csv_lines(events),
        filters=filters,
        json_columns=frozenset({"old_values", "new_values", "records"}),
        pdf_template="exports/audit.html",
    )
