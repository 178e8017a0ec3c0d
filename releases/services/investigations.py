"""Opening investigations (FDA OOS guidance; 21 CFR 211.192).

Opened by the system when the engine confirms a result out of specification
(OOS) or outside an alert limit (trend notice); re-evaluations never open a
second one for the same result and kind.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from qc.models import Lot, LotStatus
from releases.models import Investigation, InvestigationEntry, InvestigationKind
from services.audit.services import Actor, audit_record

_PREFIX = {
    InvestigationKind.OOS: "OOS",
    InvestigationKind.TREND: "TRD",
    InvestigationKind.POST_RELEASE: "PRF",
    InvestigationKind.DEVIATION: "DEV",
}
RELEASED_STATES = {LotStatus.RELEASED, LotStatus.CONDITIONALLY_RELEASED}


def investigation_open(
    *,
    lot: Lot,
    kind: str,
    summary: str,
    actor: Actor,
    result_id: int | None = None,
    line_name: str = "",
) -> Investigation:
    """Open an investigation, or return the one already open for this result and kind."""
    if result_id is not None:
        existing = Investigation.objects.filter(result_id=result_id, kind=kind).first()
        if existing is not None:
            return existing
    now = timezone.now()
    with transaction.atomic():
        investigation = Investigation.objects.create(
            number=uuid.uuid4().hex,
            kind=kind,
            lot=lot,
            result_id=result_id,
            line_name=line_name,
            summary=summary,
            opened_at=now,
            opened_by=actor.name,
        )
        investigation.number = f"{_PREFIX[InvestigationKind(kind)]}-{now:%Y}-{investigation.pk:05d}"
        investigation.save(update_fields=["number"])
        InvestigationEntry.objects.create(
            investigation=investigation,
            recorded_at=now,
            recorded_by=actor.name,
            entry_type="opened",
            text=summary,
        )
        audit_record(
            actor=actor,
            action="investigation.opened",
            object_type="investigation",
            object_id=investigation.number,
            new_values={
                "kind": kind,
                "lot": lot.lot_number,
                "result_id": result_id,
                "line": line_name,
                "phase": investigation.phase,
            },
            reason=summary,
        )
    return investigation
