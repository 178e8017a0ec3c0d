"""The lot page's number of queries does not grow with its results or with the
product's lots (the sparklines' history): no N+1 anywhere on the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.releases.ui.conftest import client_for
from tests.releases.ui.lots import lot_with_results

pytestmark = [pytest.mark.django_db(transaction=True)]


def _queries(client: object, lot_number: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/lots/{lot_number}/")  # type: ignore[attr-defined]
    assert response.status_code == 200
    return len(captured)


def test_lot_page_queries_stay_constant_with_results_and_history_lots(
    demo_world: None,
) -> None:
    lot_with_results("EVX-Q-010", 10, days_before=3)
    lot_with_results("EVX-Q-300", 300, days_before=2)
    client = client_for("qa")
    _queries(client, "EVX-Q-010")  # warm the per-process caches (content types, session)
    small = _queries(client, "EVX-Q-010")
    large = _queries(client, "EVX-Q-300")
    assert large == small, (small, large)
    for n in range(3):  # more lots of the product before it: more points to draw
        lot_with_results(f"EVX-Q-H{n}", 10, days_before=10 + n)
    assert _queries(client, "EVX-Q-300") == small
