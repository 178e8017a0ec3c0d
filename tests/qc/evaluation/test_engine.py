"""evaluate_lot: the lot verdict, its reasons, the digest, and purity of the core."""

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qc.evaluation import (
    ENGINE_VERSION,
    CriterionError,
    LineEvaluation,
    compile_spec,
    evaluate_lot,
    lot_verdict,
)
from tests.qc.evaluation.builders import control, evaluate, line, lot, result, run

EU = "EU/mL"

SPEC = [
    line("L01", "ENDO", params={"max": "0.50"}, decimals=2, unit=EU, name="Endotoxin"),
    line("L02", "STER", "qualitative", {"allowed": ["no growth"]}, name="Sterility"),
    line(
        "L03",
        "MODE",
        params={"min": 50, "max": 200},
        decimals=0,
        unit="nm",
        name="Modal size",
    ),
    line("L04", "PROT", params={"max": 500}, unit="\u00b5g/mL", name="Protein", required=False),
]
GOOD = [
    result("E-1", value="0.10", unit=EU),
    result("S-1", "STER", text="no growth"),
    result("M-1", "MODE", "112", unit="nm", run_id="R-1"),
    result("P-1", "PROT", "80", unit="\u00b5g/mL"),
]
RUNS = [run("R-1")]


def _line(line_id: str, verdict: str, *, required: bool = True) -> LineEvaluation:
    return LineEvaluation(
        line_id=line_id,
        test_code="T",
        criterion_type="numeric_range",
        display_name="T",
        required=required,
        verdict=verdict,  # type: ignore[arg-type]
        reason=f"{line_id} {verdict}",
    )


@pytest.mark.requirement("21CFR211.165a")
@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["conforms", "conforms_with_alert"], "conforms"),
        (["does_not_conform", "invalid", "missing"], "does_not_conform"),
        (["invalid", "missing", "conforms"], "invalid"),
        (["missing", "conforms"], "incomplete"),
        ([], "conforms"),
    ],
)
def test_lot_verdict_precedence(verdicts: list[str], expected: str) -> None:
    lines = [_line(f"L{i}", v) for i, v in enumerate(verdicts)]
    assert lot_verdict(lines) == expected


def test_lines_that_are_not_required_never_gate() -> None:
    lines = [
        _line("L1", "conforms"),
        _line("L2", "does_not_conform", required=False),
        _line("L3", "invalid", required=False),
        _line("L4", "missing", required=False),
    ]
    assert lot_verdict(lines) == "conforms"


@pytest.mark.requirement("21CFR211.165a")
def test_a_conforming_lot() -> None:
    evaluation = evaluate(SPEC, GOOD, RUNS)
    assert evaluation.verdict == "conforms"
    assert not evaluation.has_alerts
    assert [line.line_id for line in evaluation.lines] == ["L01", "L02", "L03", "L04"]
    assert evaluation.reasons == ("Lot EVX-MSC-01-0001 conforms: all 3 required line(s) conform.",)
    assert evaluation.engine_version == ENGINE_VERSION
    assert len(evaluation.inputs_digest) == 64


@pytest.mark.requirement("21CFR211.165a")
def test_a_lot_without_every_required_result_is_incomplete() -> None:
    evaluation = evaluate(SPEC, GOOD[1:], RUNS)
    assert evaluation.verdict == "incomplete"
    assert evaluation.reasons == (
        "Lot EVX-MSC-01-0001 is incomplete: 1 required line(s) have no result yet.",
        "Endotoxin: no result yet",
    )


@pytest.mark.requirement("21CFR211.165f")
def test_an_oos_decides_over_missing_and_invalid_lines() -> None:
    results = [
        result("E-1", value="0.9", unit=EU),
        result("M-1", "MODE", "112", unit="nm", run_id="R-1"),
        result("P-1", "PROT", "900", unit="\u00b5g/mL"),
    ]
    evaluation = evaluate(SPEC, results, [run("R-1", control("121"))])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("E-1", "P-1")
    assert evaluation.reasons == (
        "Lot EVX-MSC-01-0001 does not conform: 1 required line(s) out of specification.",
        "Endotoxin 0.90 EU/mL is above the release limit \u2264 0.50 EU/mL",
        "Modal size: no valid result (NTA run R-1: bead control mode 121 nm outside "
        "90\u2013110 nm); needs a valid repeat",
        "Sterility: no result yet",
        "(not required) Protein 900 \u00b5g/mL is above the release limit \u2264 500 \u00b5g/mL",
    )


@pytest.mark.requirement("FDA-OOS")
def test_failed_suitability_blocks_the_lot_as_invalid_not_oos() -> None:
    evaluation = evaluate(SPEC, GOOD, [run("R-1", control("121"))])
    assert evaluation.verdict == "invalid"
    assert evaluation.failing_result_ids == ()
    assert evaluation.reasons[0] == (
        "Lot EVX-MSC-01-0001 is blocked by invalid data: 1 required line(s) need a valid repeat."
    )


