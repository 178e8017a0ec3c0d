"""The list pages: sortable columns, filters and sort in the URL, a CSV export of the rows
shown, and a 400 page (never a 500) for a parameter the page does not understand."""

from __future__ import annotations

import csv
import re

import pytest

from qc.models import Lot
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def _lot_numbers(html: str) -> list[str]:
    body = html.split('<tbody id="lot-rows">')[1].split("</tbody>")[0]
    return re.findall(r"<strong>(EVX-[\d-]+)</strong>", body)


def _csv_rows(response: object) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return [row for row in csv.reader(text.splitlines()) if not row[0].startswith("# ")]


def test_the_lot_list_sorts_filters_and_exports_what_it_shows(evaluated_demo: None) -> None:
    client = client_for("qa")
    Lot.objects.filter(lot_number="EVX-24-003").update(manufactured_on="2026-01-01")
    by_date = client.get("/lots/?sort=manufactured").content.decode()
    assert _lot_numbers(by_date)[0] == "EVX-24-003"
    assert 'aria-sort="ascending"' in by_date
    assert 'href="?sort=-manufactured"' in by_date  # the sorted column's link reverses it
    assert _lot_numbers(client.get("/lots/?sort=-manufactured").content.decode())[-1] == (
        "EVX-24-003"
    )

    failing = client.get("/lots/?verdict=does_not_conform&sort=lot").content.decode()
    assert _lot_numbers(failing) == ["EVX-24-002"]
    assert 'value="does_not_conform" selected' in failing
    assert "verdict=does_not_conform&amp;sort=lot&amp;format=csv" in failing
    assert _lot_numbers(client.get("/lots/?verdict=none").content.decode()) == []

    export = client.get("/lots/?verdict=does_not_conform&sort=lot&format=csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    header, *rows = _csv_rows(export)
    assert header[:5] == ["lot", "product", "spec", "manufactured", "expires"]
    assert [row[0] for row in rows] == ["EVX-24-002"]
    lot = Lot.objects.get(lot_number="EVX-24-002")
    assert rows[0][3] == lot.manufactured_on.isoformat()
    everything = _csv_rows(client.get("/lots/?sort=lot&format=csv"))[1:]
    assert [row[0] for row in everything] == _lot_numbers(
        client.get("/lots/?sort=lot").content.decode()
    )


def test_a_bad_list_parameter_is_the_400_page(evaluated_demo: None) -> None:
    client = client_for("qa")
    for query in (
        "sort=nope",
        "verdict=maybe",
        "status=lost",
        "format=xls",
        "page=0",
        "q=" + "x" * 65,
    ):
        response = client.get(f"/lots/?{query}")
        assert response.status_code == 400, query
        assert b"Bad request" in response.content
        assert query.split("=")[0].encode() in response.content.lower()  # it names the parameter
    assert client.get("/lots/?unknown=1").status_code == 200  # names it does not use: ignored


def test_the_investigation_list_sorts_filters_and_exports(evaluated_demo: None) -> None:
    client = client_for("qa")
    page = client.get("/investigations/?kind=oos&sort=lot").content.decode()
    assert 'aria-sort="ascending"' in page and "kind=oos&amp;sort=lot&amp;format=csv" in page
    header, *rows = _csv_rows(client.get("/investigations/?kind=oos&sort=lot&format=csv"))
    assert header[:3] == ["number", "kind", "lot"]
    assert rows and {row[1] for row in rows} == {"oos"}
    assert [row[2] for row in rows] == sorted(row[2] for row in rows)
    for query in ("phase=lost", "sort=summary", "format=pdf"):
        assert client.get(f"/investigations/?{query}").status_code == 400, query


def test_the_release_history_sorts_and_refuses_bad_filters(evaluated_demo: None) -> None:
    client = client_for("auditor")
    page = client.get("/releases/?sort=lot").content.decode()
    assert 'aria-sort="ascending"' in page and "sort=lot&amp;format=csv" in page
    for query in ("decision=maybe", "sort=reason", "since=yesterday", "format=xls"):
        response = client.get(f"/releases/?{query}")
        assert response.status_code == 400, query
