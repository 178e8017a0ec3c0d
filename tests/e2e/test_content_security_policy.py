"""No page breaks the Content-Security-Policy: Chromium reports no violation on the main pages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in, walk_pages

pytestmark = [pytest.mark.django_db(transaction=True)]


def _watch(page: Any, violations: list[str] | None = None) -> list[str]:
    violations = [] if violations is None else violations

    def on_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            violations.append(f"{page.url}: {text}")

    page.on("console", on_console)
    return violations


def test_the_main_pages_load_without_a_csp_violation(
    evaluated_demo: None, live_server: Any, browser: Any, page: Any, password: str
) -> None:
    violations: list[str] = []
    # Every page of tests/pages.py, Swagger UI included (it runs from local files with
    # no inline script or style).
    walk_pages(
        browser,
        live_server.url,
        password,
        lambda page, entry, path: None,
        prepare=lambda page: _watch(page, violations),
    )
    _watch(page, violations)
    sign_in(page, live_server.url, "qa", password)
    # HTMX still works under the policy: the lot list filters in place.
    page.goto(f"{live_server.url}/lots/")
    page.fill("input[name=q]", "24-003")
    expect(page.locator("#lot-rows tr")).to_have_count(1)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .information-container", timeout=30_000)
    assert not violations, violations

    # Redoc renders under its relaxed page policy (inline styles it injects itself); the
    # one thing refused is its hard-coded branding image from a CDN, as it should be.
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("h1:has-text('evrelease API')", timeout=30_000)
    assert [v for v in violations if "https://cdn.redoc.ly/" not in v] == [], violations


def test_the_admin_loads_without_a_csp_violation(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    violations = _watch(page)
    sign_in(page, live_server.url, "admin", password)
    for path in ("/admin/", "/admin/accounts/user/", "/admin/accounts/user/add/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    assert not violations, violations
