"""Every HTML page of ours, as the persona who opens it sees it, on the demo's real lots.

One list for every page walk: the strict Content-Security-Policy check
(tests/platform/test_security_headers.py, every named page route must be here), the
browser's CSP walk (tests/e2e/test_content_security_policy.py) and axe-core
(tests/e2e/test_accessibility.py). A new page is one line here.

``path`` may name ``{investigation}``: the number of the demo's OOS investigation, and
``{material}``: the id of the demo's first reference material (see :func:`page_path`).
"""

from __future__ import annotations

from dataclasses import dataclass

from qc.models import ReferenceMaterial
from releases.models import Investigation


@dataclass(frozen=True, slots=True)
class Page:
    route: str  # the URL name ("" for a page with none, e.g. the 404 page)
    persona: str  # the demo account signed in ("" for nobody)
    path: str
    status: int = 200
    ours: bool = True  # False: a third party's page (Swagger UI), not checked by axe-core


PAGES: tuple[Page, ...] = (
    Page("home", "qa", "/"),
    Page("home", "reviewer", "/"),
    Page("home", "qp", "/"),
    Page("home", "analyst", "/"),
    Page("home", "auditor", "/"),
    Page("lot-list", "qa", "/lots/"),
    Page("lot-list", "qa", "/lots/?verdict=does_not_conform&sort=-manufactured"),
    Page("lot-detail", "qa", "/lots/EVX-24-001/"),
    Page("lot-detail", "qa", "/lots/EVX-24-002/"),
    Page("lot-detail", "reviewer", "/lots/EVX-24-003/"),
    Page("lot-detail", "analyst", "/lots/EVX-24-004/"),
    Page("lot-detail", "qp", "/lots/EVX-24-001/"),
    Page("lot-history", "auditor", "/lots/EVX-24-001/history/"),
    Page("investigation-list", "qa", "/investigations/"),
    Page("investigation-detail", "qa", "/investigations/{investigation}/"),
    Page("notification-list", "qa", "/notifications/"),
    Page("audit-trail", "auditor", "/audit/"),
    Page("release-history", "auditor", "/releases/"),
    Page("trend-list", "qa", "/trends/"),
    Page("trend-detail", "qa", "/trends/EVX-MSC-01/NTA-CONC/"),
    Page("specification-list", "qa", "/specifications/"),
    Page("specification-detail", "qa", "/specifications/EVX-MSC-01/v1/"),
    Page("specification-detail", "qa", "/specifications/EVX-MSC-01/v2/"),  # the draft's forms
    Page("specification-compare", "qa", "/specifications/EVX-MSC-01/compare/?old=1&new=2"),
    Page("specification-impact", "qa", "/specifications/EVX-MSC-01/v2/impact/"),
    Page("reference-material-list", "qa", "/reference-materials/"),
    Page("reference-material-detail", "qa", "/reference-materials/{material}/"),
    Page("login", "", "/accounts/login/"),
    Page("", "qa", "/no-such-page/", status=404),
    Page("api-docs", "qa", "/api/docs/", ours=False),
)


def page_path(page: Page) -> str:
    """The page's path with the demo's record numbers filled in (needs the database)."""
    if "{investigation}" in page.path:
        investigation = Investigation.objects.order_by("pk").first()
        assert investigation is not None, "the demo opens an OOS investigation"
        return page.path.format(investigation=investigation.number)
    if "{material}" in page.path:
        material = ReferenceMaterial.objects.order_by("pk").first()
        assert material is not None, "the demo has reference materials"
        return page.path.format(material=material.pk)
    return page.path


def by_persona(pages: tuple[Page, ...] = PAGES) -> dict[str, list[Page]]:
    """The pages grouped by who opens them, in the order listed (one sign-in each)."""
    grouped: dict[str, list[Page]] = {}
    for page in pages:
        grouped.setdefault(page.persona, []).append(page)
    return grouped
