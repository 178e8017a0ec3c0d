"""Exports of records (CSV, JSON Lines, PDF), streamed in constant memory.

Every export states the audit chain's head and whether verification passed
(``services.audit.verification.chain_status``), and is itself an audit event
(``AuditAction.AUDIT_EXPORTED``: who exported what, with which filters).  Rows
come from a server-side cursor (``QuerySet.iterator(chunk_size=...)``) as plain
tuples; CSV and JSON Lines are written a chunk at a time, so memory does not
grow with the number of rows.  Where an export offers it (the audit trail), CSV is
made by PostgreSQL itself: ``COPY (<the filtered query>) TO STDOUT`` (``copy_csv``).
A PDF is rendered whole, so it is capped at ``PDF_ROW_LIMIT`` rows and says so on
its first page.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from services.audit.actions import AuditAction
from services.audit.actor import Actor
from services.audit.services import audit_record
from services.audit.verification import ChainStatus, chain_status

FORMATS = ("csv", "jsonl", "pdf")
CHUNK_ROWS = 5000
PDF_ROW_LIMIT = 2000
_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class Export:
    """What is exported: a title, its columns and a lazy source of row tuples."""

    what: str  # a stable name: "audit-events", "releases"
    title: str
    columns: Sequence[str]
    chunks: Callable[[], Iterable[list[Sequence[Any]]]]  # lists of row tuples, in order
    filters: Mapping[str, str] = field(default_factory=dict)
    json_columns: frozenset[str] = frozenset()  # columns that already hold JSON text
    # Optional: the CSV rows as bytes made by PostgreSQL (``copy_csv``), far faster
    # than Python's csv module on JSON-heavy rows; the same columns and values as ``chunks``.
    csv_rows: Callable[[], Iterable[bytes]] | None = None
    pdf_template: str = "exports/table.html"


def export_response(*, export: Export, fmt: str, actor: Actor) -> HttpResponse:
    """Audit the export, then answer with its file (streamed for CSV and JSON Lines)."""
    status = chain_status(actor=actor)
    made_at = timezone.now()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.AUDIT_EXPORTED,
            object_type="export",
            object_id=export.what,
            new_values={
                "format": fmt,
                "filters": dict(export.filters),
                "chain_head": status.head.sequence,
                "chain_verified": status.verified,
            },
        )
    meta = {
        "export": export.what,
        "title": export.title,
        "made_at": made_at.isoformat(),
        "made_by": actor.name,
        "filters": dict(export.filters),
        "chain": status.as_dict(),
        "columns": list(export.columns),
    }
    stamp = made_at.strftime("%Y%m%dT%H%M%SZ")
    filename = f"evrelease-{export.what}-{stamp}.{fmt}"
    response: HttpResponse
    if fmt == "pdf":
        response = HttpResponse(_pdf(export, meta, status), content_type=_MEDIA_TYPES["pdf"])
    else:
        body = _csv(export, meta, status) if fmt == "csv" else _jsonl(export, meta)
        response = StreamingHttpResponse(body, content_type=_MEDIA_TYPES[fmt])  # type: ignore[assignment]
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Audit-Chain-Head"] = f"{status.head.sequence} {status.head.hash}"
    response["X-Audit-Chain-Verified"] = (
        "never" if status.verified is None else ("passed" if status.verified else "failed")
    )
    return response


def chunked(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """Lists of ``CHUNK_ROWS`` rows from any iterable of rows."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        yield chunk


def server_side_chunks(queryset: QuerySet[Any]) -> Iterator[list[Sequence[Any]]]:
    """The rows of ``queryset`` (a ``values_list``) from a server-side cursor, a chunk at a
    time, as psycopg returns them: no Django object or tuple is rebuilt per row, which
    is most of the cost of ``QuerySet.iterator()`` on a million rows."""
    sql, params = queryset.query.sql_with_params()
    return sql_chunks(sql=sql, params=params, using=queryset.db)


