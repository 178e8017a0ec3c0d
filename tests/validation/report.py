"""The validation report: a requirements-traceability matrix, in HTML and PDF.

    python -m tests.validation.report var/validation/results.json \\
        --html var/validation/validation-report.html --pdf var/validation/validation-report.pdf

Reads the results the pytest plugin wrote (``--validation-json``, see plugin.py) and
the clauses of DOMAIN.md §4 ("The rules a release system must enforce"), read at run
time.  Each clause maps to the marker ids of ``@pytest.mark.requirement`` through the
one explicit table below (``CLAUSE_MARKERS``).  Every clause is listed: covered
(passed or failed) or uncovered; marker ids that match no clause are listed too, and
Part 11 clauses the tests claim beyond §4 join the matrix.  The summary line goes to
the terminal; the exit code is 1 when a test failed or the run did not succeed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]

# DOMAIN.md §4 clause (as written in its first column, without the [M]/[G]/[T] tag)
# -> the marker ids that prove it.  A clause of several parts names each part's id,
# so a part no test carries shows as missing.  Keep in step with DOMAIN.md.
CLAUSE_MARKERS: dict[str, tuple[str, ...]] = {
    "21 CFR 211.165(a)": ("21CFR211.165a",),
    "21 CFR 211.165(f)": ("21CFR211.165f",),
    "21 CFR 610.1": ("21CFR610.1",),
    "21 CFR 211.192": ("21CFR211.192",),
    "21 CFR 211.194(a)": ("21CFR211.194a", "21CFR211.194a8"),
    "21 CFR 11.10(e)": ("21CFR11.10e",),
    "11.10(d),(f),(g)": ("21CFR11.10d", "21CFR11.10f", "21CFR11.10g"),
    "11.50": ("21CFR11.50",),
    "11.70": ("21CFR11.70",),
    "11.200(a)": ("21CFR11.200a",),
    "11.300(d)": ("21CFR11.300d",),
    "EU GMP Annex 11 §9, §12, §14": ("EU-GMP-Annex11-9", "EU-GMP-Annex11-12", "EU-GMP-Annex11-14"),
    "EU GMP Annex 16": ("EU-GMP-Annex16",),
    "FDA OOS guidance": ("FDA-OOS",),
    "ALCOA+": (
        "ALCOA-attributable",
        "ALCOA-legible",
        "ALCOA-contemporaneous",
        "ALCOA-original",
        "ALCOA-accurate",
        "ALCOA-complete",
        "ALCOA-consistent",
        "ALCOA-enduring",
        "ALCOA-available",
    ),
    "Review by exception": ("review-by-exception",),
    "21 CFR 211.137": ("21CFR211.137",),
    "Ph. Eur. 5.3; USP <1032>/<1034>": ("PhEur5.3", "USP<1032>", "USP<1034>"),
    "PIC/S PI 041-1 §9; Annex 11 §9": ("PICS-PI041-9", "EU-GMP-Annex11-9"),
    "OWASP ASVS V2": ("OWASP-ASVS-V2",),
}

PART11_MARKER = re.compile(r"^21CFR11\.(\d+)([a-z]*)$")
PROVING = {"passed": "passed", "xpassed": "passed", "failed": "failed"}


@dataclass
class Clause:
    name: str
    force: str  # [M], [G], [T], [M in EU]...
    rule: str
    behaviour: str
    source: str  # "DOMAIN.md §4" or "Part 11 (claimed by the tests)"
    markers: tuple[str, ...]
    tests: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # marker ids no test that ran carries

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tests if PROVING.get(t["outcome"]) == "passed")

    @property
    def failed(self) -> int:
        return sum(1 for t in self.tests if PROVING.get(t["outcome"]) == "failed")

    @property
    def status(self) -> str:
        if self.failed:
            return "failed"
        if self.passed:
            return "passed"
        return "uncovered"


@dataclass
class Matrix:
    clauses: list[Clause]
    outside: dict[str, list[dict[str, Any]]]  # marker id matching no DOMAIN clause -> tests
    unmapped: list[str]  # DOMAIN clauses the CLAUSE_MARKERS table does not know
    results: dict[str, Any]

    def count(self, status: str) -> int:
        return sum(1 for c in self.clauses if c.status == status)

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.results.get("tests", []))

    @property
    def ok(self) -> bool:
        return (
            self.results.get("exitstatus", 1) == 0
            and not self.results.get("collection_errors")
            and not any(t["outcome"] == "failed" for t in self.tests)
        )

    def summary(self) -> str:
        covered = len(self.clauses) - self.count("uncovered")
        partial = sum(1 for c in self.clauses if c.status != "uncovered" and c.missing)
        outcomes: dict[str, int] = {}
        for test in self.tests:
            outcomes[test["outcome"]] = outcomes.get(test["outcome"], 0) + 1
        tests = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none ran"
        commit = str(self.results.get("environment", {}).get("git_commit", ""))[:12] or "?"
        return (
            f"validation report: {len(self.clauses)} clauses: {covered} covered "
            f"({self.count('passed')} passed, {self.count('failed')} failed), "
            f"{self.count('uncovered')} uncovered; {partial} covered only in part; "
            f"{len(self.outside)} marker ids outside DOMAIN.md §4; "
            f"{len(self.tests)} tests ({tests}); commit {commit}"
        )


def find_domain(explicit: str | None = None) -> Path:
    candidates = [explicit, os.environ.get("EVRELEASE_DOMAIN_MD")]
    candidates += [str(BASE_DIR / up / "shared" / "DOMAIN.md") for up in ("..", "../..")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit(
        "DOMAIN.md not found (tried ../shared and ../../shared next to the checkout): "
        "pass --domain PATH or set EVRELEASE_DOMAIN_MD"
    )


def domain_clauses(text: str) -> list[tuple[str, str, str, str]]:
    """(clause, force, rule, behaviour) for each row of §4's table, in order."""
    rows: list[tuple[str, str, str, str]] = []
    in_section = False
    for line in text.splitlines():
        if line.startswith("## "):
            in_section = line.startswith("## 4.")
            continue
        if not in_section or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] == "Clause" or set(cells[0]) <= set("-: "):
            continue
        match = re.match(r"^(.*?)\s*(\[[^\]]*\])?$", cells[0])
        name, force = (match.group(1), match.group(2) or "") if match else (cells[0], "")
        rows.append((name, force, cells[1], cells[2]))
    if not rows:
        raise SystemExit("DOMAIN.md has no table under '## 4.': nothing to trace")
    return rows


