"""The demo's released lot (releases.demo): the real workflow, real signatures, a certificate."""

from __future__ import annotations

import io

import pytest

from qc.models import Lot, LotStatus
from releases import demo
from releases.models import Certificate, Decision, Disposition
from services.audit.models import AuditEvent
from services.esign.models import Signature


@pytest.mark.requirement("EU-GMP-Annex16")
def test_the_demo_releases_evx_24_000_through_the_workflow_once(
    released_demo: None, password: str
) -> None:
    lot = Lot.objects.get(lot_number="EVX-24-000")
    assert lot.status == LotStatus.RELEASED
    decisions = list(
        Disposition.objects.filter(lot=lot)
        .order_by("pk")
        .values_list("decision", "decided_by_name")
    )
    assert decisions == [
        (Decision.APPROVED, "Quinn Assure (qa)"),
        (Decision.RELEASED, "Quentin Person (qp)"),
    ]
    certificate = Certificate.objects.get(lot=lot)
    assert certificate.pdf_data[:4] == b"%PDF"
    meanings = {entry["meaning"] for entry in certificate.content["signatures"]}
    assert meanings == {"reviewed", "approved", "released"}
    signatures = Signature.objects.count()
    events = AuditEvent.objects.count()

    out = io.StringIO()
    demo.seed_demo(stdout=out, password=password)  # a second run changes nothing

    assert "EVX-24-000 released" in out.getvalue()
    assert (Signature.objects.count(), AuditEvent.objects.count()) == (signatures, events)
    assert Certificate.objects.filter(lot=lot).count() == 1
