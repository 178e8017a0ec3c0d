"""replicates (each judged, mean, CV per run) and relative_potency (parallel-line analysis)."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from qc.evaluation import CriterionError, ResultInput, SpecLine, validate_params
from qc.evaluation.bioassay import parallel_line
from qc.evaluation.bioassay.data import CurveError, read_assay
from qc.evaluation.bioassay.parallel_line import Settings
from qc.evaluation.bioassay.report import AssayReport
from qc.evaluation.criteria.replicates import cv_percent
from tests.qc.evaluation.builders import evaluate_line, line, result, run

CONC = "particles/mL"
CRD = "completely_randomised"
REPLICATE_PARAMS = {"min": "1.6e11", "max": "2.4e11", "n": 3, "max_cv_percent": "10"}


def replicate_line(**overrides: object) -> SpecLine:
    alert = overrides.pop("alert", None)
    return line(
        "L30",
        "NTA-CONC",
        "replicates",
        {**REPLICATE_PARAMS, **overrides},
        alert=alert,  # type: ignore[arg-type]
        unit=CONC,
        name="Particle concentration",
    )


def rep(
    rid: str, value: str, replicate: int, run_id: str | None = None, **extra: object
) -> ResultInput:
    return result(rid, "NTA-CONC", value, unit=CONC, replicate=replicate, run_id=run_id, **extra)


def three(a: str = "2.0e11", b: str = "2.1e11", c: str = "1.9e11") -> list[ResultInput]:
    return [rep("N-1", a, 1), rep("N-2", b, 2), rep("N-3", c, 3)]


def test_cv_percent() -> None:
    assert cv_percent([Decimal(90), Decimal(100), Decimal(110)]) == Decimal(10)
    assert cv_percent([Decimal(5)]) is None
    assert cv_percent([Decimal(-1), Decimal(1)]) is None


def test_three_precise_replicates_conform() -> None:
    evaluation = evaluate_line(replicate_line(), three())
    assert evaluation.verdict == "conforms"
    assert evaluation.reason.endswith("(results without a run: 3 replicates, CV 5 %)")
    assert evaluation.used_result_ids == ("N-1", "N-2", "N-3")


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_replicate_is_never_averaged_away() -> None:
    # mean 2.0e11 is inside; replicate 2.5e11 is not
    spec = replicate_line(report="mean", max_cv_percent="30")
    evaluation = evaluate_line(spec, three("2.5e11", "1.8e11", "1.7e11"))
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("N-1",)
    assert evaluation.reason == (
        "Particle concentration 2.5\u00d710^11 particles/mL (replicate 1, result N-1) is above "
        "the release range 1.6\u00d710^11\u20132.4\u00d710^11 particles/mL"
    )
    means = [s for s in evaluation.shown_values if s.label == "mean"]
    assert means and means[0].value == Decimal("2.000E+11")


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_replicate_stays_oos_even_when_the_cv_fails() -> None:
    evaluation = evaluate_line(replicate_line(), three("3.5e11", "1.8e11", "1.7e11"))
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("N-1",)


def test_imprecise_replicates_are_invalid_not_oos() -> None:
    evaluation = evaluate_line(replicate_line(), three("2.3e11", "1.65e11", "2.0e11"))
    assert evaluation.verdict == "invalid"
    assert evaluation.failing_result_ids == ()
    assert evaluation.reason == (
        "Particle concentration: no valid replicate set (results without a run: CV 16 % is "
        "above the 10 % precision limit); needs a valid repeat"
    )


def test_too_few_replicates_are_missing() -> None:
    evaluation = evaluate_line(replicate_line(), three()[:2])
    assert evaluation.verdict == "missing"
    assert (
        evaluation.reason == "Particle concentration: results without a run has 2 of 3 replicates"
    )


def test_a_repeated_replicate_number_does_not_count_twice() -> None:
    results = [rep("N-1", "2e11", 1), rep("N-2", "2e11", 1), rep("N-3", "2e11", 2)]
    assert evaluate_line(replicate_line(), results).verdict == "missing"


def test_replicates_are_grouped_by_run_and_one_good_run_suffices() -> None:
    results = [
        rep("A-1", "2.3e11", 1, "R-1"),
        rep("A-2", "1.65e11", 2, "R-1"),
        rep("A-3", "2.0e11", 3, "R-1"),
        rep("B-1", "2.0e11", 1, "R-2"),
        rep("B-2", "2.1e11", 2, "R-2"),
        rep("B-3", "1.9e11", 3, "R-2"),
    ]
    evaluation = evaluate_line(replicate_line(), results, [run("R-1"), run("R-2")])
    assert evaluation.verdict == "conforms"
    assert evaluation.notes == ("run R-1: CV 16 % is above the 10 % precision limit",)


def test_mean_of_censored_replicates_is_invalid() -> None:
    results = [rep("N-1", "2e11", 1), rep("N-2", "2e11", 2), rep("N-3", "2.1e11", 3, qualifier="<")]
    evaluation = evaluate_line(replicate_line(report="mean", min=None), results)
    assert evaluation.verdict == "invalid"
    assert "cannot be computed from detection limits (N-3)" in evaluation.reason


def test_cv_alert() -> None:
    evaluation = evaluate_line(replicate_line(alert={"max_cv_percent": "4"}), three())
    assert evaluation.verdict == "conforms_with_alert"
    assert evaluation.reason.endswith(
        "but results without a run CV 5 % is above the 4 % alert limit"
    )


@pytest.mark.parametrize(
    ("overrides", "alert", "fragment"),
    [
        ({"n": 0}, None, "'n' must be a whole number >= 1"),
        ({"n": 1}, None, "a CV needs 'n' of at least 2"),
        ({"report": "median"}, None, "'report' must be"),
        ({"max_cv_percent": 0}, None, "must be above 0"),
        ({}, {"max_cv_percent": 12}, "alert CV must be at or below"),
    ],
)
def test_bad_replicate_params(
    overrides: dict[str, object], alert: dict[str, object] | None, fragment: str
) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params(
            "replicates", {**REPLICATE_PARAMS, **overrides}, alert_params=alert, unit=CONC
        )


# -- relative potency ----------------------------------------------------------------
# The Ph. Eur. 5.3 worked examples, validity tests, confidence limits, 4PL and the
# combination of assays are in test_bioassay.py; these are the small hand cases.

POTENCY_PARAMS = {"min": 50, "max": 150, "max_slope_ratio": "1.25"}


def potency_line(decimals: int | None = 0, **overrides: object) -> SpecLine:
    return line(
        "L40",
        "POTENCY",
        "relative_potency",
        {**POTENCY_PARAMS, **overrides},
        unit="%",
        decimals=decimals,
        name="Relative potency",
    )


def curve(doses: list[object], responses: list[object]) -> list[dict[str, object]]:
    return [{"dose": d, "response": r} for d, r in zip(doses, responses, strict=True)]


def analyse(sample: object, reference: object, **settings: object) -> AssayReport:
    chosen = Settings(**settings)  # type: ignore[arg-type]
    data = read_assay({"sample": sample, "reference": reference}, transform="none", design=CRD)
    return parallel_line.analyse(data, chosen, result_id="P-1")


# Hand-computed case. x = log10(dose) = 0, 1, 2 for both curves.
#   reference y = 10, 32, 50: mean 92/3, Sxx = 2, Sxy = 40 (slope 20)
#   sample    y = 17, 37, 55: mean 109/3, Sxx = 2, Sxy = 38 (slope 19)
#   common slope b = (38 + 40) / (2 + 2) = 19.5
#   log10 RP = (109/3 - 92/3) / 19.5 - (1 - 1) = 34/117 = 0.290598...
#   RP = 100 x 10^(34/117) = 195.2532586...%
# (The engine works in ln dose; the slope per ln unit is the log10 slope / ln 10.)
HAND_SAMPLE = curve([1, 10, 100], [17, 37, 55])
HAND_REFERENCE = curve([1, 10, 100], [10, 32, 50])


def full_model_least_squares() -> Fraction:
    """Independent check: solve y = a_s*Is + a_r*Ir + b*x by its normal equations."""
    rows = [(1, 0, x, y) for x, y in zip([0, 1, 2], [17, 37, 55], strict=True)]
    rows += [(0, 1, x, y) for x, y in zip([0, 1, 2], [10, 32, 50], strict=True)]
    a = [[Fraction(sum(r[i] * r[j] for r in rows)) for j in range(3)] for i in range(3)]
    rhs = [Fraction(sum(r[i] * r[3] for r in rows)) for i in range(3)]

    def det(m: list[list[Fraction]]) -> Fraction:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    solution = []
    for k in range(3):
        m = [row[:] for row in a]
        for i in range(3):
            m[i][k] = rhs[i]
        solution.append(det(m) / det(a))
    a_s, a_r, b = solution
    return (a_s - a_r) / b


def test_parallel_line_analysis_matches_the_hand_computation() -> None:
    report = analyse(HAND_SAMPLE, HAND_REFERENCE, slope_ratio_margin=1.25)
    assert full_model_least_squares() == Fraction(34, 117)
    (estimate,) = report.estimates
    assert abs(estimate.potency_percent - 195.2532586031511) < 1e-9
    assert abs(report.curves[0].slope * math.log(10) - 19.5) < 1e-12  # type: ignore[operator]
    (ratio,) = (t for t in report.tests if t.method == "equivalence")
    assert abs(ratio.estimate - 0.95) < 1e-12  # type: ignore[operator]  # 19 / 20


def test_a_sample_twice_as_potent_gives_200_percent() -> None:
    # Binary floating point (the engine's statistics) keep about 15 significant digits.
    doses = [1, 2, 4, 8, 16]
    reference = [5 + 12 * math.log10(d) for d in doses]
    sample = [5 + 12 * math.log10(2 * d) for d in doses]
    report = analyse(curve(doses, sample), curve(doses, reference))
    assert report.valid
    assert abs(report.estimates[0].potency_percent - 200) < 1e-9


def test_potency_line_from_curves() -> None:
    # Three doses without replicates leave 2 df: too few to show parallelism within
    # 0.80-1.25, so this spec tests parallelism by analysis of variance.
    evaluation = evaluate_line(
        line(
            "L40",
            "POTENCY",
            "relative_potency",
            {"min": 50, "max": 150},
            unit="%",
            decimals=0,
            name="Relative potency",
        ),
        [
            result(
                "P-1",
                "POTENCY",
                unit="%",
                raw_data={"sample": HAND_SAMPLE, "reference": HAND_REFERENCE},
            )
        ],
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("P-1",)
    assert evaluation.shown_values[0].value == Decimal(195)
    assert "parallel-line analysis of result P-1" in evaluation.reason


def test_posted_potency_without_curves() -> None:
    evaluation = evaluate_line(potency_line(), [result("P-1", "POTENCY", "98.4", unit="%")])
    assert evaluation.verdict == "conforms"
    assert evaluation.reason == (
        "Relative potency 98 % conforms to the release range 50–150 % (posted result P-1)"
    )


def test_curves_win_over_a_posted_value_and_the_note_says_so() -> None:
    raw = {"sample": HAND_REFERENCE, "reference": HAND_REFERENCE}
    evaluation = evaluate_line(
        potency_line(None, max_slope_ratio=None),
        [result("P-1", "POTENCY", "140", unit="%", raw_data=raw)],
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].value == Decimal("100.0")
    assert evaluation.notes == ("P-1: posted 140 % not used; potency computed from the curves",)


@pytest.mark.parametrize(
    ("sample", "reference", "settings", "fragment"),
    [
        (
            curve([1, 10], [1, 2]),
            HAND_REFERENCE,
            {"min_doses": 3},
            "sample curve has fewer than 3 distinct doses",
        ),
        (curve([0, 1, 10], [1, 2, 3]), HAND_REFERENCE, {}, "sample dose 0 is not positive"),
        ("abc", HAND_REFERENCE, {}, "must be a list"),
        ([{"dose": 1}], HAND_REFERENCE, {}, "needs a dose and a response"),
        (curve([1, 10, "x"], [1, 2, 3]), HAND_REFERENCE, {}, "must be a number"),
    ],
)
def test_curves_that_cannot_give_a_potency(
    sample: object, reference: object, settings: dict[str, object], fragment: str
) -> None:
    with pytest.raises(CurveError, match=fragment):
        analyse(sample, reference, **settings)


@pytest.mark.requirement("FDA-OOS")
def test_flat_curves_make_the_result_invalid_not_oos() -> None:
    # Formerly a CurveError ("flat"); now the regression test names the problem.
    flat = curve([1, 10, 100], [5, 5, 5])
    report = analyse(flat, flat)
    assert not report.valid and "regression not significant" in report.problem


@pytest.mark.requirement("FDA-OOS")
def test_non_parallel_curves_make_the_result_invalid_not_oos() -> None:
    raw = {"sample": curve([1, 10, 100], [10, 20, 30]), "reference": HAND_REFERENCE}
    evaluation = evaluate_line(potency_line(), [result("P-1", "POTENCY", unit="%", raw_data=raw)])
    assert evaluation.verdict == "invalid"
    assert evaluation.failing_result_ids == ()
    assert "parallelism not shown" in evaluation.reason
    assert evaluation.potency is not None
    (test,) = (t for t in evaluation.potency.assays[0].tests if t.method == "equivalence")
    assert not test.passed and abs(test.estimate - 0.5) < 1e-12  # type: ignore[operator]


def test_no_curve_and_no_value_is_invalid() -> None:
    evaluation = evaluate_line(potency_line(), [result("P-1", "POTENCY", unit="%", raw_data={})])
    assert evaluation.verdict == "invalid"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"max_slope_ratio": "0.8"}, "'max_slope_ratio' must be at least 1"),
        ({"min_points": 1}, "'min_points' must be a whole number >= 2"),
    ],
)
def test_bad_potency_params(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("relative_potency", {**POTENCY_PARAMS, **overrides}, unit="%")
