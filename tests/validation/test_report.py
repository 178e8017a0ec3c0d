"""The validation report's renderer on a small synthetic results file (no suite run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.validation import report

DOMAIN = """# Domain brief
## 3. Something else
| Clause | Rule | Behaviour |
|---|---|---|
| Not §4 [M] | ignored | ignored |

## 4. The rules a release system must enforce
| Clause | Rule | Behaviour |
|---|---|---|
| 21 CFR 211.165(a) [M] | each batch tested | release refused until conforming |
| 21 CFR 11.10(e) [M] | audit trail | append-only |
| 11.10(d),(f),(g) [M] | access, sequencing, authority | roles, guards |
| 21 CFR 211.137 [M] | expiration date | expired lot never released |
| A clause nobody mapped [T] | new rule | new behaviour |

## 5. What the best systems do
"""


def _test(nodeid: str, outcome: str, *requirements: str) -> dict[str, object]:
    return {"nodeid": nodeid, "outcome": outcome, "requirements": list(requirements)}


RESULTS = {
    "schema": report.__name__,
    "exitstatus": 1,
    "args": ["tests/x"],
    "environment": {
        "date": "2026-12-02T05:00:00+00:00",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "git_branch": "vreport",
        "git_dirty": False,
        "python": "3.11.9",
        "django": "5.2.19",
        "postgresql": "PostgreSQL 16.4 on x86_64",
        "redis": {"redis_version": "7.2.5", "redis_mode": "standalone", "os": "Linux"},
        "lock_file": "requirements-dev.lock",
        "pins": [{"name": "Django", "pinned": "5.2.19", "installed": "5.2.19"}],
    },
    "tests": [
        _test("tests/x.py::test_release_refused", "passed", "21CFR211.165a"),
        _test("tests/x.py::test_audit_old_values", "failed", "21CFR11.10e"),
        _test("tests/x.py::test_audit_append_only", "passed", "21CFR11.10e"),
        _test("tests/x.py::test_roles", "passed", "21CFR11.10d"),
        _test("tests/x.py::test_expiry_skipped", "skipped", "21CFR211.137"),
        _test("tests/x.py::test_signature_general", "passed", "21CFR11.100"),
        _test("tests/x.py::test_rounding", "passed", "USP-GN-rounding"),
    ],
    "collection_errors": [],
}


def _row(html: str, clause: str) -> str:
    start = html.index(f"<b>{clause}</b>")
    return html[start : html.index("</tr>", start)]


def test_matrix_lists_covered_failed_and_uncovered_clauses(tmp_path: Path) -> None:
    matrix = report.build(RESULTS, DOMAIN)
    html = report.render_html(matrix)

    assert [c.name for c in matrix.clauses] == [
        "21 CFR 211.165(a)",
        "21 CFR 11.10(e)",
        "11.10(d),(f),(g)",
        "21 CFR 211.137",
        "A clause nobody mapped",
        "21 CFR 11.100",  # a Part 11 clause the tests claim beyond §4
    ]
    assert 'class="passed">passed' in _row(html, "21 CFR 211.165(a)")
    assert 'class="failed">failed' in _row(html, "21 CFR 11.10(e)")
    # A skipped test proves nothing: the clause is uncovered, and says so.
    assert 'class="uncovered">uncovered' in _row(html, "21 CFR 211.137")
    assert 'class="uncovered">uncovered' in _row(html, "A clause nobody mapped")
    partial = _row(html, "11.10(d),(f),(g)")
    assert "passed" in partial and "21CFR11.10f, 21CFR11.10g" in partial
    assert "USP-GN-rounding" in html and "21CFR11.100" in matrix.outside
    assert "0123456789abcdef" in html and "PostgreSQL 16.4" in html and "7.2.5" in html
    assert matrix.summary().startswith(
        "validation report: 6 clauses: 4 covered (3 passed, 1 failed), 2 uncovered; "
        "1 covered only in part; 2 marker ids outside DOMAIN.md §4; 7 tests"
    )
    assert not matrix.ok


def test_main_writes_html_and_pdf_and_fails_on_a_failed_test(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(RESULTS), encoding="utf-8")
    domain = tmp_path / "DOMAIN.md"
    domain.write_text(DOMAIN, encoding="utf-8")
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"

    code = report.main(
        [str(results), "--domain", str(domain), "--html", str(html), "--pdf", str(pdf)]
    )

    assert code == 1
    assert "4 covered (3 passed, 1 failed), 2 uncovered" in capsys.readouterr().out
    assert "A clause nobody mapped" in html.read_text(encoding="utf-8")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_every_clause_of_the_real_domain_is_mapped() -> None:
    """When DOMAIN.md is at hand, the explicit mapping knows each of its §4 clauses."""
    try:
        domain = report.find_domain()
    except SystemExit:
        pytest.skip("DOMAIN.md is not next to this checkout")
    names = [row[0] for row in report.domain_clauses(domain.read_text(encoding="utf-8"))]
    assert [n for n in names if n not in report.CLAUSE_MARKERS] == []