def _part11_name(marker: str) -> str:
    match = PART11_MARKER.match(marker)
    if not match:
        return marker
    section, letter = match.groups()
    return f"21 CFR 11.{section}" + (f"({letter})" if letter else "")


def build(results: dict[str, Any], domain_text: str) -> Matrix:
    by_marker: dict[str, list[dict[str, Any]]] = {}
    for test in results.get("tests", []):
        for marker in dict.fromkeys(test.get("requirements", [])):
            by_marker.setdefault(marker, []).append(test)

    clauses: list[Clause] = []
    unmapped: list[str] = []
    for name, force, rule, behaviour in domain_clauses(domain_text):
        markers = CLAUSE_MARKERS.get(name)
        if markers is None:
            unmapped.append(name)
            markers = ()
        clauses.append(Clause(name, force, rule, behaviour, "DOMAIN.md §4", markers))

    mapped = {m for c in clauses for m in c.markers}
    outside = {m: tests for m, tests in sorted(by_marker.items()) if m not in mapped}
    for marker in outside:
        if PART11_MARKER.match(marker):
            source = "Part 11 (claimed by the tests)"
            clauses.append(Clause(_part11_name(marker), "", "", "", source, (marker,)))

    for clause in clauses:
        seen: dict[str, dict[str, Any]] = {}
        for marker in clause.markers:
            ran = [t for t in by_marker.get(marker, []) if t["outcome"] in PROVING]
            if not ran:
                clause.missing.append(marker)
            for test in by_marker.get(marker, []):
                seen.setdefault(test["nodeid"], test)
        clause.tests = list(seen.values())
    return Matrix(clauses, outside, unmapped, results)


# --- HTML -----------------------------------------------------------------------------

CSS = """
@page { size: A4 landscape; margin: 12mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: sans-serif; font-size: 9pt; color: #111; }
h1 { font-size: 15pt; margin-bottom: 2mm; } h2 { font-size: 12pt; margin-top: 6mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 4mm; }
th, td { border: 1px solid #999; padding: 2px 4px; vertical-align: top; text-align: left; }
th { background: #eee; } tr { page-break-inside: avoid; }
.passed { color: #075e07; font-weight: bold; } .failed { color: #b00000; font-weight: bold; }
.uncovered { color: #8a5a00; font-weight: bold; } .skipped, .xfailed { color: #555; }
.tests { font-family: monospace; font-size: 7pt; word-break: break-all; }
.summary { font-size: 11pt; font-weight: bold; border: 2px solid #333; padding: 2mm; }
pre { font-size: 7pt; white-space: pre-wrap; word-break: break-all; }
"""


def _status(status: str) -> str:
    return f'<span class="{escape(status)}">{escape(status)}</span>'


def _tests_cell(tests: list[dict[str, Any]]) -> str:
    if not tests:
        return "—"
    return "<br>".join(f"{_status(t['outcome'])} {escape(t['nodeid'])}" for t in tests)


