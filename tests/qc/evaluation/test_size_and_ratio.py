"""orthogonal_size (two techniques, in range, agreeing) and derived_ratio (particle:protein)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.evaluation import CriterionError, ResultInput, SpecLine, validate_params
from qc.evaluation.criteria.derived_ratio import ratio_qualifier
from qc.evaluation.criteria.orthogonal_size import relative_difference
from tests.qc.evaluation.builders import control, evaluate_line, line, result, run

SIZE_PARAMS = {
    "min": 50,
    "max": 200,
    "tolerance_percent": 20,
    "test_codes": ["NTA-MODE", "TRPS-MODE"],
}


def sizing(**overrides: object) -> SpecLine:
    alert = overrides.pop("alert", None)
    return line(
        "L20",
        "SIZE",
        "orthogonal_size",
        {**SIZE_PARAMS, **overrides},
        alert=alert,  # type: ignore[arg-type]
        decimals=0,
        unit="nm",
        name="Modal size",
    )


def nta(value: str, rid: str = "N-1", **extra: object) -> ResultInput:
    return result(rid, "NTA-MODE", value, unit="nm", **{"technique": "NTA", **extra})


def trps(value: str, rid: str = "T-1", **extra: object) -> ResultInput:
    return result(rid, "TRPS-MODE", value, unit="nm", **{"technique": "TRPS", **extra})


@pytest.mark.requirement("MISEV2018")
def test_two_techniques_in_range_and_agreeing_conform() -> None:
    evaluation = evaluate_line(sizing(), [nta("112"), trps("118.4")])
    assert evaluation.verdict == "conforms"
    assert evaluation.reason == (
        "Modal size: all 2 values conform to the release range 50\u2013200 nm "
        "(112 nm (NTA, result N-1); 118 nm (TRPS, result T-1)); "
        "the techniques agree within 6 % (tolerance 20 %)"
    )


@pytest.mark.requirement("MISEV2018")
def test_disagreeing_techniques_fail() -> None:
    evaluation = evaluate_line(sizing(), [nta("112"), trps("150")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == (
        "Modal size by NTA (112 nm, result N-1) and TRPS (150 nm, result T-1) differ by "
        "29 %, more than the 20 % tolerance"
    )
    assert evaluation.failing_result_ids == ("N-1", "T-1")


@pytest.mark.requirement("USP-GN-rounding")
def test_agreement_is_rounded_to_the_places_of_the_tolerance() -> None:
    # 100 vs 122.5: 20.2 % -> 20 %, within; 100 vs 122.7: 20.4 % -> 20 %; 100 vs 123: 20.6 -> 21
    assert evaluate_line(sizing(), [nta("100"), trps("122.7")]).verdict == "conforms"
    assert evaluate_line(sizing(), [nta("100"), trps("123")]).verdict == "does_not_conform"


def test_one_technique_only_is_missing() -> None:
    evaluation = evaluate_line(sizing(), [nta("112"), nta("115", "N-2")])
    assert evaluation.verdict == "missing"
    assert evaluation.reason == (
        "Modal size: needs valid results from 2 distinct techniques, has 1 (NTA)"
    )


def test_technique_names_compare_case_insensitively() -> None:
    evaluation = evaluate_line(
        sizing(test_codes=["NTA-MODE"]), [nta("112"), nta("115", "N-2", technique="nta")]
    )
    assert evaluation.verdict == "missing"


def test_a_result_out_of_range_fails_even_with_one_technique() -> None:
    evaluation = evaluate_line(sizing(), [nta("250")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == "Modal size 250 nm is above the release range 50\u2013200 nm"


@pytest.mark.requirement("FDA-OOS")
def test_second_technique_in_a_failed_run_is_invalid() -> None:
    evaluation = evaluate_line(
        sizing(), [nta("112"), trps("300", run_id="R-1")], [run("R-1", control("121"))]
    )
    assert evaluation.verdict == "invalid"
    assert evaluation.failing_result_ids == ()
    assert evaluation.invalid_result_ids == ("T-1",)


def test_results_without_technique_or_censored_are_invalid() -> None:
    evaluation = evaluate_line(sizing(), [nta("112", technique=""), trps("40", qualifier="<")])
    assert evaluation.verdict == "invalid"
    assert evaluation.notes == (
        "N-1 invalid: the sizing technique is not stated",
        "T-1 invalid: a modal size must be a number, not a detection limit",
    )


def test_agreement_alert() -> None:
    evaluation = evaluate_line(sizing(alert={"tolerance_percent": 5}), [nta("100"), trps("110")])
    assert evaluation.verdict == "conforms_with_alert"
    assert evaluation.reason.endswith(
        "but NTA and TRPS differ by 10 %, more than the 5 % alert tolerance"
    )


def test_relative_difference() -> None:
    assert relative_difference(Decimal(100), Decimal(150)) == Decimal(40)
    assert relative_difference(Decimal(0), Decimal(0)) == 0


@given(
    a=st.decimals(min_value=1, max_value=1000, places=1),
    b=st.decimals(min_value=1, max_value=1000, places=1),
)
def test_relative_difference_is_symmetric(a: Decimal, b: Decimal) -> None:
    assert relative_difference(a, b) == relative_difference(b, a)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"tolerance_percent": None}, "'tolerance_percent' is required"),
        ({"tolerance_percent": -1}, "must not be negative"),
        ({"min_techniques": 1}, "'min_techniques' must be a whole number >= 2"),
        ({"test_codes": "NTA-MODE"}, "'test_codes' must be a list"),
    ],
)
def test_bad_sizing_params(overrides: dict[str, object], fragment: str) -> None:
    params = {k: v for k, v in {**SIZE_PARAMS, **overrides}.items() if v is not None}
    with pytest.raises(CriterionError, match=fragment):
        validate_params("orthogonal_size", params, unit="nm")


def test_alert_tolerance_cannot_exceed_the_tolerance() -> None:
    with pytest.raises(CriterionError, match="alert tolerance must not exceed"):
        validate_params(
            "orthogonal_size", SIZE_PARAMS, alert_params={"tolerance_percent": 25}, unit="nm"
        )


# -- derived_ratio ---------------------------------------------------------------

RATIO_PARAMS = {
    "numerator": "NTA-CONC",
    "numerator_unit": "particles/mL",
    "denominator": "BCA",
    "denominator_unit": "\u00b5g/mL",
    "min": "3e10",
}


def ratio_line(**overrides: object) -> SpecLine:
    return line(
        "L21",
        "PURITY",
        "derived_ratio",
        {**RATIO_PARAMS, **overrides},
        unit="particles/\u00b5g",
        name="Particle:protein ratio",
    )


def conc(value: str, rid: str = "C-1", **extra: object) -> ResultInput:
    return result(rid, "NTA-CONC", value, unit="particles/mL", **extra)


def protein(value: str, rid: str = "B-1", **extra: object) -> ResultInput:
    return result(rid, "BCA", value, unit="\u00b5g/mL", **extra)


def test_high_purity_ratio_conforms() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11"), protein("5")])
    assert evaluation.verdict == "conforms"
    assert evaluation.reason == (
        "Particle:protein ratio 4.200\u00d710^10 particles/\u00b5g conforms to the release limit "
        "\u2265 3\u00d710^10 particles/\u00b5g (2.1\u00d710^11 particles/mL \u00f7 5 \u00b5g/mL, "
        "results C-1 and B-1)"
    )
    assert evaluation.shown_values[0].value == Decimal("4.200E+10")


def test_low_purity_fails_and_names_both_results() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11"), protein("70")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("B-1", "C-1")


def test_units_of_the_ratio_are_converted_once_exactly() -> None:
    # particles/mL / (mg/mL) -> particles/µg divides by 1000
    spec = ratio_line(denominator_unit="mg/mL")
    evaluation = evaluate_line(spec, [conc("3e13"), result("B-1", "BCA", "1", unit="mg/mL")])
    assert evaluation.shown_values[0].value == Decimal("3.000E+10")
    assert evaluation.verdict == "conforms"


def test_decimals_round_the_ratio_instead_of_significant_figures() -> None:
    spec = line(
        "L21",
        "PURITY",
        "derived_ratio",
        {**RATIO_PARAMS, "min": "2.9e10"},
        unit="particles/\u00b5g",
        decimals=-9,
        name="Particle:protein ratio",
    )
    evaluation = evaluate_line(spec, [conc("2.1e11"), protein("7.25")])  # 2.8966e10 -> 2.9e10
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].text == "2.9\u00d710^10 particles/\u00b5g"


@pytest.mark.requirement("FDA-OOS")
def test_every_pair_is_judged() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11"), protein("3"), protein("9", "B-2")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("B-2", "C-1")
    assert len(evaluation.shown_values) == 2


def test_censored_denominator_bounds_the_ratio_from_below() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11"), protein("2", qualifier="<")])
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].text == "> 1.050\u00d710^11 particles/\u00b5g"


def test_a_ratio_bounded_on_the_wrong_side_cannot_demonstrate_a_minimum() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11", qualifier="<"), protein("5")])
    assert evaluation.verdict == "does_not_conform"
    assert "cannot demonstrate \u2265 3\u00d710^10 particles/\u00b5g" in evaluation.reason


def test_same_side_censoring_leaves_the_ratio_unbounded() -> None:
    evaluation = evaluate_line(
        ratio_line(), [conc("2.1e11", qualifier="<"), protein("5", qualifier="<")]
    )
    assert evaluation.verdict == "does_not_conform"
    assert "both are detection limits on the same side" in evaluation.reason


@pytest.mark.parametrize(
    ("n", "d", "expected"),
    [
        (None, None, (True, None)),
        ("<", None, (True, "<")),
        (None, "<", (True, ">")),
        ("<", ">", (True, "<")),
        (">", "<", (True, ">")),
        ("<", "<", (False, None)),
        (">", ">", (False, None)),
    ],
)
def test_ratio_qualifiers(n: str | None, d: str | None, expected: tuple[bool, str | None]) -> None:
    assert ratio_qualifier(n, d) == expected  # type: ignore[arg-type]


def test_missing_input_and_zero_denominator() -> None:
    evaluation = evaluate_line(ratio_line(), [conc("2.1e11")])
    assert (evaluation.verdict, evaluation.reason) == (
        "missing",
        "Particle:protein ratio: no result yet for BCA",
    )
    zero = evaluate_line(ratio_line(), [conc("2.1e11"), protein("0")])
    assert zero.verdict == "invalid"
    assert "undefined for a denominator of zero" in zero.reason


@pytest.mark.parametrize(
    ("overrides", "unit", "fragment"),
    [
        ({"denominator_unit": "nm"}, "particles/\u00b5g", "this test reports particles/\u00b5g"),
        ({"numerator_unit": "bogus"}, "particles/\u00b5g", "not known"),
        ({"denominator": "NTA-CONC"}, "particles/\u00b5g", "the same test"),
        ({"numerator": ""}, "particles/\u00b5g", "'numerator' must be non-empty text"),
        ({}, "EU/mL", "this test reports EU/mL"),
    ],
)
def test_bad_ratio_lines_are_refused_at_compile_time(
    overrides: dict[str, object], unit: str, fragment: str
) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("derived_ratio", {**RATIO_PARAMS, **overrides}, unit=unit)
