"""The release workflow in a real browser: the conforming demo lot released with three
people's signatures, its certificate downloaded and checked against the SHA-256 on the
page; and the OOS lot's investigation taken to a confirmed OOS and a rejected lot."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from qc.models import Lot, LotStatus
from releases.models import Certificate, Decision, Disposition
from releases.tasks import certificate_generate
from tests.e2e.conftest import screenshot, sign_in
from tests.releases.conftest import media_root  # noqa: F401 - shared fixture

pytestmark = [pytest.mark.django_db(transaction=True)]


def _sign_out(page: Any) -> None:
    page.click("form.who button[type=submit]")
    page.wait_for_url("**/accounts/login/**")


def _as(page: Any, base: str, username: str, password: str) -> None:
    if page.locator("form.who").count():
        _sign_out(page)
    sign_in(page, base, username, password)


def _sign(page: Any, key: str, reason: str, password: str) -> None:
    """Fill one action's form (reason and, when it signs, the password) and submit it."""
    panel = page.locator(f"#action-{key}")
    if panel.locator("details:not([open])").count():
        panel.locator("summary").click()
    page.fill(f"#id_{key}-reason", reason)
    if panel.locator("input[type=password]").count():
        page.fill(f"#id_{key}-password", password)
    panel.locator("button[type=submit]").click()


def _success(page: Any) -> str:
    message = page.locator("ul.messages li.success")
    message.wait_for()
    return str(message.inner_text())


