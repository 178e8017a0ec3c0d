"""axe-core (pinned in tests/e2e/package.json) on every page of ours: no violation of any
impact (WCAG 2.1 A/AA and axe's best practices), on the pages of tests/pages.py as each
persona sees them; Swagger UI is a third party's page and is left out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import screenshot, walk_pages
from tests.pages import PAGES

pytestmark = [pytest.mark.django_db(transaction=True)]

_RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""


def test_every_page_of_ours_has_no_accessibility_violation(
    evaluated_demo_with_history: None,
    live_server: Any,
    browser: Any,
    password: str,
    axe_source: str,
) -> None:
    found: list[str] = []

    def check(page: Any, entry: Any, path: str) -> None:
        page.evaluate(axe_source)  # evaluated, not a <script>: the page's CSP stays as served
        for violation in page.evaluate(_RUN_AXE):
            found.append(
                f"{entry.persona or 'anonymous'} {path}: {violation['id']} "
                f"({violation['impact']}) at {violation['targets']}"
            )
        if entry.route == "lot-detail" and entry.persona == "qa":
            screenshot(page, f"a11y-{path.strip('/').replace('/', '-')}")

    walk_pages(browser, live_server.url, password, check, pages=tuple(p for p in PAGES if p.ours))
    assert not found, "axe-core violations:\n" + "\n".join(found)
