"""The audit trail as an export (CSV, JSON Lines, PDF): every chained field and the hashes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from services.audit.chain import CHAINED_FIELDS
from services.audit.models import AuditEvent
from services.exports import CHUNK_ROWS, Export

COLUMNS = (*CHAINED_FIELDS, "previous_hash", "hash")
_AS_TEXT = ("occurred_at", "old_values", "new_values")


def audit_rows(events: QuerySet[AuditEvent]) -> Iterable[Sequence[Any]]:
    """Rows of plain values from a server-side cursor; times and JSON cast to text by
    PostgreSQL (no Python objects built per value)."""
    casts = {f"{name}_text": Cast(name, TextField()) for name in _AS_TEXT}
    names = [f"{name}_text" if name in _AS_TEXT else name for name in COLUMNS]
    return (
        events.order_by("sequence")
        .annotate(**casts)
        .values_list(*names)
        .iterator(chunk_size=CHUNK_ROWS)
    )


def audit_export(*, events: QuerySet[AuditEvent], filters: Mapping[str, str]) -> Export:
    return Export(
        what="audit-events",
        title="Audit trail",
        columns=COLUMNS,
        rows=lambda: audit_rows(events),
        filters=filters,
        json_columns=frozenset({"old_values", "new_values"}),
        pdf_template="exports/audit.html",
    )
