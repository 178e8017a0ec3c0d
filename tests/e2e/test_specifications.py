"""The QA officer, in a real browser: compares specification v1 with the demo's draft
v2, previews the draft's impact on lots, and sees on the dashboard the reference
material that expires in 12 days; no page breaks the Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest

from qc.demo import EXPIRING_MATERIAL, EXPIRING_MATERIAL_DAYS
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_content_security_policy import _watch

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_qa_compares_v1_with_the_draft_previews_its_impact_and_sees_a_material_expiring(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    violations = _watch(page)
    sign_in(page, live_server.url, "qa", password)

    code, lot = EXPIRING_MATERIAL
    warning = page.locator("#expiring-materials")
    row = warning.locator(f'tr[data-material="{code}/{lot}"]')
    assert f"expires in {EXPIRING_MATERIAL_DAYS} days" in row.inner_text()
    screenshot(page, "dashboard-reference-material-expiring")
    row.locator("a").click()
    assert page.locator("h1", has_text=f"{code} lot {lot}").is_visible()
    assert page.locator("#ranges tr[data-test='NTA-MODE']").is_visible()

    page.click("nav >> text=Specifications")
    versions = page.locator("section", has_text="EVX-MSC-01")
    assert "Effective" in versions.locator("tr[data-version='1']").inner_text()
    assert "Draft" in versions.locator("tr[data-version='2']").inner_text()
    versions.get_by_role("button", name="Compare versions").click()  # v1 against v2
    assert page.locator("h1", has_text="v1 against v2").is_visible()
    endotoxin = page.locator("#differences tr[data-test='LAL']")
    assert endotoxin.get_attribute("data-difference") == "changed"
    assert "≤ 0.50 EU/mL" in endotoxin.inner_text() and "≤ 0.10 EU/mL" in endotoxin.inner_text()
    assert endotoxin.locator("td.changed").count() >= 1  # the change is highlighted
    assert page.locator("#differences tr[data-difference='same']").count() >= 5
    screenshot(page, "specification-compare-v1-v2")

    page.click("text=Preview the impact of v2 on lots")
    impact = page.locator("#impact tr[data-lot='EVX-24-001']")
    assert "Does not conform" in impact.inner_text() or "does not conform" in impact.inner_text()
    screenshot(page, "specification-impact-v2")

    # The draft's page: each line in words, its edit forms folded, the signed approval.
    page.goto(f"{live_server.url}/specifications/EVX-MSC-01/v2/")
    assert "≤ 0.10 EU/mL" in page.locator("#lines tr[data-test='LAL']").inner_text()
    page.locator("#lines details summary", has_text="(LAL)").click()
    opened = page.locator("#lines details[open]")
    assert opened.get_by_label("Upper limit", exact=True).input_value() == "0.10"
    assert page.locator("#approve .statement").is_visible()
    screenshot(page, "specification-v2-draft")
    assert not violations, violations