def test_alerts_are_flagged_on_a_conforming_lot() -> None:
    spec = [replace(SPEC[0], alert_params={"max": "0.05"}), *SPEC[1:]]
    evaluation = evaluate(spec, GOOD, RUNS)
    assert evaluation.verdict == "conforms"
    assert evaluation.has_alerts
    assert evaluation.reasons[1].startswith("Endotoxin 0.10 EU/mL conforms")


def test_evaluated_at_is_stamped_as_given_and_not_in_the_digest() -> None:
    at = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    stamped = evaluate_lot(lot(), SPEC, GOOD, RUNS, evaluated_at=at)
    assert stamped.evaluated_at == at
    assert stamped.inputs_digest == evaluate(SPEC, GOOD, RUNS).inputs_digest


# -- digest ---------------------------------------------------------------------


def digest(spec=SPEC, results=GOOD, runs=RUNS, facts=None) -> str:  # type: ignore[no-untyped-def]
    return evaluate(spec, results, runs, facts=facts).inputs_digest


def test_digest_ignores_input_order_and_unrelated_inputs() -> None:
    base = digest()
    assert digest(list(reversed(SPEC)), list(reversed(GOOD))) == base
    unrelated = [*GOOD, result("X-1", "NOT-IN-SPEC", "3")]
    assert digest(results=unrelated, runs=[*RUNS, run("R-99")]) == base
    assert digest(facts={"operator_shoe_size": 44}) == base  # no line reads it
    # performed_by/at are attribution, not inputs of the verdict
    signed = [replace(GOOD[0], performed_by="ana", performed_at=datetime.now(UTC)), *GOOD[1:]]
    assert digest(results=signed) == base
    # 0.10 and 0.1 are the same number
    assert digest(results=[replace(GOOD[0], value=Decimal("0.1")), *GOOD[1:]]) == base


@pytest.mark.parametrize(
    "change",
    [
        lambda s, r, u: (s, [replace(r[0], value=Decimal("0.11")), *r[1:]], u),
        lambda s, r, u: (s, [replace(r[0], superseded=True), *r[1:]], u),
        lambda s, r, u: (s, [replace(r[0], invalidated=True), *r[1:]], u),
        lambda s, r, u: (s, [*r, result("E-2", value="0.1", unit=EU)], u),
        lambda s, r, u: ([replace(s[0], params={"max": "0.4"}), *s[1:]], r, u),
        lambda s, r, u: ([replace(s[3], required=True), *s[:3]], r, u),
        lambda s, r, u: (s, r, [run("R-1", control("101"))]),
        lambda s, r, u: (s, r, [run("R-1", control(status="quarantined"))]),
        lambda s, r, u: (s, r, []),
    ],
)
def test_digest_changes_with_every_input_of_the_verdict(change) -> None:  # type: ignore[no-untyped-def]
    spec, results, runs = change(SPEC, GOOD, RUNS)
    assert digest(spec, results, runs) != digest()


def test_digest_covers_the_process_facts_a_line_reads() -> None:
    spec = [*SPEC, line("L05", "ISO", "process_fact", {"field": "iso", "allowed": ["SEC"]})]
    assert digest(spec, facts={"iso": "SEC"}) != digest(spec, facts={"iso": "sec"})


def test_compiled_spec_gives_the_same_evaluation() -> None:
    compiled = compile_spec(SPEC)
    assert evaluate_lot(lot(), compiled, GOOD, RUNS) == evaluate(SPEC, GOOD, RUNS)


# -- refusals -----------------------------------------------------------------


def test_spec_errors() -> None:
    with pytest.raises(CriterionError, match="at least one line"):
        compile_spec([])
    with pytest.raises(CriterionError, match="L01 appears twice"):
        compile_spec([SPEC[0], SPEC[0]])
    with pytest.raises(CriterionError, match="at least one required line"):
        compile_spec([SPEC[3]])


def test_duplicate_ids_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="E-1 was given twice"):
        evaluate(SPEC, [*GOOD, GOOD[0]], RUNS)
    with pytest.raises(ValueError, match="R-1 was given twice"):
        evaluate(SPEC, GOOD, [*RUNS, *RUNS])


def test_inputs_refuse_floats_nan_and_naive_times() -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        result("E-1", value=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        result("E-1", value="NaN")
    with pytest.raises(ValueError, match="timezone-aware"):
        result("E-1", value="1", performed_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="qualifier needs a value"):
        result("E-1", qualifier="<")
    with pytest.raises(TypeError, match="must be a date"):
        run("R-1", run_date=datetime(2025, 1, 1))  # type: ignore[arg-type]


def test_the_core_imports_nothing_from_django() -> None:
    code = (
        "import sys, qc.evaluation, qc.units; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'rest_framework'}); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
