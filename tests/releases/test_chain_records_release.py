"""A release's records are under the chain (21 CFR 11.10(e), 11.70): reviews, the
decision, its signatures and the certificate are each bound to their audit event, and
the whole trail verifies afterwards (each service binds after its last write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from releases.models import Certificate, Disposition, ResultReview
from releases.services.certificates import certificate_issue
from services.audit.models import AuditEvent
from services.audit.selectors import RecordsChecked, audit_chain_verify
from services.esign.models import Signature
from tests.releases.test_certificates import _released

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.requirement("21CFR11.10e")
def test_a_released_lot_s_records_are_bound_and_verify(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str, media_root: Path
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    certificate = certificate_issue(disposition_id=release.pk)
    assert certificate is not None
    bound = {
        (record["table"], record["id"])
        for records in AuditEvent.objects.exclude(records=None).values_list("records", flat=True)
        for record in records
    }
    expected = [
        (Disposition, release.pk),
        (Certificate, certificate.pk),
        *((ResultReview, pk) for pk in ResultReview.objects.values_list("pk", flat=True)),
        *((Signature, pk) for pk in Signature.objects.values_list("pk", flat=True)),
    ]
    assert {(model._meta.db_table, pk) for model, pk in expected} <= bound
    outcome = list(audit_chain_verify())[-1]
    assert isinstance(outcome, RecordsChecked) and outcome.count >= len(expected)
