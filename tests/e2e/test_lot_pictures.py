"""The QA officer opens EVX-24-001 in a real browser and sees its NTA size histogram
(mode and D10/D50/D90 marked) and its potency dose-response curve, each with a
title, a description and its data table; the lot's assay runs are listed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_qa_sees_the_nta_histogram_and_the_potency_curve(
    evaluated_demo: None, live_server: Any, page: Any, password: str
) -> None:
    sign_in(page, live_server.url, "qa", password)
    page.goto(f"{live_server.url}/lots/EVX-24-001/")
    histogram = page.locator("svg.chart.histogram")
    histogram.scroll_into_view_if_needed()
    assert histogram.is_visible()
    assert "NTA size distribution" in histogram.locator("title").first.text_content()
    assert "D50" in histogram.locator("desc").text_content()
    assert histogram.locator("rect.bar").count() == 46
    labels = histogram.locator("text.marker-label").all_text_contents()
    assert [label.split()[0] for label in labels] == ["mode", "D10", "D50", "D90"]
    curve = page.locator("svg.chart.dose-response")
    assert curve.is_visible()
    assert curve.locator("g.curve.reference circle").count() == 5
    assert curve.locator("g.curve.test polyline.fitted").count() == 1
    box = curve.bounding_box()
    assert box is not None and box["width"] > 300  # drawn, not collapsed by the stylesheet
    table = page.locator("#pictures details").first
    table.locator("summary").click()
    assert table.locator("tbody tr").count() == 46  # the data-table fallback
    assert page.locator("#runs tbody tr").count() == 4
    screenshot(page, "lot-page-with-pictures")
    table.locator("summary").click()  # closed again: the pictures side by side with text
    page.locator("#pictures").screenshot(path=str(SCREENSHOTS / "lot-pictures.png"))
