"""numeric_range, qualitative and process_fact: examples and the reasons QA reads."""

from typing import Any

import pytest

from qc.evaluation import CriterionError, SpecLine, validate_params
from tests.qc.evaluation.builders import control, evaluate_line, line, result, run

EU = "EU/mL"


def endotoxin(**kwargs: Any) -> SpecLine:
    defaults: dict[str, Any] = {
        "params": {"max": "0.50"},
        "decimals": 2,
        "unit": EU,
        "name": "Endotoxin",
    }
    defaults.update(kwargs)
    return line("L01", "ENDO", "numeric_range", **defaults)


# -- numeric_range ----------------------------------------------------------


def test_endotoxin_above_the_limit() -> None:
    evaluation = evaluate_line(endotoxin(), [result("E-1", value="0.80", unit=EU)])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == "Endotoxin 0.80 EU/mL is above the release limit \u2264 0.50 EU/mL"
    assert evaluation.failing_result_ids == ("E-1",)
    assert evaluation.shown_values[0].text == "0.80 EU/mL"


def test_endotoxin_conforms() -> None:
    evaluation = evaluate_line(endotoxin(), [result("E-1", value="0.1", unit=EU)])
    assert evaluation.verdict == "conforms"
    assert (
        evaluation.reason == "Endotoxin 0.10 EU/mL conforms to the release limit \u2264 0.50 EU/mL"
    )
    assert evaluation.used_result_ids == ("E-1",)
    assert evaluation.failing_result_ids == ()


@pytest.mark.requirement("USP-GN-rounding")
def test_rounded_value_at_the_limit_conforms() -> None:
    evaluation = evaluate_line(endotoxin(), [result("E-1", value="0.504", unit=EU)])
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].value == pytest.approx(0.50)


def test_alert_limit_inside_release() -> None:
    evaluation = evaluate_line(
        endotoxin(alert={"max": "0.30"}), [result("E-1", value="0.42", unit=EU)]
    )
    assert evaluation.verdict == "conforms_with_alert"
    assert evaluation.reason == (
        "Endotoxin 0.42 EU/mL conforms to the release limit \u2264 0.50 EU/mL, "
        "but 0.42 EU/mL is outside the alert limit \u2264 0.30 EU/mL"
    )


