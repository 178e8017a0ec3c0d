"""GMP records under the audit chain (21 CFR 11.10(a), 11.10(e); ALCOA+ "original", "enduring").

The append-only triggers stop the application, the admin and raw SQL from
rewriting a GMP row, but not a database owner who disables them.  So each row is
bound to the audit event that created it by a *content hash*, and that event's
chained hash covers the binding: a row changed or removed behind the trigger's
back no longer matches, and ``manage.py audit_verify`` names its table and id.

The content hash is computed by PostgreSQL, by one SQL function
(``audit_row_hash``, migration ``audit.0007_chain_records``) over a canonical form
of the row: ``to_jsonb`` of the row minus the columns its table declares mutable,
with nulls stripped (so a nullable column added later leaves old hashes intact),
as UTF-8 text, SHA-256, hex.  jsonb's text form is deterministic (keys in a fixed
order, numerics as stored, timestamps in the session's time zone, which Django
pins to UTC), so binding and verification compute the same thing the same way.

The platform does not know the apps above it: each app registers its GMP models
in ``AppConfig.ready()`` (:func:`register`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db import connection
from django.db.models import Model

from services.audit.models import AuditEvent


class BoundRecord(TypedDict):
    """One row an audit event binds: its table, its id and its content hash (None:
    the event removed the row, which only a revisable table allows)."""

    table: str
    id: int
    hash: str | None


@dataclass(frozen=True, slots=True)
class GmpTable:
    table: str
    model: type[Model]
    # Columns that may legitimately move forward after creation (a status, a
    # closing date): left out of the content hash, their changes are audited events.
    mutable: tuple[str, ...] = ()
    # Rows that a later audited event may change or remove (a draft's specification
    # lines, never judged against): the latest binding of each row is the one in force.
    revisable: bool = False

    def hash_sql(self, alias: str) -> str:
        """The SQL expression of a row's content hash (``alias`` names the row)."""
        if not self.mutable:
            return f"audit_row_hash(to_jsonb({alias}))"
        columns = ",".join(self.mutable)
        return f"audit_row_hash(to_jsonb({alias}) - '{{{columns}}}'::text[])"


_tables: dict[str, GmpTable] = {}


def register(model: type[Model], *, mutable: Sequence[str] = (), revisable: bool = False) -> None:
    """Put ``model``'s rows under the chain (call from the owning app's ``ready()``)."""
    columns = tuple(_column(model, name) for name in mutable)
    table = model._meta.db_table
    _tables[table] = GmpTable(table=table, model=model, mutable=columns, revisable=revisable)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return column


def registered() -> tuple[GmpTable, ...]:
    return tuple(_tables[name] for name in sorted(_tables))


def gmp_table(model: type[Model]) -> GmpTable:
    table = _tables.get(model._meta.db_table)
    if table is None:
        raise LookupError(f"{model._meta.label} is not registered as a GMP table")
    return table


def record_hashes(model: type[Model], ids: Sequence[int]) -> list[BoundRecord]:
    """The content hashes of ``model``'s rows ``ids``, in that order (one query).

    Call after the last write to those rows in the transaction (the audit event is
    the transaction's last write anyway).
    """
    if not ids:
        return []
    table = gmp_table(model)
    with connection.cursor() as cursor:
        # Table and column names come from the registry, never from input.
        sql = f"SELECT t.id, {table.hash_sql('t')} FROM {table.table} t WHERE t.id = ANY(%s)"  # noqa: S608
        cursor.execute(sql, [list(ids)])
        hashes = dict(cursor.fetchall())
    missing = [pk for pk in ids if pk not in hashes]
    if missing:
        raise LookupError(f"{table.table} has no row {missing[0]} to bind")
    return [{"table": table.table, "id": pk, "hash": hashes[pk]} for pk in ids]


def instance_hashes(instances: Iterable[Model]) -> list[BoundRecord]:
    """The content hashes of saved model instances (one query per table), in order."""
    by_model: dict[type[Model], list[int]] = {}
    order: list[tuple[type[Model], int]] = []
    for instance in instances:
        model = type(instance)._meta.concrete_model
        assert model is not None and instance.pk is not None
        by_model.setdefault(model, []).append(instance.pk)
        order.append((model, instance.pk))
    found = {
        (model, record["id"]): record
        for model, ids in by_model.items()
        for record in record_hashes(model, ids)
    }
    return [found[key] for key in order]


def removal(instance: Model) -> BoundRecord:
    """The binding of a revisable row that the event is about to remove (take it
    before the DELETE: the instance loses its id then)."""
    table = gmp_table(type(instance)._meta.concrete_model or type(instance))
    if not table.revisable:
        raise LookupError(f"{table.table} rows are never removed")
    assert instance.pk is not None
    return {"table": table.table, "id": instance.pk, "hash": None}


def unbound_hashes() -> list[BoundRecord]:
    """Every row of a registered table that no event binds yet (rows written before
    bindings existed), with its content hash: one anti-join per table."""
    found: list[BoundRecord] = []
    with connection.cursor() as cursor:
        for table in registered():
            # Table and column names come from the registry, never from input.
            cursor.execute(
                f"""
                WITH bound AS (
                    SELECT DISTINCT (r->>'id')::bigint AS id
                    FROM {AuditEvent._meta.db_table} e
                    CROSS JOIN LATERAL jsonb_array_elements(e.records) r
                    WHERE e.records IS NOT NULL AND r->>'table' = %s
                )
                SELECT t.id, {table.hash_sql("t")} FROM {table.table} t
                LEFT JOIN bound ON bound.id = t.id
                WHERE bound.id IS NULL
                ORDER BY t.id
                """,  # noqa: S608
                [table.table],
            )
            found.extend({"table": table.table, "id": pk, "hash": h} for pk, h in cursor.fetchall())
    return found
