"""The QA officer opens the control chart of NTA-CONC for EVX-MSC-01, in a real
browser: limits fixed from a signed baseline, a Nelson rule broken in the demo
data, and the out-of-trend notice on the lot's review by exception."""

from __future__ import annotations

from typing import Any

import pytest

from qc.demo_history import OUT_OF_TREND_LOT
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_qa_opens_the_control_chart_with_fixed_limits_and_a_rule_violation(
    demo_with_history: None, live_server: Any, page: Any, password: str
) -> None:
    sign_in(page, live_server.url, "qa", password)
    page.click("nav >> text=Trends")
    row = page.locator("tr", has_text="NTA-CONC").first
    assert "signed" in row.inner_text()
    row.locator("a", has_text="NTA-CONC").click()
    assert page.locator("h1", has_text="NTA-CONC of EVX-MSC-01").is_visible()
    assert page.locator("#limits .badge", has_text="signed, fixed").is_visible()
    chart = page.locator("svg.chart").first
    assert chart.locator("title").first.text_content() == "Individuals chart"
    assert chart.locator("line.limit.control").count() == 2  # UCL and LCL, as signed
    assert chart.locator("line.limit.spec").count() == 2
    flagged = chart.locator(f'g.point.flagged[data-lot="{OUT_OF_TREND_LOT}"]')
    assert flagged.get_attribute("data-rules") == "1"
    violations = page.locator("#violations tr[data-rule='1']")
    assert OUT_OF_TREND_LOT in violations.first.inner_text()
    assert page.locator("#data tbody tr").count() >= 23  # the data-table fallback
    screenshot(page, "trend-nta-conc")

    violations.first.locator("a").click()
    notices = page.locator("#out-of-trend")
    assert "Nelson rule 1" in notices.inner_text()
    screenshot(page, "lot-out-of-trend")
