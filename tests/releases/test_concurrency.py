"""Fifty Qualified Persons' clicks at once: one release, one signature.

Each thread has its own database connection; the deciding transaction locks
the lot row (SELECT ... FOR UPDATE), so the others wait, then find the lot
already released and are refused with that reason.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from qc.models import LotStatus
from releases.models import Decision, Disposition
from releases.services.decisions import lot_release
from releases.services.errors import Refused
from services.accounts.context import AuthContext
from services.audit.models import AuditEvent
from services.esign.models import Signature

pytestmark = [pytest.mark.django_db(transaction=True)]

ATTEMPTS = 50


@pytest.mark.requirement("21CFR11.10f")
@pytest.mark.requirement("EU-GMP-Annex16")
def test_fifty_concurrent_releases_give_one_release_and_one_signature(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.approved(world.reviewed(world.ready_lot(), reviewer, qa), qa)
    start = threading.Barrier(ATTEMPTS)

    def attempt(_: int) -> str:
        try:
            start.wait()
            lot_release(
                lot_number=lot.lot_number,
                auth=AuthContext.of(qp),
                password=password,
                reason="certified",
            )
            return "released"
        except Refused as refused:
            return refused.codes[0]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(attempt, range(ATTEMPTS)))

    assert outcomes.count("released") == 1, outcomes
    assert outcomes.count("already_decided") == ATTEMPTS - 1
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED
    assert Disposition.objects.filter(lot=lot, decision=Decision.RELEASED).count() == 1
    assert Signature.objects.filter(meaning="released").count() == 1
    assert AuditEvent.objects.filter(action="lot.released", object_id=lot.lot_number).count() == 1
