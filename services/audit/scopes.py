"""Scopes of the audit trail defined by the apps above the platform.

"A lot's audit trail" is a release concept (``releases.selectors.lot_audit_trail``);
the platform's audit API and page filter by it through this hook, which
``releases`` fills in ``AppConfig.ready()`` (the layers import one way only).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from services.audit.models import AuditEvent

_lot_trail: Callable[[str], QuerySet[AuditEvent]] | None = None


def register_lot_trail(provider: Callable[[str], QuerySet[AuditEvent]]) -> None:
    global _lot_trail
    _lot_trail = provider


def lot_trail_events(lot_number: str) -> QuerySet[AuditEvent]:
    """Every event of the lot's trail (none for an unknown lot)."""
    if _lot_trail is None:
        return AuditEvent.objects.filter(object_type="lot", object_id=lot_number)
    return _lot_trail(lot_number)
