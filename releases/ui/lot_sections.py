"""The lot page's results, runs and pictures, read once and shaped for display.

The results table can hold hundreds of rows: each row's text and links are made
here, in one pass over rows already loaded, so the template only prints them (no
per-row include, filter or query). Which result counts and why is the engine's
(``qc.evaluation.selection``): this module only reads its notes and links them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from qc.evaluation.selection import INVALID, result_note
from qc.models import Lot, Result
from qc.selectors import EvaluationLine, RunSummary, lot_runs, recent_trend_points
from releases.templatetags.evformat import readable
from releases.ui.pictures import (
    DoseResponse,
    Histogram,
    Sparkline,
    dose_responses,
    histogram,
    sparkline,
)

RELATIVE_POTENCY = "relative_potency"


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One row of the results table, every cell ready to print."""

    pk: int
    test_code: str
    replicate: int
    as_posted: str
    canonical: str | SafeString
    run: str | SafeString
    performed: str
    received: str
    by: str
    struck: bool
    state: SafeString


# One results row. Built here rather than in the template: Django resolves each
# template variable through its lookup chain, which on a page of hundreds of rows
# costs more than everything else on it; format_html escapes every value the same.
_ROW = (
    '<tr id="result-{}"{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
    '<td>{}</td><td>{}</td><td class="small">{}</td><td class="small">{}</td></tr>'
)
_STRUCK = mark_safe(' class="struck"')


def rows_html(rows: Iterable[ResultRow]) -> SafeString:
    """The results table's body rows, every value escaped."""
    return format_html_join(
        "\n",
        _ROW,
        (
            (
                r.pk,
                _STRUCK if r.struck else "",
                r.test_code,
                r.replicate,
                r.as_posted,
                r.canonical,
                r.run,
                r.performed,
                r.received,
                r.by,
                r.state,
            )
            for r in rows
        ),
    )


@dataclass(frozen=True, slots=True)
class RunRow:
    run: RunSummary
    results: SafeString  # links to the lot's results measured in the run


@dataclass
class LotSections:
    results: list[ResultRow]
    runs: list[RunRow]
    results_html: SafeString = field(default_factory=lambda: mark_safe(""))
    histograms: list[Histogram] = field(default_factory=list)
    potency: list[DoseResponse] = field(default_factory=list)
    sparklines: dict[str, Sparkline] = field(default_factory=dict)  # by line id
    notes: dict[str, list[SafeString]] = field(default_factory=dict)  # by line id


def _name(result: Result) -> str:
    return f"{result.test.code} replicate {result.replicate}"


def _link(result: Result | None, pk: int | str) -> SafeString:
    """A link to a result's row: its test and replicate, never its bare id."""
    text = _name(result) if result is not None else f"result {pk}"
    return format_html('<a href="#result-{}">{}</a>', pk, text)


def _invalid_reasons(lines: Iterable[EvaluationLine]) -> dict[str, str]:
    """Why the engine did not use each result it judged invalid (by result id)."""
    reasons: dict[str, str] = {}
    for line in lines:
        for note in line.notes:
            parsed = result_note(note)
            if parsed is not None and parsed[1] == INVALID:
                reasons.setdefault(parsed[0], parsed[2])
    return reasons


def _state(
    result: Result,
    *,
    newer: Result | None,
    by_pk: dict[int, Result],
    invalid: dict[str, str],
    failed_runs: dict[int, str],
) -> tuple[bool, SafeString]:
    """Whether the row is struck through, and its State cell: what replaced or
    invalidated it, why, with links (superseded, invalidated, invalid, retest)."""
    parts: list[SafeString] = []
    invalidation = getattr(result, "invalidation", None)
    if invalidation is not None:
        investigation = invalidation.investigation
        where = (
            format_html(
                ' — <a href="{}">{}</a>',
                reverse("investigation-detail", args=[investigation.number]),
                investigation.number,
            )
            if investigation is not None
            else ""
        )
        parts.append(
            format_html(
                '<span class="badge bad">invalidated</span> <del>{}</del>{}',
                invalidation.reason,
                where,
            )
        )
    if newer is not None:
        parts.append(
            format_html(
                '<span class="badge">superseded</span> by {}: <del>{}</del>',
                _link(newer, newer.pk),
                newer.supersede_reason,
            )
        )
    why = invalid.get(str(result.pk))
    failed_run = failed_runs.get(result.run_id) if result.run_id is not None else None
    if why is None and failed_run is not None and invalidation is None and newer is None:
        # Not evaluated yet (or stale): the run's failed suitability already makes the
        # result invalid (qc.evaluation.selection, rule 3), so say so before the engine.
        why = failed_run
    if why is not None:
        run = (
            format_html(' — <a href="#run-{}">run {}</a>', result.run_id, result.run)
            if failed_run is not None and result.run is not None
            else ""
        )
        parts.append(
            format_html('<span class="badge bad">invalid</span> <del>{}</del>{}', why, run)
        )
    struck = bool(parts)
    if result.supersedes_id:
        parts.append(
            format_html(
                "retest of {}: {}",
                _link(by_pk.get(result.supersedes_id), result.supersedes_id),
                result.supersede_reason,
            )
        )
    return struck, mark_safe("<br>".join(parts))  # noqa: S308 - each part is format_html


