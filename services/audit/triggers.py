"""Database-enforced append-only tables (21 CFR 11.10(e): changes never obscure prior values).

The application never updates or deletes GMP records; these triggers make
PostgreSQL refuse it too, so neither a bug, the admin nor raw SQL can rewrite
history.
"""

from __future__ import annotations

import pgtrigger


def append_only(prefix: str) -> list[pgtrigger.Trigger]:
    """Triggers refusing UPDATE, DELETE and TRUNCATE on a model's table."""
    return [
        pgtrigger.Protect(
            name=f"{prefix}_append_only", operation=pgtrigger.Update | pgtrigger.Delete
        ),
        pgtrigger.Trigger(
            name=f"{prefix}_no_truncate",
            operation=pgtrigger.Truncate,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            func="RAISE EXCEPTION 'pgtrigger: Cannot truncate an append-only GMP table'; "
            "RETURN NULL;",
        ),
    ]


def no_delete(prefix: str) -> list[pgtrigger.Trigger]:
    """For records whose status may move forward but which may never disappear."""
    return [
        pgtrigger.Protect(name=f"{prefix}_no_delete", operation=pgtrigger.Delete),
        pgtrigger.Trigger(
            name=f"{prefix}_no_truncate",
            operation=pgtrigger.Truncate,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            func="RAISE EXCEPTION 'pgtrigger: Cannot truncate a GMP table'; RETURN NULL;",
        ),
    ]
