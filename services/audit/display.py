"""How an audit event reads for a person (21 CFR 11.10(e) "legible"; ALCOA+).

Pure functions of a stored event: the old and new values side by side, field by
field, and a label for the object.  Used by the web pages and the exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.audit.actions import AuditAction


@dataclass(frozen=True, slots=True)
class ValueChange:
    field: str
    old: str  # "" when the field had no earlier value
    new: str  # "" when the field was removed
    changed: bool  # an earlier value was replaced (not a first recording)


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def value_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[ValueChange]:
    """Every field of ``old`` and ``new``, in order, with both values as text."""
    old = old if isinstance(old, dict) else ({} if old is None else {"value": old})
    new = new if isinstance(new, dict) else ({} if new is None else {"value": new})
    fields = list(old) + [name for name in new if name not in old]
    return [
        ValueChange(
            field=name,
            old=value_text(old[name]) if name in old else "",
            new=value_text(new[name]) if name in new else "",
            changed=name in old,
        )
        for name in fields
    ]


def action_label(action: str) -> str:
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action