def render_html(matrix: Matrix) -> str:
    env = matrix.results.get("environment", {})
    redis = env.get("redis", {})
    redis_text = (
        f"{redis.get('redis_version')} (mode {redis.get('redis_mode', '?')}, "
        f"{redis.get('os', '?')})"
        if "redis_version" in redis
        else f"unknown ({redis.get('error', '?')})"
    )
    dirty = " (uncommitted changes)" if env.get("git_dirty") else ""
    commit = str(env.get("git_commit", "")) + dirty
    facts = [
        ("Date (UTC)", env.get("date", "")),
        ("Git commit", f"{commit} on {env.get('git_branch', '')}"),
        ("Python", env.get("python", "")),
        ("Platform", env.get("platform", "")),
        ("Django", env.get("django", "")),
        ("PostgreSQL", env.get("postgresql", "")),
        ("Redis", redis_text),
        ("pytest arguments", " ".join(matrix.results.get("args", []))),
        ("pytest exit status", matrix.results.get("exitstatus", "")),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>evrelease validation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>evrelease: validation report (requirements traceability)</h1>",
        f"<p class='summary'>{escape(matrix.summary())}</p>",
        "<p>Each clause of DOMAIN.md §4 and each Part 11 clause the tests claim, the tests "
        "that prove it (<code>@pytest.mark.requirement</code>) and their outcome in this run. "
        "A clause no test that ran proves is <b>uncovered</b>; a part of a clause no test "
        "carries is named under “parts without a test”.</p>",
        "<h2>Run</h2><table>",
        *(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts),
        "</table>",
        "<h2>Traceability matrix</h2><table><tr><th>#</th><th>Clause</th><th>Rule</th>"
        "<th>Marker ids</th><th>Tests</th><th>Status</th></tr>",
    ]
    for number, clause in enumerate(matrix.clauses, 1):
        rule = escape(clause.rule) or f"<i>{escape(clause.source)}</i>"
        if clause.behaviour:
            rule += f"<br><i>System: {escape(clause.behaviour)}</i>"
        markers = ", ".join(escape(m) for m in clause.markers) or "<i>no mapping</i>"
        if clause.missing:
            markers += "<br><b>parts without a test:</b> " + ", ".join(
                escape(m) for m in clause.missing
            )
        counts = f"<br>{clause.passed} passed, {clause.failed} failed" if clause.tests else ""
        parts.append(
            f"<tr><td>{number}</td><td><b>{escape(clause.name)}</b> {escape(clause.force)}</td>"
            f"<td>{rule}</td><td>{markers}</td><td class='tests'>{_tests_cell(clause.tests)}</td>"
            f"<td>{_status(clause.status)}{counts}</td></tr>"
        )
    parts.append("</table>")
    if matrix.unmapped:
        parts.append(
            "<h2>DOMAIN.md clauses the report's mapping does not know</h2><p>Listed above as "
            "uncovered; add them to CLAUSE_MARKERS in tests/validation/report.py:</p><ul>"
            + "".join(f"<li>{escape(n)}</li>" for n in matrix.unmapped)
            + "</ul>"
        )
    parts.append("<h2>Marker ids that match no DOMAIN.md §4 clause</h2>")
    if matrix.outside:
        parts.append("<table><tr><th>Marker id</th><th>Tests</th></tr>")
        for marker, tests in matrix.outside.items():
            note = " (Part 11: in the matrix above)" if PART11_MARKER.match(marker) else ""
            parts.append(
                f"<tr><td>{escape(marker)}{escape(note)}</td>"
                f"<td class='tests'>{_tests_cell(tests)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    failed = [t for t in matrix.tests if t["outcome"] == "failed"]
    errors = matrix.results.get("collection_errors", [])
    if failed or errors:
        parts.append("<h2>Failures</h2>")
        for item in [*errors, *failed]:
            parts.append(
                f"<h3>{escape(item['nodeid'] or '(collection)')}</h3>"
                f"<pre>{escape(item.get('longrepr', ''))}</pre>"
            )
    pins = env.get("pins", [])
    parts.append(
        f"<h2>Pinned dependencies ({escape(str(env.get('lock_file', '')))}, {len(pins)})</h2>"
        "<table><tr><th>Package</th><th>Pinned</th><th>Installed</th></tr>"
    )
    for pin in pins:
        installed = pin.get("installed") or "not installed"
        flag = "" if installed == pin["pinned"] else " class='failed'"
        parts.append(
            f"<tr><td>{escape(pin['name'])}</td><td>{escape(pin['pinned'])}</td>"
            f"<td{flag}>{escape(installed)}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def render_pdf(html: str) -> bytes:
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="the JSON written by pytest --validation-json")
    parser.add_argument("--domain", help="DOMAIN.md (default: ../shared or ../../shared)")
    parser.add_argument("--html", default="var/validation/validation-report.html")
    parser.add_argument("--pdf", default="var/validation/validation-report.pdf")
    args = parser.parse_args(argv)

    results_path = Path(args.results)
    if not results_path.is_file():
        print(f"validation report: no results at {results_path} (did the run start?)")
        return 2
    results = json.loads(results_path.read_text(encoding="utf-8"))
    domain = find_domain(args.domain)
    matrix = build(results, domain.read_text(encoding="utf-8"))
    html = render_html(matrix)
    for path, content in ((Path(args.html), html.encode()), (Path(args.pdf), render_pdf(html))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    print(matrix.summary())
    print(f"validation report: {args.html} and {args.pdf} (clauses from {domain})")
    return 0 if matrix.ok else 1


if __name__ == "__main__":
    sys.exit(main())