def sql_chunks(*, sql: str, params: Sequence[Any], using: str) -> Iterator[list[Sequence[Any]]]:
    """The rows of ``sql`` from a server-side cursor, ``CHUNK_ROWS`` at a time."""
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    name = f"export_{uuid.uuid4().hex}"
    with raw.cursor(name=name, withhold=True) as cursor:
        cursor.itersize = CHUNK_ROWS
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            yield chunk


def copy_csv(
    *, sql: str, params: Sequence[Any], using: str, columns: Sequence[str], unquoted: Sequence[str]
) -> Iterator[bytes]:
    """The rows of ``sql`` as CSV made by PostgreSQL itself: ``COPY (...) TO STDOUT`` read
    through psycopg 3's copy, in blocks of about ``COPY_BLOCK_BYTES`` (memory stays flat
    whatever the number of rows).  ``columns`` name the query's output columns; every
    value but those of ``unquoted`` is quoted, and NULL is an empty field (RFC 4180)."""
    names = ", ".join(f'"{name}"' for name in columns)
    quoted = ", ".join(f'"{name}"' for name in columns if name not in unquoted)
    # Column names are constants of the caller; the filters stay parameters, which
    # psycopg binds on the client side (COPY takes no server-side parameters).
    statement = (
        f"COPY (SELECT * FROM ({sql}) AS t({names})) TO STDOUT "  # noqa: S608
        f"WITH (FORMAT csv, FORCE_QUOTE ({quoted}))"
    )
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement, params or None) as copy:
        block: list[bytes] = []
        size = 0
        for data in copy:  # one row per message from the server
            block.append(data)
            size += len(data)
            if size >= COPY_BLOCK_BYTES:
                yield b"".join(block)
                block, size = [], 0
        if block:
            yield b"".join(block)


COPY_BLOCK_BYTES = 256 * 1024


def _csv(export: Export, meta: Mapping[str, Any], status: ChainStatus) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in (
        f"evrelease export: {export.title}",
        f"made {meta['made_at']} by {meta['made_by']}",
        "filters: " + (", ".join(f"{k}={v}" for k, v in export.filters.items()) or "none"),
        status.sentence(),
    ):
        writer.writerow([f"# {line}"])
    writer.writerow(export.columns)
    yield buffer.getvalue().encode()
    if export.csv_rows is not None:
        yield from export.csv_rows()
        return
    for chunk in export.chunks():
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(chunk)
        yield buffer.getvalue().encode()


def _jsonl(export: Export, meta: Mapping[str, Any]) -> Iterator[bytes]:
    yield (json.dumps({"_export": meta}, ensure_ascii=False) + "\n").encode()
    keys = [json.dumps(name) for name in export.columns]
    raw = [name in export.json_columns for name in export.columns]
    dumps = json.dumps
    for chunk in export.chunks():
        lines = []
        for row in chunk:
            parts = [
                f"{key}:{_raw(value) if is_raw else dumps(value, default=str)}"
                for key, value, is_raw in zip(keys, row, raw, strict=True)
            ]
            lines.append("{" + ",".join(parts) + "}\n")
        yield "".join(lines).encode()


def _raw(value: Any) -> str:
    return "null" if value is None else str(value)


def _pdf(export: Export, meta: Mapping[str, Any], status: ChainStatus) -> bytes:
    from weasyprint import HTML  # heavy; only PDF exports need it

    rows: list[Sequence[Any]] = []
    for chunk in export.chunks():
        rows.extend(chunk)
        if len(rows) > PDF_ROW_LIMIT:
            break
    capped = len(rows) > PDF_ROW_LIMIT
    html = render_to_string(
        export.pdf_template,
        {
            "export": export,
            "meta": meta,
            "status": status,
            "rows": rows[:PDF_ROW_LIMIT],
            "capped": capped,
            "limit": PDF_ROW_LIMIT,
        },
    )
    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]