def test_censored_result_below_the_alert_limit_raises_no_alert() -> None:
    evaluation = evaluate_line(
        endotoxin(alert={"max": "0.30"}), [result("E-1", value="0.05", qualifier="<", unit=EU)]
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.shown_values[0].text == "< 0.05 EU/mL"


def test_censored_result_that_cannot_show_the_alert_limit_alerts() -> None:
    evaluation = evaluate_line(
        endotoxin(alert={"max": "0.30"}), [result("E-1", value="0.4", qualifier="<", unit=EU)]
    )
    assert evaluation.verdict == "conforms_with_alert"
    assert "does not demonstrate the alert limit \u2264 0.30 EU/mL" in evaluation.reason


@pytest.mark.requirement("21CFR211.165a")
def test_a_detection_limit_above_the_specification_is_never_a_pass() -> None:
    evaluation = evaluate_line(
        endotoxin(params={"max": "0.5"}, decimals=None),
        [result("E-1", value="1.0", qualifier="<", unit=EU)],
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == (
        "Endotoxin cannot demonstrate \u2264 0.5 EU/mL: the result is below 1.0 EU/mL only, "
        "a detection limit that does not prove conformance"
    )


def test_one_sided_lower_limit_and_exclusive_bound() -> None:
    spec = line(
        "L02",
        "CONC",
        params={"min": "1e11", "min_inclusive": False},
        unit="particles/mL",
        name="Particle concentration",
    )
    evaluation = evaluate_line(spec, [result("C-1", "CONC", "1E+11", unit="particles/mL")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == (
        "Particle concentration 1\u00d710^11 particles/mL is below the release limit "
        "> 1\u00d710^11 particles/mL"
    )


def test_two_sided_range_text() -> None:
    spec = line("L03", "MODE", params={"min": 50, "max": 200}, decimals=0, unit="nm", name="Mode")
    evaluation = evaluate_line(spec, [result("M-1", "MODE", "212.4", unit="nm")])
    assert evaluation.reason == "Mode 212 nm is above the release range 50\u2013200 nm"


def test_no_result_is_missing() -> None:
    evaluation = evaluate_line(endotoxin(), [result("X-1", "OTHER", "1")])
    assert evaluation.verdict == "missing"
    assert evaluation.reason == "Endotoxin: no result yet"


def test_a_result_without_a_number_is_invalid() -> None:
    evaluation = evaluate_line(endotoxin(), [result("E-1", text="clear", unit=EU)])
    assert evaluation.verdict == "invalid"
    assert evaluation.reason == (
        "Endotoxin: no valid result (no numeric value was reported); needs a valid repeat"
    )
    assert evaluation.invalid_result_ids == ("E-1",)


@pytest.mark.requirement("FDA-OOS")
def test_every_valid_result_is_judged_and_the_oos_stays() -> None:
    evaluation = evaluate_line(
        endotoxin(),
        [
            result("E-1", value="0.80", unit=EU),
            result("E-2", value="0.20", unit=EU, retest_of="E-1"),
            result("E-3", value="0.22", unit=EU, retest_of="E-1"),
        ],
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("E-1",)
    assert evaluation.used_result_ids == ("E-1", "E-2", "E-3")
    assert evaluation.reason == (
        "Endotoxin 0.80 EU/mL (result E-1) is above the release limit \u2264 0.50 EU/mL"
    )


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_invalidated_by_investigation_no_longer_counts() -> None:
    evaluation = evaluate_line(
        endotoxin(),
        [
            result(
                "E-1",
                value="0.80",
                unit=EU,
                invalidated=True,
                invalidation_reason="INV-12: contaminated tip",
            ),
            result("E-2", value="0.20", unit=EU, retest_of="E-1"),
        ],
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.notes == ("E-1 not counted: invalidated (INV-12: contaminated tip)",)


@pytest.mark.requirement("FDA-OOS")
def test_unsuitable_run_beside_a_valid_result_is_only_a_note() -> None:
    spec = line("L03", "MODE", params={"min": 50, "max": 200}, decimals=0, unit="nm", name="Mode")
    evaluation = evaluate_line(
        spec,
        [
            result("M-1", "MODE", "300", unit="nm", run_id="R-1"),
            result("M-2", "MODE", "120", unit="nm", run_id="R-2"),
        ],
        [run("R-1", control("121")), run("R-2")],
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.failing_result_ids == ()  # the out-of-range M-1 is invalid, not OOS
    assert evaluation.invalid_result_ids == ("M-1",)


@pytest.mark.parametrize(
    ("params", "alert", "fragment"),
    [
        ({}, None, "give 'min', 'max' or both"),
        ({"min": 5, "max": 1}, None, "'min' 5 is above 'max' 1"),
        ({"max": "abc"}, None, "'max' must be a number"),
        ({"maxx": 1}, None, "unknown parameter 'maxx'"),
        ({"max": 1, "max_inclusive": "yes"}, None, "'max_inclusive' must be true or false"),
        ({"max": "0.5"}, {"max": "0.6"}, "alert 'max' must be at or below the release 'max'"),
        ({"min": "1"}, {"min": "0.5"}, "alert 'min' must be at or above the release 'min'"),
        ({"max": "0.5"}, {"maxx": "0.3"}, "unknown parameter 'maxx'"),
    ],
)
def test_bad_numeric_params_are_refused_early(
    params: dict[str, object], alert: dict[str, object] | None, fragment: str
) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("numeric_range", params, alert_params=alert, unit="EU/mL")


def test_numeric_lines_need_a_known_unit() -> None:
    with pytest.raises(CriterionError, match="needs the test's canonical unit"):
        validate_params("numeric_range", {"max": 1}, unit="")
    with pytest.raises(CriterionError, match="not known"):
        validate_params("numeric_range", {"max": 1}, unit="furlongs")


def test_unknown_criterion_type() -> None:
    with pytest.raises(CriterionError, match="unknown criterion type 'magic'"):
        validate_params("magic", {})


# -- qualitative -------------------------------------------------------------


def sterility() -> SpecLine:
    return line("L05", "STER", "qualitative", {"allowed": ["no growth"]}, name="Sterility")


def test_qualitative_ignores_case_and_whitespace() -> None:
    evaluation = evaluate_line(sterility(), [result("S-1", "STER", text="  No   GROWTH ")])
    assert evaluation.verdict == "conforms"
    assert evaluation.reason == 'Sterility "No GROWTH" conforms to "no growth"'


def test_qualitative_failure() -> None:
    evaluation = evaluate_line(sterility(), [result("S-1", "STER", text="growth")])
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == 'Sterility "growth" is not "no growth"'
    assert evaluation.failing_result_ids == ("S-1",)


def test_qualitative_without_text_is_invalid() -> None:
    evaluation = evaluate_line(sterility(), [result("S-1", "STER", "1")])
    assert evaluation.verdict == "invalid"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"allowed": []}, "at least one reading"),
        ({"allowed": "no growth"}, "must be a list of text"),
        ({"allowed": ["ok", ""]}, "list of non-empty text"),
    ],
)
def test_bad_qualitative_params(params: dict[str, object], fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("qualitative", params)


# -- process_fact -------------------------------------------------------------


def isolation(params: dict[str, object] | None = None) -> SpecLine:
    return line(
        "L06",
        "PROCESS-ISOLATION",
        "process_fact",
        params or {"field": "isolation_method", "allowed": ["SEC", "TFF + SEC"]},
        name="Isolation method",
    )


@pytest.mark.requirement("MISEV2018")
def test_precipitation_is_refused_by_an_allow_list() -> None:
    evaluation = evaluate_line(isolation(), facts={"isolation_method": "PEG precipitation"})
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == (
        'Isolation method "PEG precipitation" is not an allowed value ("SEC", "TFF + SEC")'
    )


@pytest.mark.requirement("MISEV2018")
def test_forbidden_value() -> None:
    spec = isolation({"field": "isolation_method", "forbidden": ["precipitation"]})
    assert evaluate_line(spec, facts={"isolation_method": "Precipitation"}).verdict == (
        "does_not_conform"
    )
    passing = evaluate_line(spec, facts={"isolation_method": "sec"})
    assert passing.verdict == "conforms"
    assert passing.reason == 'Isolation method "sec" is not a forbidden value ("precipitation")'


def test_allowed_value_and_missing_field() -> None:
    assert evaluate_line(isolation(), facts={"isolation_method": "tff  +  sec"}).verdict == (
        "conforms"
    )
    missing = evaluate_line(isolation(), facts={})
    assert missing.verdict == "missing"
    assert missing.reason == "Isolation method: the batch record has no 'isolation_method' yet"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"field": "x"}, "give 'allowed', 'forbidden' or both"),
        ({"allowed": ["a"]}, "'field' must be non-empty text"),
        ({"field": "x", "allowed": ["a"], "requires_run": True}, "unknown parameter"),
    ],
)
def test_bad_process_fact_params(params: dict[str, object], fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("process_fact", params)


def test_a_dimensionless_unit_is_not_printed() -> None:
    spec = line("L07", "PH", params={"min": "7.0", "max": "7.6"}, decimals=1, unit="1", name="pH")
    evaluation = evaluate_line(spec, [result("H-1", "PH", "7.44", unit="1")])
    assert evaluation.reason == "pH 7.4 conforms to the release range 7.0\u20137.6"


def test_a_one_sided_alert_on_a_two_sided_range() -> None:
    spec = line(
        "L03",
        "MODE",
        params={"min": 50, "max": 200},
        alert={"max": 180},
        decimals=0,
        unit="nm",
        name="Mode",
    )
    assert evaluate_line(spec, [result("M-1", "MODE", "55", unit="nm")]).verdict == "conforms"
    high = evaluate_line(spec, [result("M-1", "MODE", "190", unit="nm")])
    assert high.verdict == "conforms_with_alert"
    assert high.reason.endswith("but 190 nm is outside the alert limit \u2264 180 nm")
