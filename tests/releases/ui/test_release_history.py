"""Release history across lots (API and page), filterable, with exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from releases.models import Certificate, Decision, Disposition
from releases.tasks import certificate_generate
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from tests.releases.ui.conftest import client_for
from tests.releases.ui.test_release_actions import CONFORMING, _released

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def released(evaluated_demo: None, password: str, media_root: Path) -> Disposition:
    _released(password)
    release = Disposition.objects.get(decision=Decision.RELEASED)
    certificate_generate(release.pk)
    return release


@pytest.mark.requirement("21CFR11.50")
def test_the_release_history_api_lists_every_decision_with_its_evidence(
    released: Disposition, api_as: Any, mes_api: Any
) -> None:
    from services.accounts.models import User

    api = api_as(User.objects.get(username="auditor"))
    rows = api.get("/api/v1/releases/").json()["results"]
    assert [r["decision"] for r in rows] == ["released", "approved"]  # newest first
    release = rows[0]
    assert release["lot"] == CONFORMING and release["product"]
    assert release["evaluation"]["verdict"] and release["evaluation"]["inputs_digest"]
    assert release["signature"]["printed_name"] and release["signature"]["meaning"] == "released"
    certificate = Certificate.objects.get()
    assert release["certificates"][0]["version"] == certificate.version
    assert release["certificates"][0]["pdf_sha256"] == certificate.pdf_sha256
    assert api.get(release["certificates"][0]["pdf"]).status_code == 200
    # Filters.
    assert len(api.get("/api/v1/releases/?decision=approved").json()["results"]) == 1
    assert api.get("/api/v1/releases/?lot=EVX-24-002").json()["results"] == []
    signer = release["signature"]["username"]
    assert len(api.get(f"/api/v1/releases/?signer={signer}").json()["results"]) == 1
    assert api.get("/api/v1/releases/?until=2000-01-01T00:00:00Z").json()["results"] == []
    bad = api.get("/api/v1/releases/?decision=maybe")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "decision"
    assert mes_api.get("/api/v1/releases/").status_code == 200  # like a lot's dispositions


def test_the_release_history_exports_and_audits_it(released: Disposition, api_as: Any) -> None:
    from services.accounts.models import User

    api = api_as(User.objects.get(username="qa"))
    response = api.get("/api/v1/releases/?decision=released&format=csv")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("# evrelease export: Release history")
    assert any("Audit chain head #" in line for line in lines)
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    assert rows[1][rows[0].index("lot")] == CONFORMING
    jsonl = api.get("/api/v1/releases/?format=jsonl")
    records = [json.loads(x) for x in b"".join(jsonl.streaming_content).splitlines()]
    assert {r["decision"] for r in records[1:]} == {"approved", "released"}
    exports = AuditEvent.objects.filter(action=AuditAction.AUDIT_EXPORTED, object_id="releases")
    assert [e.new_values["format"] for e in exports] == ["csv", "jsonl"]
    assert exports[0].new_values["filters"] == {"decision": "released"}


def test_the_release_history_page_keeps_its_filters_in_the_url(released: Disposition) -> None:
    client = client_for("auditor")
    page = client.get("/releases/?decision=released").content.decode()
    assert CONFORMING in page
    assert 'value="released" selected' in page
    assert "decision=released&amp;format=csv" in page
    assert "Approved" not in page.split("<tbody>")[1].split("</tbody>")[0]
    pdf = client.get("/releases/?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