def _canonical(result: Result) -> str | SafeString:
    if result.canonical_value is None:
        return result.text_value
    return format_html(
        "{}{} {}", result.qualifier, readable(result.canonical_value), result.canonical_unit
    )


def result_rows(
    results: Sequence[Result], lines: Iterable[EvaluationLine], runs: Sequence[RunSummary]
) -> list[ResultRow]:
    by_pk = {r.pk: r for r in results}
    newer_of = {r.supersedes_id: r for r in results if r.supersedes_id}
    invalid = _invalid_reasons(lines)
    failed_runs = {run.pk: run.problem for run in runs if run.problem is not None}
    rows = []
    for r in results:
        struck, state = _state(
            r, newer=newer_of.get(r.pk), by_pk=by_pk, invalid=invalid, failed_runs=failed_runs
        )
        performed = r.performed_by
        if r.performed_at:
            performed += f" · {r.performed_at:%Y-%m-%d %H:%M}"
        rows.append(
            ResultRow(
                pk=r.pk,
                test_code=r.test.code,
                replicate=r.replicate,
                as_posted=f"{r.value_as_posted} {r.unit_as_posted}".strip(),
                canonical=_canonical(r),
                run=format_html('<a href="#run-{}">{}</a>', r.run_id, r.run.external_run_id)
                if r.run is not None
                else "—",
                performed=performed,
                received=f"{r.received_at:%Y-%m-%d %H:%M:%S}",
                by=r.posted_by_client.name
                if r.posted_by_client
                else (r.entered_by_user.username if r.entered_by_user else ""),
                struck=struck,
                state=state,
            )
        )
    return rows


def _line_notes(
    lines: Iterable[EvaluationLine], by_pk: dict[int, Result]
) -> dict[str, list[SafeString]]:
    """Each line's notes with the result it names as a link instead of its bare id."""
    notes: dict[str, list[SafeString]] = {}
    for line in lines:
        shown = []
        for note in line.notes:
            parsed = result_note(note)
            if parsed is None:
                shown.append(format_html("{}", note))
                continue
            pk, kind, why = parsed
            shown.append(format_html("{} {}: {}", _link(by_pk.get(int(pk)), pk), kind, why))
        notes[line.line_id] = shown
    return notes


def lot_sections(
    lot: Lot, results: Sequence[Result], lines: Sequence[EvaluationLine]
) -> LotSections:
    """The results rows, the runs, and the pictures of the lot page (a fixed number of
    queries whatever the number of results, runs or history lots)."""
    runs = lot_runs(lot=lot)
    by_pk = {r.pk: r for r in results}
    superseded = {r.supersedes_id for r in results if r.supersedes_id}
    counted = [
        r for r in results if r.pk not in superseded and getattr(r, "invalidation", None) is None
    ]
    failed = {run.pk: run.problem for run in runs if run.problem is not None}
    histograms = []
    for r in counted:
        drawn = histogram(result_id=r.pk, test_code=r.test.code, raw_data=r.raw_data or {})
        if drawn is not None:
            histograms.append(replace(drawn, invalid=failed.get(r.run_id or 0) or ""))
    potency = [
        assay
        for line in lines
        if line.criterion_type == RELATIVE_POTENCY
        for assay in dose_responses(line)
    ]
    points = recent_trend_points(lot=lot, test_codes={line.test_code for line in lines})
    sparklines = {}
    for line in lines:
        spark = sparkline(line.test_code, points.get(line.test_code, ()), lot.lot_number)
        if spark is not None:
            sparklines[line.line_id] = spark
    rows = result_rows(results, lines, runs)
    return LotSections(
        results=rows,
        results_html=rows_html(rows),
        runs=[
            RunRow(
                run,
                format_html_join(
                    ", ", "{}", ((_link(by_pk.get(pk), pk),) for pk in run.result_ids)
                ),
            )
            for run in runs
        ],
        histograms=histograms,
        potency=potency,
        sparklines=sparklines,
        notes=_line_notes(lines, by_pk),
    )
