"""Evaluate a lot against a specification: the entry point of the pure core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import localcontext
from typing import Final

from qc.evaluation.criteria import CompiledLine, LotContext, compile_line
from qc.evaluation.digest import canonical_inputs, sha256_hex, spec_json
from qc.evaluation.rounding import DECIMAL_CONTEXT
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    LineVerdict,
    LotEvaluation,
    LotInput,
    LotVerdict,
    ResultInput,
    RunInput,
    SpecLine,
)

# 2.0.0: potency validity tests (Ph. Eur. 5.3), confidence limits, 4PL, K/M limits.
ENGINE_VERSION: Final = "2.0.0"


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    """A validated specification version, ready to evaluate many lots.

    Compile once per specification version (``compile_spec``) when re-evaluating
    thousands of lots: parameters, units and the spec's part of the digest are
    worked out here, not per lot.
    """

    lines: tuple[CompiledLine, ...]
    test_codes: frozenset[str]
    fact_fields: frozenset[str]
    spec_json: str


def compile_spec(spec_lines: Iterable[SpecLine]) -> CompiledSpec:
    """Validate every line (raising :class:`CriterionError`) and index what they read."""
    lines = sorted(spec_lines, key=lambda line: line.line_id)
    if not lines:
        raise CriterionError("a specification needs at least one line")
    seen: set[str] = set()
    for line in lines:
        if line.line_id in seen:
            raise CriterionError(f"spec line {line.line_id} appears twice")
        seen.add(line.line_id)
    if not any(line.required for line in lines):
        # 21 CFR 211.165(a): conformance must be shown; a spec gating nothing shows none.
        raise CriterionError("a specification needs at least one required line")
    compiled = tuple(compile_line(line) for line in lines)
    return CompiledSpec(
        lines=compiled,
        test_codes=frozenset(code for c in compiled for code in c.test_codes),
        fact_fields=frozenset(field for c in compiled for field in c.fact_fields),
        spec_json=spec_json(lines),
    )


def evaluate_lot(
    lot: LotInput,
    spec_lines: CompiledSpec | Iterable[SpecLine],
    results: Iterable[ResultInput],
    runs: Iterable[RunInput],
    *,
    evaluated_at: datetime | None = None,
) -> LotEvaluation:
    """Judge a lot's results against a specification; return verdicts with reasons.

    Lot verdict, in this order of precedence (21 CFR 211.165(a) and (f)):

    1. ``does_not_conform`` if any *required* line does not conform: an OOS result
       decides, whatever else is missing or invalid.
    2. ``invalid`` if any required line is ``invalid``: blocked by invalid data (e.g.
       a failed system suitability) with no valid result to judge; a valid repeat is
       needed. A line with a valid result beside invalid ones is judged on the valid.
    3. ``incomplete`` if any required line is ``missing``: release is refused until
       every required test has a valid result.
    4. ``conforms`` otherwise. ``has_alerts`` says whether any line conforms with an
       alert (inside release, outside alert limits).

    Lines that are not required are evaluated and reported but never gate the lot.
    Nothing depends on the order of ``spec_lines``, ``results`` or ``runs``: lines are
    reported sorted by ``line_id``, results sorted by ``result_id``. ``evaluated_at``
    is stamped on the result as given; the engine never reads the clock.
    """
    spec = spec_lines if isinstance(spec_lines, CompiledSpec) else compile_spec(spec_lines)
    by_test = _group_results(results, spec.test_codes)
    run_by_id = _index_runs(runs)
    ctx = LotContext(lot, by_test, run_by_id)
    # One fixed Decimal context: the caller's thread context never changes a verdict.
    with localcontext(DECIMAL_CONTEXT):
        lines = tuple(line.evaluate(ctx) for line in spec.lines)
    verdict = lot_verdict(lines)
    used_run_ids = {r.run_id for group in by_test.values() for r in group if r.run_id}
    digest_text = canonical_inputs(
        spec_json_text=spec.spec_json,
        lot=lot,
        fact_fields=spec.fact_fields,
        results=[r for group in by_test.values() for r in group],
        runs=[run_by_id[run_id] for run_id in used_run_ids if run_id in run_by_id],
        engine_version=ENGINE_VERSION,
    )
    return LotEvaluation(
        lot_number=lot.lot_number,
        verdict=verdict,
        has_alerts=any(line.verdict == LineVerdict.CONFORMS_WITH_ALERT for line in lines),
        lines=lines,
        reasons=lot_reasons(lot.lot_number, verdict, lines),
        inputs_digest=sha256_hex(digest_text),
        engine_version=ENGINE_VERSION,
        evaluated_at=evaluated_at,
    )


def _group_results(
    results: Iterable[ResultInput], test_codes: frozenset[str]
) -> dict[str, list[ResultInput]]:
    """Results of the tests the spec reads, by test, sorted by result id."""
    by_test: dict[str, list[ResultInput]] = {}
    seen: set[str] = set()
    for result in results:
        if result.result_id in seen:
            raise ValueError(f"result {result.result_id} was given twice")
        seen.add(result.result_id)
        if result.test_code in test_codes:
            by_test.setdefault(result.test_code, []).append(result)
    for group in by_test.values():
        group.sort(key=_result_id)
    return by_test


def _result_id(result: ResultInput) -> str:
    return result.result_id


def _index_runs(runs: Iterable[RunInput]) -> dict[str, RunInput]:
    by_id: dict[str, RunInput] = {}
    for run in runs:
        if run.run_id in by_id:
            raise ValueError(f"run {run.run_id} was given twice")
        by_id[run.run_id] = run
    return by_id


def lot_verdict(lines: Sequence[LineEvaluation]) -> LotVerdict:
    """The precedence rule of :func:`evaluate_lot`, on its own for testing."""
    gating = {line.verdict for line in lines if line.required}
    if LineVerdict.DOES_NOT_CONFORM in gating:
        return LotVerdict.DOES_NOT_CONFORM
    if LineVerdict.INVALID in gating:
        return LotVerdict.INVALID
    if LineVerdict.MISSING in gating:
        return LotVerdict.INCOMPLETE
    return LotVerdict.CONFORMS


_HEADLINES: Final[dict[LotVerdict, str]] = {
    LotVerdict.DOES_NOT_CONFORM: "does not conform: {n} required line(s) out of specification",
    LotVerdict.INVALID: "is blocked by invalid data: {n} required line(s) need a valid repeat",
    LotVerdict.INCOMPLETE: "is incomplete: {n} required line(s) have no result yet",
    LotVerdict.CONFORMS: "conforms: all {n} required line(s) conform",
}
_GATING_VERDICT: Final[dict[LotVerdict, LineVerdict]] = {
    LotVerdict.DOES_NOT_CONFORM: LineVerdict.DOES_NOT_CONFORM,
    LotVerdict.INVALID: LineVerdict.INVALID,
    LotVerdict.INCOMPLETE: LineVerdict.MISSING,
    LotVerdict.CONFORMS: LineVerdict.CONFORMS,
}
# Exceptions first (review by exception), then alerts.
_ORDER: Final = (
    LineVerdict.DOES_NOT_CONFORM,
    LineVerdict.INVALID,
    LineVerdict.MISSING,
    LineVerdict.CONFORMS_WITH_ALERT,
)


def lot_reasons(
    lot_number: str, verdict: LotVerdict, lines: Sequence[LineEvaluation]
) -> tuple[str, ...]:
    """A headline sentence, then every exception: required lines first, worst first."""
    required = [line for line in lines if line.required]
    if verdict == LotVerdict.CONFORMS:
        count = len(required)
    else:
        count = sum(1 for line in required if line.verdict == _GATING_VERDICT[verdict])
    reasons = [f"Lot {lot_number} {_HEADLINES[verdict].format(n=count)}."]
    for wanted in _ORDER:
        reasons += [line.reason for line in required if line.verdict == wanted]
    for wanted in _ORDER:
        reasons += [
            f"(not required) {line.reason}"
            for line in lines
            if not line.required and line.verdict == wanted
        ]
    return tuple(reasons)
