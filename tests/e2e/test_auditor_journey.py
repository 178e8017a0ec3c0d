"""The auditor's journey in a real browser, on the demo as ``make run`` seeds it: the demo
auditor finds the release of EVX-24-000, downloads its certificate, exports the release
history as CSV and PDF and the lot's audit trail as JSON Lines, sees the chain verify,
and finds every one of those exports in the audit trail (21 CFR 11.10(e))."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from releases.models import Certificate
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from services.audit.tasks import chain_verify
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]

LOT = "EVX-24-000"


def _download(page: Any, link: Any) -> bytes:
    with page.expect_download() as download_info:
        link.click()
    return Path(download_info.value.path()).read_bytes()


@pytest.mark.requirement("21CFR11.10e")
def test_the_auditor_finds_the_release_exports_it_and_sees_the_chain_verify(
    released_demo: None, live_server: Any, page: Any, password: str
) -> None:
    base = live_server.url
    sign_in(page, base, "auditor", password)

    # The release history, filtered to the lot (the filter stays in the URL).
    page.goto(f"{base}/releases/")
    page.fill("input[name=lot]", LOT)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"**/releases/?*lot={LOT}*")
    rows = page.locator("table.release-history tbody tr")
    expect(rows).to_have_count(2)  # QA's approval and the QP's certification
    released = rows.filter(has_text="Quentin Person")
    expect(released.locator(".badge")).to_have_text("Released")
    screenshot(page, "auditor-1-release-history")

    # Its certificate, checked against the SHA-256 the system stored.
    certificate = Certificate.objects.get(lot__lot_number=LOT)
    pdf = _download(page, released.locator("a", has_text="v1 PDF"))
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256

    # The release history as CSV and as PDF, with the page's filters.
    exports = page.locator("p.exports")
    csv_text = _download(page, exports.locator("a", has_text="CSV")).decode()
    assert csv_text.startswith("# evrelease export")
    assert LOT in csv_text and "verification passed" in csv_text
    assert _download(page, exports.locator("a", has_text="PDF")).startswith(b"%PDF")

    # The lot's whole audit trail as JSON Lines.
    page.goto(f"{base}/audit/?lot={LOT}")
    screenshot(page, "auditor-2-lot-audit-trail")
    jsonl = _download(page, page.locator("p.exports a", has_text="JSON Lines")).decode()
    meta, *events = [json.loads(line) for line in jsonl.splitlines()]
    assert meta["_export"]["filters"] == {"lot": LOT}
    assert meta["_export"]["chain"]["verification"]["passed"] is True
    actions = {event["action"] for event in events}
    assert {AuditAction.LOT_RELEASED, AuditAction.CERTIFICATE_ISSUED} <= actions

    # The chain, verified from the page: the documents worker's task, run here
    # synchronously for the run the page started; the page polls until it is done.
    page.goto(f"{base}/audit/")
    page.locator("#chain button", has_text="Verify the chain now").click()
    polling = page.locator("#chain [hx-get]")
    polling.wait_for()
    run_id = str(polling.get_attribute("hx-get")).rstrip("/").rsplit("/", 1)[-1]
    auditor = User.objects.get(username="auditor")
    actor = auditor.audit_actor()
    chain_verify(run_id, str(actor.type), str(actor.id), actor.name)
    expect(page.locator("#chain .chain-ok")).to_be_visible(timeout=20_000)
    screenshot(page, "auditor-3-chain-verified")

    # Every export is in the audit trail: who, what, which filters, which format.
    exported = AuditEvent.objects.filter(
        action=AuditAction.AUDIT_EXPORTED, actor_name=actor.name
    ).order_by("sequence")
    assert [(e.object_id, e.new_values["format"], e.new_values["filters"]) for e in exported] == [
        ("releases", "csv", {"lot": LOT}),
        ("releases", "pdf", {"lot": LOT}),
        ("audit-events", "jsonl", {"lot": LOT}),
    ]
    page.goto(f"{base}/audit/?action={AuditAction.AUDIT_EXPORTED}")
    expect(page.locator("table.events-table > tbody > tr")).to_have_count(3)
    screenshot(page, "auditor-4-exports-in-the-trail")
