"""A QA officer's first look, in a real browser: sign in, triage, open the failing lot."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_qa_signs_in_and_triages_by_exception(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url, "an anonymous visit leads to the login page"
    sign_in(page, live_server.url, "qa", password)
    assert page.locator("h2", has_text="Ready for QA review").is_visible()
    assert page.locator("a", has_text="EVX-24-001").first.is_visible()
    screenshot(page, "dashboard-qa")

    page.goto(f"{live_server.url}/lots/EVX-24-002/")
    attention = page.locator("h3", has_text="Needs attention")
    assert attention.is_visible()
    row = page.locator("tr", has_text="Bacterial endotoxins").first
    assert "0.80 EU/mL" in row.inner_text()
    screenshot(page, "lot-oos")


def test_lot_list_filters_as_you_type(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    sign_in(page, live_server.url, "reviewer", password)
    page.goto(f"{live_server.url}/lots/")
    assert page.locator("#lot-rows tr").count() == 4
    page.fill("input[name=q]", "24-003")
    # A locator, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator("#lot-rows tr")).to_have_count(1)
    assert "EVX-24-003" in page.locator("#lot-rows").inner_text()
    # Filtered in place (HTMX), and the filter is kept in the URL it pushes.
    expect(page).to_have_url(re.compile(r"/lots/\?q=24-003(&|$)"))
    screenshot(page, "lot-list-filtered")


def test_wrong_password_five_times_locks_the_account(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(5):
        page.fill("#id_username", "auditor")
        page.fill("#id_password", "not the password")
        page.click("button[type=submit]")
    assert page.locator("h1", has_text="Account locked").is_visible()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    assert page.locator("h1", has_text="Account locked").is_visible()
