"""Which results count (retests, invalidation) and when a run is suitable."""

from datetime import date

import pytest

from qc.evaluation import RunInput, run_problem, select_results
from tests.qc.evaluation.builders import control, result, run

EU = "EU/mL"


def no_run_problem(run_id: str) -> None:
    return None


def test_superseded_and_invalidated_results_never_count_but_stay_visible() -> None:
    selection = select_results(
        [
            result("E-1", value="0.9", unit=EU, superseded=True),
            result("E-2", value="0.9", unit=EU, invalidated=True, invalidation_reason="pipette"),
            result("E-3", value="0.2", unit=EU),
        ],
        run_problem=no_run_problem,
        unit=EU,
    )
    assert [r.result_id for r in selection.valid] == ["E-3"]
    assert selection.invalid == ()
    assert selection.notes() == [
        "E-1 not counted: superseded by a newer result",
        "E-2 not counted: invalidated (pipette)",
    ]


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_and_its_passing_retest_are_both_judged() -> None:
    # No "testing into compliance": the retest does not replace the OOS.
    selection = select_results(
        [
            result("E-1", value="0.9", unit=EU),
            result("E-2", value="0.2", unit=EU, retest_of="E-1"),
        ],
        run_problem=no_run_problem,
        unit=EU,
    )
    assert [r.result_id for r in selection.valid] == ["E-1", "E-2"]


@pytest.mark.requirement("FDA-OOS")
def test_results_of_an_unsuitable_or_unknown_run_are_invalid() -> None:
    problems = {"R-1": "NTA run R-1: bead control mode 121 nm outside 90\u2013110 nm"}
    selection = select_results(
        [
            result("M-1", "MODE", "120", unit="nm", run_id="R-1"),
            result("M-2", "MODE", "120", unit="nm", run_id="R-2"),
        ],
        run_problem=lambda run_id: problems.get(run_id, f"run {run_id} is not known"),
        unit="nm",
    )
    assert selection.valid == ()
    assert [why for _, why in selection.invalid] == [
        "NTA run R-1: bead control mode 121 nm outside 90\u2013110 nm",
        "run R-2 is not known",
    ]


def test_a_result_without_run_is_checked_only_when_the_line_requires_a_run() -> None:
    results = [result("M-1", "MODE", "120", unit="nm")]
    assert select_results(results, run_problem=no_run_problem, unit="nm").valid
    selection = select_results(results, run_problem=no_run_problem, unit="nm", requires_run=True)
    assert [why for _, why in selection.invalid] == [
        "the test requires an assay run with system suitability"
    ]


def test_a_result_in_another_unit_is_invalid_unless_it_is_the_same_unit() -> None:
    selection = select_results(
        [
            result("M-1", "MODE", "0.12", unit="\u00b5m"),
            result("M-2", "MODE", "120", unit="nanometer"),
        ],
        run_problem=no_run_problem,
        unit="nm",
    )
    assert [r.result_id for r in selection.valid] == ["M-2"]
    assert selection.invalid[0][1] == "reported in '\u00b5m', not in the test's unit 'nm'"


def test_the_shape_check_makes_a_result_invalid() -> None:
    selection = select_results(
        [result("E-1", text="low")],
        run_problem=no_run_problem,
        check=lambda r: None if r.value is not None else "no numeric value",
    )
    assert selection.notes() == ["E-1 invalid: no numeric value"]


# -- system suitability -----------------------------------------------------


@pytest.mark.requirement("FDA-OOS")
def test_a_suitable_run_has_no_problem() -> None:
    assert run_problem(run("R-1", control("100"))) is None
    assert run_problem(run("R-1", control("90"), control("110", code="rEV"))) is None


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.parametrize(
    ("the_run", "reason"),
    [
        (
            run("R-17", control("121")),
            "NTA run R-17: bead control mode 121 nm outside 90\u2013110 nm",
        ),
        (
            run("R-17", control(status="quarantined")),
            "NTA run R-17: reference material NIST-PS-100 lot RM-7 is quarantined",
        ),
        (
            run("R-17", control(expiry=date(2025, 2, 28))),
            "NTA run R-17: reference material NIST-PS-100 lot RM-7 expired on 2025-02-28 "
            "(run on 2025-03-01)",
        ),
        (
            run("R-17", control("89.9", status="expired")),
            "NTA run R-17: reference material NIST-PS-100 lot RM-7 is expired; "
            "bead control mode 89.9 nm outside 90\u2013110 nm",
        ),
        (
            run("R-17", control("121"), technique=""),
            "run R-17: bead control mode 121 nm outside 90\u2013110 nm",
        ),
    ],
)
def test_unsuitable_runs_say_why(the_run: RunInput, reason: str) -> None:
    assert run_problem(the_run) == reason


def test_a_material_is_usable_on_its_expiry_date() -> None:
    assert run_problem(run("R-1", control(expiry=date(2025, 3, 1)))) is None


def test_a_run_without_controls_shows_no_suitability() -> None:
    bare = RunInput(run_id="R-9", run_date=date(2025, 3, 1), technique="TRPS")
    assert run_problem(bare) == (
        "TRPS run R-9 has no reference-material control, so system suitability is not shown"
    )


def test_control_order_does_not_change_the_reason() -> None:
    a = control("121")
    b = control("5", code="rEV", label="rEV mode", low="95", high="120")
    assert run_problem(run("R-1", a, b)) == run_problem(run("R-1", b, a))
