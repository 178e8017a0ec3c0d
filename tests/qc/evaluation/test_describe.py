"""Criteria in words: every criterion type of the demo specification reads as a sentence."""

from __future__ import annotations

import pytest

from qc.demo import SPEC_LINES, TESTS
from qc.evaluation.criteria import CRITERIA
from qc.evaluation.describe import DESCRIBERS, describe_criterion

UNITS = {code: unit for code, _, _, _, _, unit, _ in TESTS}


def test_every_criterion_type_has_words() -> None:
    assert set(DESCRIBERS) == set(CRITERIA)


@pytest.mark.parametrize("line", SPEC_LINES, ids=[line["name"] for line in SPEC_LINES])
def test_demo_lines_read_without_json(line: dict) -> None:  # type: ignore[type-arg]
    text = describe_criterion(
        line["criterion_type"],
        line["params"],
        UNITS.get(line["test_code"], ""),
        line.get("alert_params"),
    )
    assert "{" not in text and "requires_run" not in text
    assert text


def test_examples() -> None:
    assert (
        describe_criterion("numeric_range", {"max": "0.50"}, "EU/mL", {"max": "0.30"})
        == "≤ 0.50 EU/mL (alert: ≤ 0.30 EU/mL)"
    )
    assert describe_criterion(
        "replicates",
        {"min": "1.6e11", "max": "2.4e11", "n": 3, "max_cv_percent": "10", "report": "mean"},
        "particles/mL",
    ) == (
        "3 replicates; each replicate and the mean 1.6×10^11 to 2.4×10^11 particles/mL; CV ≤ 10 %"
    )
    assert describe_criterion("qualitative", {"allowed": ["no growth"]}) == '"no growth"'
    assert (
        describe_criterion(
            "process_fact", {"field": "isolation_method", "allowed": ["SEC", "TFF + SEC"]}
        )
        == "isolation method is SEC or TFF + SEC"
    )


def test_potency_words_say_which_bounds_are_conformance_and_which_validity() -> None:
    assert describe_criterion(
        "relative_potency",
        {
            "min": 80,
            "max": 125,
            "lower_limit_min": 64,
            "max_limits_ratio": "1.5",
            "transform": "log",
            "design": "randomised_block",
            "assays": 2,
        },
        "%",
    ) == (
        "80 to 125 % of the reference; 95 % confidence limits: lower ≥ 64 %; "
        "assay valid only if upper/lower confidence limit ≤ 1.5; parallel-line analysis, "
        "log-transformed response, randomised blocks; valid if the regression is significant "
        "(p < 0.05) and non-parallelism and non-linearity are not (p ≥ 0.05); estimate and "
        "limits from 2 independent assays combined (Ph. Eur. 5.3 §6, homogeneous at p ≥ 0.05)"
    )
    assert describe_criterion(
        "relative_potency", {"min": 50, "max": 150, "max_slope_ratio": "1.25"}, "%"
    ).endswith("parallel by equivalence: slope ratio within 0.80–1.25 (90 % confidence)")
