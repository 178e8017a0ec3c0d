"""The lot page's pictures (NTA size histogram, potency dose-response, sparklines) and
its runs table with the State of every result, through Django's test client."""

from __future__ import annotations

import re

import pytest

from qc.models import Result
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def test_conforming_lot_shows_its_histogram_and_potency_curve(evaluated_demo: None) -> None:
    page = client_for("qa").get("/lots/EVX-24-001/").content.decode()
    pictures = _section(page, "pictures")
    histogram = re.search(r'<svg class="chart histogram".*?</svg>', pictures, re.DOTALL)
    assert histogram is not None
    svg = histogram.group(0)
    assert "<title" in svg and "<desc" in svg
    assert svg.count('<rect class="bar"') == 46  # the demo's 8 nm bins, 28-396 nm
    assert "mode 112" in svg and "D10 " in svg and "D50 " in svg and "D90 " in svg
    curve = re.search(r'<svg class="chart dose-response".*?</svg>', pictures, re.DOTALL)
    assert curve is not None
    svg = curve.group(0)
    assert svg.count('class="curve reference"') == 1 and svg.count('class="curve test"') == 1
    assert svg.count('<polyline class="fitted"') == 2  # the parallel lines
    assert svg.count("<circle") == 10  # five doses each
    assert "relative potency 95 %" in pictures
    assert pictures.count("<details>") == 2  # each picture's data table
    assert "style=" not in pictures  # strict CSP: classes only


def test_numeric_lines_have_a_sparkline_over_recent_lots(demo_with_history: None) -> None:
    from qc.models import Lot
    from qc.services.evaluation import lot_evaluate

    for lot in Lot.objects.filter(lot_number__startswith="EVX-24"):
        lot_evaluate(lot_id=lot.pk)
    page = client_for("qa").get("/lots/EVX-24-001/").content.decode()
    sparks = re.findall(r'<svg class="spark".*?</svg>', page, re.DOTALL)
    assert sparks, "no sparkline"
    nta = next(s for s in sparks if "NTA-CONC over the last 12 lots" in s)
    assert "<desc" in nta and '<circle class="here"' in nta  # this lot marked


def test_runs_table_and_struck_results_of_the_lot_with_a_failed_bead_control(
    evaluated_demo: None,
) -> None:
    page = client_for("reviewer").get("/lots/EVX-24-003/").content.decode()
    runs = _section(page, "runs")
    nta_run = re.search(r'<tr id="run-\d+" class="run-failed">.*?</tr>', runs, re.DOTALL)
    assert nta_run is not None and "EVX-24-003-NTA" in nta_run.group(0)
    assert "121 nm" in nta_run.group(0) and "certified 90–110 nm" in nta_run.group(0)
    assert "invalidated: " in nta_run.group(0) and 'href="#result-' in nta_run.group(0)
    assert runs.count('<span class="badge ok">valid</span>') == 3  # TRPS, LAL, potency
    results = _section(page, "results")
    nta = Result.objects.filter(lot__lot_number="EVX-24-003", test__code="NTA-CONC")
    for result in nta:
        row = re.search(rf'<tr id="result-{result.pk}" class="struck">.*?</tr>', results, re.DOTALL)
        assert row is not None, result.pk
        assert '<span class="badge bad">invalid</span> <del>' in row.group(0)
        assert re.search(r'<a href="#run-\d+">run EVX-24-003-NTA</a>', row.group(0))
    # never a bare id: the notes of the line name the result and link it
    assert not re.search(rf"\b{nta.first().pk} invalid:", page)
    assert re.search(r'<a href="#result-\d+">NTA-CONC replicate 1</a> invalid:', page)


def test_a_failed_run_strikes_its_results_before_any_evaluation(demo_world: None) -> None:
    page = client_for("reviewer").get("/lots/EVX-24-003/").content.decode()
    results = _section(page, "results")
    nta = Result.objects.filter(lot__lot_number="EVX-24-003", test__code="NTA-CONC")
    for result in nta:
        row = re.search(rf'<tr id="result-{result.pk}" class="struck">.*?</tr>', results, re.DOTALL)
        assert row is not None and "121 nm outside 90–110 nm" in row.group(0)
    pictures = _section(page, "pictures")
    assert '<span class="badge bad">invalid</span>' in pictures  # its histogram is not counted
