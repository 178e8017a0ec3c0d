"""Canonical form and hash chain of audit events (pure functions)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64

CHAINED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "old_values",
    "new_values",
    "reason",
    "request_id",
)


def normalise(value: Any) -> Any:
    """Return ``value`` as it will read back from a JSONB column.

    Decimals, dates and UUIDs become strings here, before storing and hashing,
    so the stored content and the hashed content are the same thing.
    """
    return normalise_with_text(value)[0]


def normalise_with_text(value: Any) -> tuple[Any, str | None]:
    """:func:`normalise` and the JSON text it was read back from (for writers that need both)."""
    if value is None:
        return None, None
    text = json.dumps(value, cls=DjangoJSONEncoder)
    return json.loads(text), text


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )


def _time(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def event_content(fields: Mapping[str, Any]) -> dict[str, Any]:
    content = {name: fields[name] for name in CHAINED_FIELDS}
    content["occurred_at"] = _time(fields["occurred_at"])
    # The rows an event binds (services.audit.records) are part of what it says;
    # events without any keep the content they were hashed with before bindings existed.
    records = fields.get("records")
    if records is not None:
        content["records"] = records
    return content


def event_hash(previous_hash: str, fields: Mapping[str, Any]) -> str:
    payload = previous_hash + canonical_json(event_content(fields))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