@pytest.mark.requirement("EU-GMP-Annex16")
@pytest.mark.requirement("21CFR11.50")
@pytest.mark.requirement("21CFR11.200a")
@pytest.mark.usefixtures("media_root")
def test_the_conforming_lot_is_released_through_the_browser(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    base, lot_url = live_server.url, f"{live_server.url}/lots/EVX-24-001/"

    # The QC reviewer signs the second-person review of the results.
    _as(page, base, "reviewer", password)
    page.goto(lot_url)
    assert page.locator("#checklist li.fail").count() == 2
    form = page.locator("#action-result-review")
    assert "By signing, I confirm that I reviewed all 18 result(s)" in form.inner_text()
    assert form.locator(".printed-name").inner_text() == "Rene Viewer"
    assert form.locator("input[type=password]").get_attribute("autocomplete") == (
        "current-password"
    )
    screenshot(page, "release-1-reviewer-lot")
    _sign(page, "result-review", "raw data, calculations and runs checked", password)
    assert "The results of lot EVX-24-001 are reviewed. Signed by Rene Viewer" in _success(page)

    # QA reviews the audit trail, sees every check pass, and approves.
    _as(page, base, "qa", password)
    page.goto(lot_url)
    _sign(page, "audit-trail-review", "no unexplained change or late entry", password)
    _success(page)
    assert page.locator("#checklist li.fail").count() == 0
    assert "all 10 checks pass" in page.locator("#checklist h2").inner_text()
    screenshot(page, "release-2-qa-checklist-passes")
    _sign(page, "approve", "conforms to specification v1; records reviewed", password)
    assert "Lot EVX-24-001 is approved by QA" in _success(page)
    assert page.locator("h1 .badge").inner_text() == "Approved by QA"

    # The Qualified Person certifies.
    _as(page, base, "qp", password)
    assert page.locator("#bell .count").inner_text() == "1"  # awaiting certification
    page.goto(lot_url)
    assert "I certify as Qualified Person" in page.locator("#action-release").inner_text()
    screenshot(page, "release-3-qp-certifies")
    _sign(page, "release", "certified per EU GMP Annex 16", password)
    _success(page)
    assert page.locator("h1 .badge").inner_text() == "Released"
    manifest = page.locator("#signatures table.manifest tbody tr")
    assert manifest.count() >= 3
    rows = [manifest.nth(i).inner_text() for i in range(manifest.count())]
    assert any("Quentin Person" in row and "Released" in row for row in rows)
    assert all("intact" in row for row in rows)

    # The documents worker's task, run here synchronously; then the page shows the CoA.
    release = Disposition.objects.get(lot__lot_number="EVX-24-001", decision=Decision.RELEASED)
    certificate = Certificate.objects.get(pk=certificate_generate(release.pk))
    page.reload()
    shown = page.locator("#certificates li.certificate").first
    sha = shown.locator("code.sha256[data-kind=pdf]").inner_text().strip()
    assert sha == certificate.pdf_sha256
    screenshot(page, "release-4-released-with-manifest")
    with page.expect_download() as download_info:
        shown.locator("a.download", has_text="PDF").click()
    body = Path(download_info.value.path()).read_bytes()
    assert body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == sha

    # The auditor's printable release history.
    _as(page, base, "auditor", password)
    page.goto(lot_url)
    page.click("text=Release history (printable)")
    assert page.locator("h1", has_text="Release history").is_visible()
    assert certificate.pdf_sha256 in page.content()
    screenshot(page, "release-5-history")
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    screenshot(page, "release-6-history-print")


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("21CFR211.165f")
def test_the_oos_lot_is_investigated_and_rejected_through_the_browser(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    base, lot_url = live_server.url, f"{live_server.url}/lots/EVX-24-002/"

    # QA cannot approve it: the refusal lists every reason.
    _as(page, base, "qa", password)
    page.goto(lot_url)
    _sign(page, "approve", "trying anyway", password)
    refusal = page.locator("#action-approve .refusal")
    refusal.wait_for()
    assert "Bacterial endotoxins: does not conform" in refusal.inner_text()
    assert page.locator("#id_approve-reason").input_value() == "trying anyway"
    screenshot(page, "oos-1-approval-refused")

    # The QC reviewer records the checks and concludes Phase I: no assignable cause.
    _as(page, base, "reviewer", password)
    page.goto(lot_url)
    page.locator("a[href^='/investigations/OOS-']").first.click()
    page.wait_for_url("**/investigations/OOS-*/")
    investigation_url = page.url
    _fill_and_submit(
        page, "entry", {"#id_entry-text": "calculations, LAL reagent lot and CSE standard checked"}
    )
    page.check("input[name='phase-one-assignable_cause'][value='no']")
    _fill_and_submit(
        page,
        "phase-one",
        {"#id_phase-one-reason": "no laboratory error found", "#id_phase-one-password": password},
    )
    assert "Phase II" in page.locator("h1 .badge").inner_text()

    # QA records Phase II (other lots checked) and concludes: OOS confirmed.
    _as(page, base, "qa", password)
    page.goto(investigation_url)
    assert "budget" in page.locator("#action-allow-retest").inner_text()
    assert "used so far: 0" in page.locator("#action-allow-retest").inner_text()
    page.check("input[name='phase-two-lots_checked'][value='EVX-24-001']")
    _fill_and_submit(
        page, "phase-two", {"#id_phase-two-findings": "same reagent lot; EVX-24-001 conforms"}
    )
    screenshot(page, "oos-2-investigation-phase-two")
    page.check("input[name='conclude-conclusion'][value='confirmed_oos']")
    _sign(page, "conclude", "OOS confirmed: no laboratory cause found", password)
    assert "is concluded" in _success(page)
    assert page.locator("h1 .badge").inner_text() == "Closed"
    # One signature per act: Phase I by the reviewer, the conclusion (and rejection) by QA.
    phase_one = page.locator(".log .entry-phase_one_concluded .signed")
    assert (
        "Rene Viewer" in phase_one.inner_text() and "meaning: Concluded" in phase_one.inner_text()
    )
    concluded = page.locator(".log .entry-concluded")
    assert "meaning: Concluded" in concluded.locator(".signed").inner_text()
    assert "the lot is rejected by this signature" in concluded.inner_text()
    screenshot(page, "oos-3-investigation-closed")
    page.goto(lot_url)
    assert page.locator("h1 .badge").inner_text() == "Rejected"
    assert Lot.objects.get(lot_number="EVX-24-002").status == LotStatus.REJECTED
    screenshot(page, "oos-4-lot-rejected")


def _fill_and_submit(page: Any, key: str, fields: dict[str, str]) -> None:
    for selector, value in fields.items():
        page.fill(selector, value)
    page.locator(f"#action-{key} button[type=submit]").click()
    _success(page)


def test_notifications_are_marked_read_in_place(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    _as(page, live_server.url, "qa", password)
    before = int(page.locator("#bell .count").inner_text())
    page.click("#bell")
    page.wait_for_url("**/notifications/")
    screenshot(page, "notifications")
    page.locator("li.notification.unread button", has_text="Mark read").first.click()
    # A locator, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator("li.notification.unread")).to_have_count(before - 1)
    assert page.url.endswith("/notifications/"), "marked read in place, without a page load"
    if before > 1:
        assert page.locator("#bell .count").inner_text() == str(before - 1)
    else:
        assert page.locator("#bell .count").count() == 0
