"""The QA and auditor web UI, through Django's test client on the demo world."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_dashboard_shows_each_role_what_needs_it(evaluated_demo: None) -> None:
    qa_page = client_for("qa").get("/").content.decode()
    assert "Ready for QA review" in qa_page
    assert "EVX-24-001" in qa_page  # the conforming lot waits for QA
    assert "Open investigations" in qa_page and "OOS-" in qa_page
    auditor_page = client_for("auditor").get("/").content.decode()
    assert "Recently decided lots" in auditor_page


@pytest.mark.requirement("review-by-exception")
def test_lot_page_leads_with_the_exceptions(evaluated_demo: None) -> None:
    page = client_for("qa").get("/lots/EVX-24-002/").content.decode()
    endotoxin = page.index("Bacterial endotoxins 0.80 EU/mL")
    assert endotoxin < page.index("Needs attention") < page.index("lines conform")
    assert page.index("lines conform") < page.index("Results (")
    assert "does not conform" in page


def test_lot_page_shows_invalid_data_and_missing_lines(evaluated_demo: None) -> None:
    invalid = client_for("reviewer").get("/lots/EVX-24-003/").content.decode()
    assert "invalid data" in invalid and "121 nm outside 90" in invalid
    incomplete = client_for("analyst").get("/lots/EVX-24-004/").content.decode()
    assert "Sterility: no result yet" in incomplete


def test_lot_list_filters_with_htmx(evaluated_demo: None) -> None:
    client = client_for("qa")
    full = client.get("/lots/?status=in_testing")
    assert full.status_code == 200 and b"<form" in full.content
    partial = client.get("/lots/?q=24-002", HTTP_HX_REQUEST="true").content.decode()
    assert "EVX-24-002" in partial and "EVX-24-001" not in partial
    assert "<html" not in partial


def test_unknown_lot_is_404_and_anonymous_users_must_sign_in(evaluated_demo: None) -> None:
    assert client_for("qa").get("/lots/NOPE/").status_code == 404
    response = Client().get("/lots/EVX-24-001/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.requirement("21CFR11.10e")
def test_audit_trail_page_is_for_auditors(evaluated_demo: Any) -> None:
    assert client_for("analyst").get("/audit/").status_code == 403
    page = client_for("auditor").get("/audit/?object_type=lot").content.decode()
    assert "lot.evaluated" in page
