"""The specification and reference-material pages, per persona, on the demo world:
versions, a version's lines in words, the comparison of v1 with the draft v2, the
impact preview, editing the draft, approval with a signature, and the dashboard's
warning before a reference material expires."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qc.demo import EXPIRING_MATERIAL, EXPIRING_MATERIAL_DAYS, PRODUCT
from qc.models import Lot, ReferenceMaterial, Specification
from services.audit.models import AuditEvent
from services.esign.models import Signature
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]

BASE = f"/specifications/{PRODUCT}"


def _lal_line(version: int) -> int:
    spec = Specification.objects.get(product__code=PRODUCT, version=version)
    return spec.lines.get(test__code="LAL").pk


def _codes(response: Any) -> set[str]:
    return set(re.findall(r'data-code="([a-z_]+)"', response.content.decode()))


def test_every_person_reads_the_versions_and_only_qa_gets_the_draft_forms(
    demo_world: None,
) -> None:
    listing = client_for("analyst").get("/specifications/").content.decode()
    assert 'data-version="1"' in listing and 'data-version="2"' in listing
    assert "Effective" in listing and "Draft" in listing
    for person in ("analyst", "reviewer", "qp", "auditor"):
        page = client_for(person).get(f"{BASE}/v2/").content.decode()
        assert "≤ 0.10 EU/mL (alert: ≤ 0.06 EU/mL)" in page  # the criterion in words
        assert 'id="add-line"' not in page and 'id="approve"' not in page, person
        assert "/remove/" not in page, person
    qa_draft = client_for("qa").get(f"{BASE}/v2/").content.decode()
    assert 'id="add-line"' in qa_draft and 'id="approve"' in qa_draft
    assert f"/lines/{_lal_line(2)}/remove/" in qa_draft
    assert "By signing, I approve EVX-MSC-01 specification v2" in qa_draft
    qa_effective = client_for("qa").get(f"{BASE}/v1/").content.decode()
    assert 'id="new-draft"' in qa_effective and 'id="add-line"' not in qa_effective
    assert client_for("qa").get(f"{BASE}/v9/").status_code == 404


def test_the_comparison_of_v1_with_the_draft_names_the_changed_endotoxin_line(
    demo_world: None,
) -> None:
    page = client_for("reviewer").get(f"{BASE}/compare/?old=1&new=2").content.decode()
    lal = re.search(r'<tr class="changed" data-test="LAL".*?</tr>', page, re.S)
    assert lal is not None, page
    assert "≤ 0.50 EU/mL" in lal.group(0) and "≤ 0.10 EU/mL" in lal.group(0)
    assert 'class="words changed"' in lal.group(0)
    assert page.count('data-difference="changed"') == 1
    assert 'data-difference="added"' not in page and 'data-difference="removed"' not in page
    default = client_for("reviewer").get(f"{BASE}/compare/").content.decode()
    assert "v1 against v2" in default  # the effective version against the newest other


def test_the_impact_preview_is_for_qa_and_qp_and_shows_the_lot_that_would_fail(
    evaluated_demo: None,
) -> None:
    assert client_for("analyst").get(f"{BASE}/v2/impact/").status_code == 403
    page = client_for("qa").get(f"{BASE}/v2/impact/").content.decode()
    row = re.search(r'<tr data-lot="EVX-24-001">.*?</tr>', page, re.S)
    assert row is not None, page
    assert "does not conform" in row.group(0).lower()
    assert client_for("qp").get(f"{BASE}/v2/impact/").status_code == 200


@pytest.mark.requirement("21CFR11.10e")
def test_qa_edits_the_draft_with_reasons_and_is_refused_on_the_effective_version(
    demo_world: None,
) -> None:
    qa = client_for("qa")
    line = _lal_line(2)
    change = {
        "line-{n}-criterion_type": "numeric_range",
        "line-{n}-maximum": "0.20",
        "line-{n}-params": '{"requires_run": true}',
        "line-{n}-alert_maximum": "0.10",
        "line-{n}-decimals": "2",
        "line-{n}-required": "on",
        "line-{n}-reason": "0.20 EU/mL after the supplier's data",
    }
    body = {key.format(n=line): value for key, value in change.items()}
    assert client_for("reviewer").post(f"{BASE}/v2/lines/{line}/", body).status_code == 403
    without_reason = {**body, f"line-{line}-reason": ""}
    assert qa.post(f"{BASE}/v2/lines/{line}/", without_reason).status_code == 400
    done = qa.post(f"{BASE}/v2/lines/{line}/", body)
    assert done.status_code == 302, done.content.decode()
    page = qa.get(f"{BASE}/v2/").content.decode()
    assert "≤ 0.20 EU/mL (alert: ≤ 0.10 EU/mL)" in page
    event = AuditEvent.objects.get(action="specification.line_changed")
    assert event.new_values["params"] == {"max": "0.20", "requires_run": True}

    effective = _lal_line(1)
    refused = qa.post(f"{BASE}/v1/lines/{effective}/remove/", {f"remove-{effective}-reason": "x"})
    assert refused.status_code == 409 and "specification_not_draft" in _codes(refused)

    myco = Specification.objects.get(product__code=PRODUCT, version=2).lines.get(test__code="MYCO")
    removed = qa.post(
        f"{BASE}/v2/lines/{myco.pk}/remove/", {f"remove-{myco.pk}-reason": "covered by v3"}
    )
    assert removed.status_code == 302
    added = qa.post(
        f"{BASE}/v2/lines/",
        {
            "add-test": "MYCO",
            "add-criterion_type": "qualitative",
            "add-params": '{"allowed": ["not detected"]}',
            "add-required": "on",
            "add-reason": "back again",
        },
    )
    assert added.status_code == 302, added.content.decode()
    actions = list(
        AuditEvent.objects.filter(object_type="specification").values_list("action", flat=True)
    )
    assert {"specification.line_removed", "specification.line_added"} <= set(actions)


@pytest.mark.requirement("21CFR11.50")
def test_qa_approves_the_draft_with_a_signature_that_stores_the_statement_shown(
    demo_world: None, password: str
) -> None:
    qa = client_for("qa")
    page = qa.get(f"{BASE}/v2/").content.decode()
    statement = re.search(r'<p class="statement">(.*?)</p>', page, re.S)
    assert statement is not None
    wrong = qa.post(
        f"{BASE}/v2/approve/", {"approve-reason": "annual review", "approve-password": "nope"}
    )
    assert wrong.status_code == 403
    assert client_for("qp").post(f"{BASE}/v2/approve/", {}).status_code == 403
    done = qa.post(
        f"{BASE}/v2/approve/", {"approve-reason": "annual review", "approve-password": password}
    )
    assert done.status_code == 302, done.content.decode()
    versions = dict(
        Specification.objects.filter(product__code=PRODUCT).values_list("version", "status")
    )
    assert versions == {1: "superseded", 2: "effective"}
    signature = Signature.objects.get(pk=Specification.objects.get(version=2).approval_signature_id)
    assert signature.statement == statement.group(1).replace("&#x27;", "'").strip()
    assert "Signed by" in qa.get(f"{BASE}/v2/").content.decode()

    # The lots created under v1 keep it; QA may bind one to v2 from its page.
    rebind = "/lots/EVX-24-001/actions/specification-rebind/"
    assert rebind in qa.get("/lots/EVX-24-001/").content.decode()
    assert rebind not in client_for("qp").get("/lots/EVX-24-001/").content.decode()
    moved = qa.post(rebind, {"specification-rebind-reason": "v2 is effective now"})
    assert moved.status_code == 302, moved.content.decode()
    lot = Lot.objects.select_related("specification").get(lot_number="EVX-24-001")
    assert lot.specification.version == 2
    assert AuditEvent.objects.filter(action="lot.specification_rebound").exists()
    assert rebind not in qa.get("/lots/EVX-24-001/").content.decode()  # on v2 already


def test_reference_materials_show_ranges_expiry_and_runs_and_the_dashboard_warns(
    demo_world: None, settings: Any
) -> None:
    code, lot = EXPIRING_MATERIAL
    for person in ("analyst", "qa", "auditor"):
        dashboard = client_for(person).get("/").content.decode()
        warning = re.search(r'id="expiring-materials".*?</section>', dashboard, re.S)
        assert warning is not None, person
        assert f'data-material="{code}/{lot}"' in warning.group(0)
        assert f"expires in {EXPIRING_MATERIAL_DAYS} days" in warning.group(0)
        assert 'data-material="CSE-2026/L-0426"' not in warning.group(0)
    listing = client_for("reviewer").get("/reference-materials/").content.decode()
    assert 'data-material="CSE-2026/L-0426"' in listing and 'data-expiry="soon"' in listing
    used = ReferenceMaterial.objects.get(code="CSE-2026")
    detail = client_for("reviewer").get(f"/reference-materials/{used.pk}/").content.decode()
    assert 'data-test="LAL-SPIKE"' in detail and "50 to 200" in detail
    assert "data-run=" in detail  # the LAL runs of the demo lots
    settings.REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS = 5
    assert 'id="expiring-materials"' not in client_for("qa").get("/").content.decode()
    assert client_for("qa").get("/reference-materials/999999/").status_code == 404
