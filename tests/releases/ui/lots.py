"""Lots of EVX-MSC-01 with as many results as a test or a benchmark asks for, posted
and evaluated through the real services (the demo world must exist)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from qc import demo
from qc.demo_history import demo_lot_create
from qc.models import Lot
from qc.services.evaluation import lot_evaluate
from qc.services.ingestion import results_record
from services.accounts.models import ApiClient
from tests.qc.pipeline.conftest import conforming_results

#: the conforming set's ten tests, each once (NTA-CONC three times)
BASE_RESULTS = 10


def lot_with_results(lot_number: str, count: int, *, days_before: int = 1) -> Lot:
    """A conforming lot with its four runs and ``count`` results (>= 10): the demo's
    ten, NTA with its size distribution, then protein (BCA) replicates."""
    assert count >= BASE_RESULTS
    client = ApiClient.objects.get(name="DEMO-MES", revoked=False)
    day = timezone.now() - timedelta(days=days_before)
    demo_lot_create(lot_number=lot_number, client=client, tested_on=day)
    demo._post_runs(demo.DemoLot(lot_number, "test lot"), client, day)
    items = conforming_results(lot_number)[:BASE_RESULTS]
    for item in items:
        if item["test"] == "NTA-MODE":
            item["raw_data"] = demo._size_distribution(112)
    bca = next(item for item in items if item["test"] == "BCA")
    items += [
        {**bca, "value": f"4.{n % 10}", "replicate": n} for n in range(2, count - BASE_RESULTS + 2)
    ]
    results_record(lot_number=lot_number, items=items, by=client)
    lot = Lot.objects.get(lot_number=lot_number)
    lot_evaluate(lot_id=lot.pk)
    return lot
