"""Relative potency as Ph. Eur. 5.3 computes it: worked examples, validity, limits, 4PL.

The worked examples reproduce the published figures to the digits published; their
data and results come from the CRAN package ``pla`` (see :mod:`pheur53`).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import pytest

from qc.evaluation import CriterionError, SpecLine, validate_params
from qc.evaluation.bioassay import logistic, parallel_line
from qc.evaluation.bioassay.combine import AssayEstimate, combine, weight
from qc.evaluation.bioassay.data import CurveError, read_assay
from qc.evaluation.bioassay.parallel_line import Settings
from qc.evaluation.bioassay.report import AssayReport, ValidityTest
from tests.qc.evaluation import pheur53
from tests.qc.evaluation.builders import evaluate_line, line, result, run

CRD = "completely_randomised"


def pla(raw: dict[str, Any], **settings: Any) -> AssayReport:
    chosen = Settings(**settings)
    data = read_assay(raw, transform=chosen.transform, design=chosen.design)
    return parallel_line.analyse(data, chosen, result_id="R-1")


def named(report: AssayReport, name: str, method: str = "anova") -> ValidityTest:
    (found,) = (t for t in report.tests if t.name == name and t.method == method)
    return found


def potency_line(params: dict[str, Any] | None = None, decimals: int | None = 1) -> SpecLine:
    return line(
        "L40",
        "POTENCY",
        "relative_potency",
        params if params is not None else {"min": 80, "max": 125},
        unit="%",
        decimals=decimals,
        name="Relative potency",
    )


def posted(rid: str, raw: dict[str, Any], **extra: Any) -> Any:
    return result(rid, "POTENCY", unit="%", raw_data=raw, **extra)


# -- the worked examples of Ph. Eur. 5.3 -----------------------------------------------


@pytest.mark.requirement("PhEur5.3")
def test_two_dose_corticotrophin_s_against_t() -> None:
    """Ph. Eur. 5.3 §5.1.1, U omitted: T = 1.11181 units/mg (0.824973-1.51357)."""
    report = pla(pheur53.CORTICOTROPHIN_ST)
    assert report.valid and report.residual_df == 36
    (estimate,) = report.estimates
    assert round(estimate.potency_percent / 100, 5) == 1.11181
    assert round(estimate.lower_percent / 100, 6) == 0.824973  # type: ignore[operator]
    assert round(estimate.upper_percent / 100, 5) == 1.51357  # type: ignore[operator]
    parallelism = named(report, "parallelism")
    assert (round(parallelism.statistic, 3), round(parallelism.p_value, 3)) == (0.046, 0.831)  # type: ignore[arg-type]
    assert round(named(report, "regression").statistic, 3) == 90.491  # type: ignore[arg-type]
    assert named(report, "linearity", "not_tested").passed  # two doses: nothing to test


@pytest.mark.requirement("PhEur5.3")
def test_two_dose_corticotrophin_with_u_fails_parallelism() -> None:
    """Ph. Eur. 5.3 §5.1.1, S, T and U: non-parallelism F = 5.367, p = 0.007 (invalid)."""
    report = pla(pheur53.CORTICOTROPHIN_STU)
    assert not report.valid and report.residual_df == 54
    parallelism = named(report, "parallelism")
    assert not parallelism.passed and parallelism.df == (2, 54)
    assert (round(parallelism.statistic, 3), round(parallelism.p_value, 3)) == (5.367, 0.007)  # type: ignore[arg-type]
    assert "parallelism" in report.problem
    t, u = report.estimates
    assert (round(t.potency_percent / 100, 5), round(u.potency_percent / 100, 5)) == (
        1.14205,
        1.66889,
    )
    assert round(t.lower_percent / 100, 6) == 0.783648  # type: ignore[operator]
    assert round(u.upper_percent / 100, 5) == 2.55503  # type: ignore[operator]


@pytest.mark.requirement("PhEur5.3")
def test_randomised_block_turbidimetric_assay() -> None:
    """Ph. Eur. 5.3 §5.1.3: 19 228.5 IU/vial (18 423.4-20 075.2), blocks removed."""
    report = pla(pheur53.TURBIDIMETRIC, design="randomised_block")
    assert report.valid and report.residual_df == 28
    assert round(report.residual_variance, 3) == 53.916  # type: ignore[arg-type]
    (estimate,) = report.estimates
    per_vial = pheur53.TURBIDIMETRIC_ASSUMED_IU_PER_VIAL / 100
    assert round(estimate.potency_percent * per_vial, 1) == 19228.5
    assert round(estimate.lower_percent * per_vial, 1) == 18423.4  # type: ignore[operator]
    assert round(estimate.upper_percent * per_vial, 1) == 20075.2  # type: ignore[operator]
    nonparallel, nonlinear = named(report, "parallelism"), named(report, "linearity")
    assert (round(nonparallel.statistic, 3), round(nonparallel.p_value, 3)) == (0.467, 0.5)  # type: ignore[arg-type]
    assert (round(nonlinear.statistic, 3), round(nonlinear.p_value, 3)) == (1.202, 0.332)  # type: ignore[arg-type]
    assert nonlinear.df == (4, 28)
    # Read as completely randomised, the block variation stays in the error.
    assert pla(pheur53.TURBIDIMETRIC).residual_df == 32


@pytest.mark.requirement("PhEur5.3")
def test_latin_square_agar_diffusion_assay() -> None:
    """Ph. Eur. 5.3 §5.1.2: 5456.37 IU/mg (5092.37-5843.36), rows and columns removed."""
    report = pla(pheur53.AGAR, design="latin_square")
    assert report.valid and report.residual_df == 20
    (estimate,) = report.estimates
    per_mg = pheur53.AGAR_ASSUMED_IU_PER_MG / 100
    assert round(estimate.potency_percent * per_mg, 2) == 5456.37
    assert round(estimate.lower_percent * per_mg, 2) == 5092.37  # type: ignore[operator]
    assert round(estimate.upper_percent * per_mg, 2) == 5843.36  # type: ignore[operator]
    assert round(estimate.potency_percent, 1) == 97.4
    nonparallel, nonlinear = named(report, "parallelism"), named(report, "linearity")
    assert (round(nonparallel.statistic, 3), round(nonparallel.p_value, 3)) == (0.885, 0.358)  # type: ignore[arg-type]
    assert (round(nonlinear.statistic, 3), round(nonlinear.p_value, 3)) == (0.132, 0.877)  # type: ignore[arg-type]
    assert round(report.residual_variance, 4) == 20.7667  # type: ignore[arg-type]


@pytest.mark.requirement("PhEur5.3")
def test_three_hepatitis_b_vaccines_against_one_standard_share_the_error() -> None:
    """Ph. Eur. 5.3 §5.1.4: T 217.1 % (202.7-232.7), U 175.8 %, V 197.0 %, ln(OD)."""
    report = pla(pheur53.HEPATITIS_B, transform="log")
    assert report.valid and report.residual_df == 40
    published = {
        "T": (217.1, 202.7, 232.7),
        "U": (175.8, 164.3, 188.2),
        "V": (197.0, 184.1, 211.0),
    }
    computed = {
        e.preparation: (
            round(e.potency_percent, 1),
            round(e.lower_percent, 1),  # type: ignore[arg-type]
            round(e.upper_percent, 1),  # type: ignore[arg-type]
        )
        for e in report.estimates
    }
    assert computed == published
    nonparallel, nonlinear = named(report, "parallelism"), named(report, "linearity")
    assert nonparallel.df == (3, 40) and nonlinear.df == (12, 40)
    assert (round(nonparallel.statistic, 3), round(nonparallel.p_value, 3)) == (0.933, 0.434)  # type: ignore[arg-type]
    assert (round(nonlinear.statistic, 3), round(nonlinear.p_value, 3)) == (0.926, 0.531)  # type: ignore[arg-type]
    # Pair by pair the common slope differs, and so do the estimates (220.1/176.2/198.1).
    pairwise = {
        name: round(
            pla(pheur53.hepatitis_b_pair(name), transform="log").estimates[0].potency_percent, 1
        )
        for name in "TUV"
    }
    assert pairwise == {"T": 220.1, "U": 176.2, "V": 198.1}


@pytest.mark.requirement("PhEur5.3")
def test_six_independent_assays_combine_as_published() -> None:
    """Ph. Eur. 5.3 §6.4: 18 187 IU/vial (17 946-18 431), chi-square 4.42, p = 0.49."""
    estimates = [
        AssayEstimate(f"A-{i}", p, low, high, 20, 0.95)
        for i, (p, low, high) in enumerate(pheur53.SIX_ASSAYS)
    ]
    assert [round(weight(e), 1) for e in estimates] == [
        3777.7,
        3951.5,
        2462.5,
        4003.0,
        3175.6,
        4699.5,
    ]
    combined = combine(estimates, confidence=0.95, alpha=0.05)
    assert (round(combined.chi_square, 2), round(combined.p_value, 2)) == (4.42, 0.49)
    assert combined.homogeneous and combined.df == 120
    assert round(combined.potency_percent) == 18187  # type: ignore[arg-type]
    assert (round(combined.lower_percent), round(combined.upper_percent)) == (17946, 18431)  # type: ignore[arg-type]


# -- validity before potency: an invalid assay is never an OOS ----------------------


def _replicated(doses: list[float], mean: Any, *, noise: float, seed: int, reps: int = 3) -> list:
    rng = random.Random(seed)
    return [
        {"dose": d, "response": round(mean(d) + rng.gauss(0, noise), 4)}
        for d in doses
        for _ in range(reps)
    ]


DOSES = [1.0, 2.0, 4.0, 8.0]


def _line(intercept: float, slope: float, shift: float = 1.0) -> Any:
    return lambda d: intercept + slope * math.log(d * shift)


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("PhEur5.3")
def test_a_curve_without_dose_response_is_invalid_not_a_false_oos() -> None:
    flat = {
        "reference": _replicated(DOSES, lambda d: 10.0, noise=1.0, seed=3),
        "sample": _replicated(DOSES, lambda d: 10.0, noise=1.0, seed=4),
    }
    evaluation = evaluate_line(potency_line(), [posted("P-1", flat)])
    assert evaluation.verdict == "invalid"
    assert evaluation.failing_result_ids == () and evaluation.invalid_result_ids == ("P-1",)
    assert "regression" in evaluation.reason
    assert evaluation.potency is not None
    (assay,) = evaluation.potency.assays
    regression = named(assay, "regression")
    assert not regression.passed and regression.p_value >= 0.05  # type: ignore[operator]


@pytest.mark.requirement("FDA-OOS")
def test_non_parallel_curves_are_invalid_by_analysis_of_variance() -> None:
    raw = {
        "reference": _replicated(DOSES, _line(10, 12), noise=0.3, seed=3),
        "sample": _replicated(DOSES, _line(10, 4), noise=0.3, seed=4),
    }
    evaluation = evaluate_line(potency_line(), [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()
    assert "parallelism" in evaluation.reason
    assert evaluation.potency is not None
    assert not named(evaluation.potency.assays[0], "parallelism").passed


@pytest.mark.requirement("FDA-OOS")
def test_non_parallel_curves_are_invalid_by_equivalence() -> None:
    raw = {
        "reference": _replicated(DOSES, _line(10, 12), noise=0.3, seed=3),
        "sample": _replicated(DOSES, _line(10, 9), noise=0.3, seed=4),
    }
    spec = potency_line({"min": 50, "max": 150, "max_slope_ratio": "1.25"})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()
    assert evaluation.potency is not None
    equivalence = named(evaluation.potency.assays[0], "parallelism", "equivalence")
    assert not equivalence.passed and equivalence.upper < 0.8  # type: ignore[operator]
    assert "parallelism" in evaluation.reason
    # Parallel curves pass the same margin.
    good = {**raw, "sample": _replicated(DOSES, _line(10, 12, 1.1), noise=0.3, seed=4)}
    assert evaluate_line(spec, [posted("P-1", good)]).verdict == "conforms"


def test_curvature_fails_linearity() -> None:
    doses = [1.0, 2.0, 4.0, 8.0, 16.0]

    def bent(shift: float) -> Any:
        return lambda d: 10 + 3 * math.log(d * shift) ** 2

    raw = {
        "reference": _replicated(doses, bent(1), noise=0.2, seed=5),
        "sample": _replicated(doses, bent(1.2), noise=0.2, seed=6),
    }
    evaluation = evaluate_line(potency_line(), [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and "linearity" in evaluation.reason


def test_a_valid_assay_outside_limits_is_oos_with_its_limits_in_the_reason() -> None:
    raw = {
        "reference": _replicated(DOSES, _line(10, 12), noise=0.3, seed=17),
        "sample": _replicated(DOSES, _line(10, 12, 2.0), noise=0.3, seed=18),
    }
    evaluation = evaluate_line(potency_line(), [posted("P-1", raw)])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("P-1",)
    assert evaluation.potency is not None
    (estimate,) = evaluation.potency.assays[0].estimates
    assert 180 < estimate.potency_percent < 220
    assert estimate.lower_percent < estimate.potency_percent < estimate.upper_percent  # type: ignore[operator]
    shown = evaluation.shown_values[0].value
    assert shown is not None and abs(float(shown) - estimate.potency_percent) <= 0.05


@pytest.mark.requirement("PhEur5.3")
def test_validity_tests_and_limits_hold_their_stated_levels() -> None:
    """1000 simulated valid assays: each test rejects about 5 %, limits cover about 95 %."""
    rejected = {"regression": 0, "parallelism": 0, "linearity": 0}
    covered = 0
    for seed in range(1000):
        raw = {
            "reference": _replicated(DOSES, _line(10, 12), noise=0.3, seed=10_000 + seed),
            "sample": _replicated(DOSES, _line(10, 12, 2.0), noise=0.3, seed=20_000 + seed),
        }
        report = pla(raw)
        for test in report.tests:
            rejected[test.name] += not test.passed
        (estimate,) = report.estimates
        covered += estimate.lower_percent <= 200 <= estimate.upper_percent  # type: ignore[operator]
    assert rejected["regression"] == 0
    assert 30 <= rejected["parallelism"] <= 70 and 30 <= rejected["linearity"] <= 70
    assert 935 <= covered <= 965


# -- criteria on the confidence limits --------------------------------------------------


def _good(seed: int = 9, shift: float = 1.0, noise: float = 0.3) -> dict[str, Any]:
    return {
        "reference": _replicated(DOSES, _line(10, 12), noise=noise, seed=seed),
        "sample": _replicated(DOSES, _line(10, 12, shift), noise=noise, seed=seed + 100),
    }


def _limits_of(raw: dict[str, Any]) -> tuple[float, float, float]:
    (e,) = pla(raw).estimates
    return e.potency_percent, e.lower_percent, e.upper_percent  # type: ignore[return-value]


def test_a_lower_confidence_limit_below_its_bound_is_oos() -> None:
    raw = _good(noise=1.0)
    _, lower, _ = _limits_of(raw)
    spec = potency_line({"lower_limit_min": math.ceil(lower) + 1}, decimals=0)
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "does_not_conform" and evaluation.failing_result_ids == ("P-1",)
    assert "lower confidence limit" in evaluation.reason
    spec = potency_line({"lower_limit_min": math.floor(lower) - 1}, decimals=0)
    assert evaluate_line(spec, [posted("P-1", raw)]).verdict == "conforms"


def test_imprecise_limits_make_the_assay_invalid_not_oos() -> None:
    raw = _good(noise=1.5)
    potency, lower, upper = _limits_of(raw)
    spec = potency_line({"min": 50, "max": 200, "max_limits_ratio": upper / lower * 0.9})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()
    spec = potency_line(
        {
            "min": 50,
            "max": 200,
            "limits_percent_of_estimate": [math.ceil(100 * lower / potency) + 1, 200],
        }
    )
    assert evaluate_line(spec, [posted("P-1", raw)]).verdict == "invalid"
    spec = potency_line({"min": 50, "max": 200, "max_limits_ratio": upper / lower * 1.1})
    assert evaluate_line(spec, [posted("P-1", raw)]).verdict == "conforms"


def test_a_posted_value_cannot_show_confidence_limits() -> None:
    spec = potency_line({"min": 50, "max": 150, "lower_limit_min": 40})
    evaluation = evaluate_line(spec, [result("P-1", "POTENCY", "98", unit="%")])
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()
    plain = evaluate_line(
        potency_line({"min": 50, "max": 150}), [result("P-1", "POTENCY", "98", unit="%")]
    )
    assert plain.verdict == "conforms" and plain.potency is None


# -- designs and data shapes -------------------------------------------------------------


def test_the_two_dose_design_is_accepted_by_default() -> None:
    evaluation = evaluate_line(
        potency_line({"min": 80, "max": 150}), [posted("P-1", pheur53.CORTICOTROPHIN_ST)]
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].value == Decimal("111.2")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda raw: raw["reference"][0].pop("block"), "needs a block"),
        (lambda raw: raw["reference"].pop(), "does not hold every treatment exactly once"),
    ],
)
def test_an_incomplete_block_design_is_invalid(mutate: Any, fragment: str) -> None:
    raw = json.loads(json.dumps(pheur53.TURBIDIMETRIC))
    mutate(raw)
    spec = potency_line({"min": 80, "max": 125, "design": "randomised_block"})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and fragment in evaluation.reason


def test_lot_samples_name_the_lots_preparations_on_a_shared_plate() -> None:
    raw = {**pheur53.HEPATITIS_B, "lot_samples": ["U"]}
    spec = potency_line({"min": 150, "max": 200, "transform": "log"})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "conforms"
    assert [s.label for s in evaluation.shown_values] == ["P-1 U"]
    every = evaluate_line(spec, [posted("P-1", pheur53.HEPATITIS_B)])
    assert every.verdict == "does_not_conform"  # T at 217 % is outside 150-200 %


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"sample": [{"dose": 1, "response": 1}]}, "reference curve is missing"),
        ({"reference": [{"dose": 1, "response": 1}]}, "sample curve is missing"),
        ({"reference": "abc", "sample": []}, "must be a list"),
        ({"reference": [{"dose": 1}], "sample": []}, "needs a dose and a response"),
        ({"reference": [{"dose": 0, "response": 1}], "sample": []}, "is not positive"),
        ({"reference": [{"dose": "x", "response": 1}], "sample": []}, "must be a number"),
        ({"reference": [{"dose": True, "response": 1}], "sample": []}, "must be a finite number"),
        ({"reference": [{"dose": 1, "response": "nan"}], "sample": []}, "finite number"),
        ({"reference": [{"dose": 1, "response": -1}], "sample": []}, "logarithm is undefined"),
        ({"reference": [], "samples": {"reference": []}}, "cannot name a test preparation"),
        (
            {
                "reference": [{"dose": 1, "response": 1}],
                "samples": {"T": [{"dose": 1, "response": 1}]},
                "lot_samples": ["U"],
            },
            "'lot_samples' must list",
        ),
    ],
)
def test_data_that_cannot_be_read(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(CurveError, match=fragment):
        read_assay(raw, transform="log", design=CRD)


def test_a_log_transform_needs_positive_responses() -> None:
    raw = {"reference": [{"dose": 1, "response": 0}], "sample": [{"dose": 1, "response": 1}]}
    with pytest.raises(CurveError, match="not positive; its logarithm"):
        read_assay(raw, transform="log", design=CRD)


def test_one_dose_per_curve_or_no_error_degrees_of_freedom() -> None:
    with pytest.raises(CurveError, match="fewer than 2 distinct doses"):
        pla({"reference": [{"dose": 1, "response": 1}] * 3, "sample": _good()["sample"]})
    two = [{"dose": 1, "response": 1}, {"dose": 2, "response": 3}]
    with pytest.raises(CurveError, match="no degrees of freedom"):
        pla({"reference": two, "sample": two})


# -- several independent assays (Ph. Eur. 5.3 §6) -------------------------------------


def _assays(shifts: list[float], *, noise: float = 0.3) -> list[Any]:
    return [
        posted(f"P-{i}", _good(seed=20 + i, shift=shift, noise=noise), run_id=f"R-{i}")
        for i, shift in enumerate(shifts)
    ]


RUNS = [run(f"R-{i}") for i in range(4)]


@pytest.mark.requirement("PhEur5.3")
def test_three_assays_combine_into_one_estimate() -> None:
    spec = potency_line({"min": 80, "max": 125, "assays": 3})
    evaluation = evaluate_line(spec, _assays([1.0, 1.0, 1.0]), RUNS)
    assert evaluation.verdict == "conforms", evaluation.reason
    assert evaluation.potency is not None and evaluation.potency.combination is not None
    combined = evaluation.potency.combination
    assert combined.result_ids == ("P-0", "P-1", "P-2") and combined.homogeneous
    singles = [a.estimates[0] for a in evaluation.potency.assays]
    assert min(e.potency_percent for e in singles) < combined.potency_percent  # type: ignore[operator]
    assert combined.potency_percent < max(e.potency_percent for e in singles)  # type: ignore[operator]
    widths = [e.upper_percent / e.lower_percent for e in singles]  # type: ignore[operator]
    assert combined.upper_percent / combined.lower_percent < min(widths)  # type: ignore[operator]


def test_too_few_assays_are_missing_and_one_run_is_one_assay() -> None:
    spec = potency_line({"min": 80, "max": 125, "assays": 3})
    assert evaluate_line(spec, _assays([1.0, 1.02]), RUNS).verdict == "missing"
    same_run = [posted(f"P-{i}", _good(seed=30 + i), run_id="R-0") for i in range(3)]
    evaluation = evaluate_line(spec, same_run, RUNS)
    assert evaluation.verdict == "invalid" and "not independent" in evaluation.reason


def test_heterogeneous_assays_are_not_combined() -> None:
    spec = potency_line({"min": 50, "max": 200, "assays": 3})
    evaluation = evaluate_line(spec, _assays([1.0, 1.6, 0.7], noise=0.1), RUNS)
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()
    assert "homogeneous" in evaluation.reason
    assert evaluation.potency is not None and evaluation.potency.combination is not None
    assert not evaluation.potency.combination.homogeneous


def test_a_combined_estimate_out_of_limits_fails_every_assay_it_combines() -> None:
    spec = potency_line({"min": 80, "max": 125, "assays": 2})
    evaluation = evaluate_line(spec, _assays([1.5, 1.5]), RUNS)
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("P-0", "P-1")


# -- four-parameter logistic ------------------------------------------------------------


def _sigmoid(ec50: float, *, hill: float = 1.2, a: float = 0.1, d: float = 2.0) -> Any:
    return lambda dose: d + (a - d) / (1 + math.exp(hill * (math.log(dose) - math.log(ec50))))


FOUR_PL_DOSES = [0.5 * 2**j for j in range(8)]


def fpl(raw: dict[str, Any], **settings: Any) -> AssayReport:
    chosen = Settings(min_doses=4, **settings)
    data = read_assay(raw, transform=chosen.transform, design=chosen.design)
    return logistic.analyse(data, chosen, result_id="R-1")


def test_4pl_exact_curves_give_the_exact_potency() -> None:
    raw = {
        "reference": [{"dose": d, "response": _sigmoid(8)(d)} for d in FOUR_PL_DOSES] * 2,
        "sample": [{"dose": d, "response": _sigmoid(4)(d)} for d in FOUR_PL_DOSES] * 2,
    }
    report = fpl(raw)
    assert report.valid
    (estimate,) = report.estimates
    assert abs(estimate.potency_percent - 200) < 1e-6
    curve = report.curves[0]
    assert abs(curve.hill - 1.2) < 1e-6 and abs(curve.log_ec50 - math.log(8)) < 1e-6  # type: ignore[operator]


def test_4pl_limits_cover_the_true_potency_and_the_line_judges_them() -> None:
    raw = {
        "reference": _replicated(FOUR_PL_DOSES, _sigmoid(8), noise=0.02, seed=41, reps=2),
        "sample": _replicated(FOUR_PL_DOSES, _sigmoid(8 / 1.1), noise=0.02, seed=42, reps=2),
    }
    spec = potency_line(
        {"min": 80, "max": 125, "model": "four_parameter_logistic", "max_slope_ratio": 1.25}
    )
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "conforms", evaluation.reason
    assert evaluation.potency is not None
    (assay,) = evaluation.potency.assays
    assert assay.model == "four_parameter_logistic"
    (estimate,) = assay.estimates
    assert estimate.lower_percent < 110 < estimate.upper_percent  # type: ignore[operator]
    assert named(assay, "parallelism", "equivalence").passed
    assert named(assay, "fit").passed


def test_4pl_with_different_slopes_fails_parallelism() -> None:
    raw = {
        "reference": _replicated(FOUR_PL_DOSES, _sigmoid(8), noise=0.02, seed=43, reps=2),
        "sample": _replicated(FOUR_PL_DOSES, _sigmoid(8, hill=3.0), noise=0.02, seed=44, reps=2),
    }
    spec = potency_line({"min": 50, "max": 200, "model": "four_parameter_logistic"})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and "parallelism" in evaluation.reason
    margins = fpl(raw, parallelism_anova=False, slope_ratio_margin=1.25, asymptote_margin=0.2)
    ratio = next(t for t in margins.tests if t.quantity == "slope ratio")
    assert not ratio.passed and ratio.lower > 1.25  # type: ignore[operator]


def test_4pl_flat_curves_fail_regression() -> None:
    raw = {
        "reference": _replicated(FOUR_PL_DOSES, lambda d: 1.0, noise=0.05, seed=45, reps=2),
        "sample": _replicated(FOUR_PL_DOSES, lambda d: 1.0, noise=0.05, seed=46, reps=2),
    }
    spec = potency_line({"min": 50, "max": 200, "model": "four_parameter_logistic"})
    evaluation = evaluate_line(spec, [posted("P-1", raw)])
    assert evaluation.verdict == "invalid" and evaluation.failing_result_ids == ()


# -- what the line keeps, as JSON ------------------------------------------------------


def _plain(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _plain(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _plain(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)


def test_the_potency_report_is_plain_json() -> None:
    spec = potency_line({"min": 150, "max": 250, "transform": "log"})
    evaluation = evaluate_line(spec, [posted("P-1", pheur53.HEPATITIS_B)])
    data = asdict(evaluation)["potency"]
    _plain(data)
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    (assay,) = back["assays"]
    assert {c["preparation"] for c in assay["curves"]} == {"reference", "T", "U", "V"}
    reference = next(c for c in assay["curves"] if c["role"] == "reference")
    assert len(reference["doses"]) == len(reference["responses"]) == 15
    assert reference["slope"] > 0
    assert {t["name"] for t in assay["tests"]} == {"regression", "parallelism", "linearity"}
    assert [round(e["potency_percent"], 1) for e in assay["estimates"]] == [217.1, 175.8, 197.0]


def test_an_invalid_assay_keeps_its_tests_and_curves() -> None:
    evaluation = evaluate_line(potency_line(), [posted("P-1", pheur53.CORTICOTROPHIN_STU)])
    assert evaluation.verdict == "invalid"
    assert evaluation.potency is not None
    (assay,) = evaluation.potency.assays
    assert not assay.valid and len(assay.curves) == 3
    json.dumps(asdict(evaluation)["potency"], allow_nan=False)


# -- parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"model": "probit"}, "'model' must be one of"),
        ({"transform": "log2"}, "'transform' must be one of"),
        ({"design": "split_plot"}, "'design' must be one of"),
        ({"confidence": 1}, "'confidence' must lie between"),
        ({"alpha": 0}, "'alpha' must lie between"),
        ({"parallelism": "equivalence"}, "needs a margin"),
        ({"parallelism": "visual"}, "'parallelism' must be"),
        ({"max_slope_ratio": "0.8"}, "'max_slope_ratio' must be at least 1"),
        ({"max_asymptote_difference": 1}, "margin of the four-parameter logistic"),
        ({"model": "four_parameter_logistic", "design": "latin_square"}, "parallel-line model"),
        ({"model": "four_parameter_logistic", "min_points": 3}, "'min_points' must be"),
        ({"min_points": 1}, "'min_points' must be a whole number >= 2"),
        ({"assays": 0}, "'assays' must be a whole number >= 1"),
        ({"max_limits_ratio": 1}, "'max_limits_ratio' must be above 1"),
        ({"limits_percent_of_estimate": [110, 120]}, "at or below 100"),
        ({"limits_percent_of_estimate": "80-125"}, "must be [lowest, highest]"),
        ({"fudge": 1}, "unknown parameter 'fudge'"),
    ],
)
def test_bad_potency_params(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment.replace("[", r"\[")):
        validate_params("relative_potency", {"min": 50, "max": 150, **params}, unit="%")


def test_a_potency_line_needs_some_bound() -> None:
    with pytest.raises(CriterionError, match="give limits for the estimate"):
        validate_params("relative_potency", {"transform": "log"}, unit="%")
    validate_params("relative_potency", {"lower_limit_min": 30}, unit="%")
