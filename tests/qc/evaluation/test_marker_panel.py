"""marker_panel: identity (positives, groups) and purity (negatives), MISEV2018."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.evaluation import CriterionError, SpecLine, validate_params
from tests.qc.evaluation.builders import control, evaluate_line, line, result, run

POSITIVE = ["CD9", "CD63", "CD81", "TSG101", "ALIX", "syntenin"]
NEGATIVE = ["calnexin", "GM130"]
GROUPS = {"tetraspanin": ["CD9", "CD63", "CD81"], "cytosolic": ["TSG101", "ALIX", "syntenin"]}
PARAMS = {
    "markers": {m: f"WB-{m.upper()}" for m in POSITIVE + NEGATIVE},
    "positive": POSITIVE,
    "min_positive": 3,
    "groups": GROUPS,
    "negative": NEGATIVE,
}


def panel(**overrides: object) -> SpecLine:
    return line("L10", "IDENTITY", "marker_panel", {**PARAMS, **overrides}, name="Identity")


def readings(**by_marker: str) -> list:  # type: ignore[type-arg]
    return [
        result(f"R-{marker}", f"WB-{marker.upper()}", text=text)
        for marker, text in by_marker.items()
    ]


@pytest.mark.requirement("MISEV2018")
def test_a_typical_identity_and_purity_pass() -> None:
    evaluation = evaluate_line(
        panel(),
        readings(
            CD9="detected",
            CD63="Detected",
            CD81="positive",
            TSG101="detected",
            calnexin="not detected",
            GM130="negative",
        ),
    )
    assert evaluation.verdict == "conforms"
    assert evaluation.reason == (
        "Identity: 4 of 6 positive markers detected (CD9, CD63, CD81, TSG101; at least 3 "
        "required); every marker group represented; negative markers not detected "
        "(calnexin, GM130)"
    )
    # the missing ALIX and syntenin are not needed: no failure, no wait
    shown = {s.label: s.text for s in evaluation.shown_values}
    assert shown["ALIX"] == "no result"


@pytest.mark.requirement("MISEV2018")
def test_a_detected_negative_marker_fails_purity() -> None:
    evaluation = evaluate_line(
        panel(),
        readings(
            CD9="detected",
            CD63="detected",
            TSG101="detected",
            calnexin="detected",
            GM130="not detected",
        ),
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == "Identity: negative marker(s) detected: calnexin"
    assert evaluation.failing_result_ids == ("R-calnexin",)


@pytest.mark.requirement("MISEV2018")
def test_a_group_with_no_member_detected_fails() -> None:
    evaluation = evaluate_line(
        panel(),
        readings(
            CD9="detected",
            CD63="detected",
            CD81="detected",
            TSG101="not detected",
            ALIX="not detected",
            syntenin="not detected",
            calnexin="not detected",
            GM130="not detected",
        ),
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason == "Identity: no cytosolic marker detected (TSG101, ALIX, syntenin)"


def test_too_few_positives_possible_fails() -> None:
    evaluation = evaluate_line(
        panel(min_positive=5, groups={}),
        readings(CD9="detected", CD63="not detected", CD81="not detected", ALIX="detected"),
    )
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.reason.startswith(
        "Identity: only 2 of the required 5 positive markers detected (CD9, ALIX); "
        "not detected: CD63, CD81"
    )


def test_missing_readings_are_missing_not_failures() -> None:
    evaluation = evaluate_line(panel(), readings(CD9="detected", calnexin="not detected"))
    assert evaluation.verdict == "missing"
    assert evaluation.reason == (
        "Identity: no result yet for negative marker(s) GM130; 1 of the required 3 positive "
        "markers detected so far; no result yet for CD63, CD81, TSG101, ALIX, syntenin; "
        "group cytosolic: no result yet for TSG101, ALIX, syntenin"
    )


def test_a_needed_marker_with_only_invalid_results_is_invalid() -> None:
    results = [
        *readings(CD9="detected", CD63="detected", TSG101="detected", calnexin="not detected"),
        result("R-GM", "WB-GM130", text="not detected", run_id="WB-1"),
    ]
    evaluation = evaluate_line(panel(), results, [run("WB-1", control(status="quarantined"))])
    assert evaluation.verdict == "invalid"
    assert "needs a valid repeat" in evaluation.reason
    assert evaluation.invalid_result_ids == ("R-GM",)


def test_an_unreadable_reading_is_invalid() -> None:
    evaluation = evaluate_line(
        panel(positive=["CD9"], groups={}, negative=[], min_positive=1), readings(CD9="faint")
    )
    assert evaluation.verdict == "invalid"
    assert "reading 'faint' is neither detected nor not detected" in evaluation.reason


@pytest.mark.requirement("FDA-OOS")
def test_conflicting_readings_count_against_the_lot() -> None:
    spec = panel(positive=["CD9"], groups={}, negative=["calnexin"], min_positive=1)
    results = [
        result("A", "WB-CD9", text="detected"),
        result("B", "WB-CALNEXIN", text="not detected"),
        result("C", "WB-CALNEXIN", text="detected", retest_of="B"),
    ]
    evaluation = evaluate_line(spec, results)
    assert evaluation.verdict == "does_not_conform"
    assert evaluation.failing_result_ids == ("C",)


def test_custom_vocabulary() -> None:
    spec = panel(
        positive=["CD9"],
        groups={},
        negative=[],
        min_positive=1,
        detected=["band"],
        not_detected=["no band"],
    )
    assert evaluate_line(spec, readings(CD9="Band")).verdict == "conforms"
    assert evaluate_line(spec, readings(CD9="detected")).verdict == "invalid"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"markers": {}}, "'markers' must map"),
        (
            {
                "markers": {"CD9": "T", "CD63": "T"},
                "positive": ["CD9", "CD63"],
                "negative": [],
                "groups": {},
            },
            "share one test code",
        ),
        ({"positive": ["CD9", "CD999"]}, "marker 'CD999' has no test"),
        ({"negative": ["CD9"]}, "cannot be positive and negative"),
        ({"min_positive": 7}, "'min_positive' 7 exceeds the 6 positive markers"),
        ({"min_positive": -1}, "'min_positive' must be a whole number >= 0"),
        ({"groups": {"x": ["calnexin"]}}, "group 'x' names calnexin, not positive markers"),
        ({"groups": {"x": []}}, "group 'x' is empty"),
        ({"positive": [], "negative": [], "groups": {}}, "give 'positive' markers"),
        ({"detected": ["x"], "not_detected": ["X"]}, "cannot mean detected and not detected"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_panels_are_refused(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(CriterionError, match=fragment):
        validate_params("marker_panel", {**PARAMS, **overrides})


# -- property: the verdict is what every completion of the missing readings gives ----

READING = st.sampled_from(["detected", "not detected", None])


def _passes(state: dict[str, bool], min_positive: int) -> bool:
    """The panel rule on complete readings, written as plainly as possible."""
    if any(state[m] for m in NEGATIVE):
        return False
    if sum(state[m] for m in POSITIVE) < min_positive:
        return False
    return all(any(state[m] for m in members) for members in GROUPS.values())


def oracle(observed: dict[str, bool | None], min_positive: int) -> str:
    unknown = [m for m, v in observed.items() if v is None]
    outcomes = set()
    for completion in itertools.product([True, False], repeat=len(unknown)):
        state = {m: v for m, v in observed.items() if v is not None}
        state.update(zip(unknown, completion, strict=True))
        outcomes.add(_passes(state, min_positive))  # type: ignore[arg-type]
    if outcomes == {True}:
        return "conforms"
    if outcomes == {False}:
        return "does_not_conform"
    return "missing"


@pytest.mark.requirement("MISEV2018")
@settings(max_examples=300, deadline=None)
@given(
    observed=st.fixed_dictionaries({m: READING for m in POSITIVE + NEGATIVE}),
    min_positive=st.integers(min_value=0, max_value=6),
)
def test_panel_verdict_matches_the_oracle(
    observed: dict[str, str | None], min_positive: int
) -> None:
    results = readings(**{m: text for m, text in observed.items() if text is not None})
    evaluation = evaluate_line(panel(min_positive=min_positive), results)
    truth = {m: None if t is None else t == "detected" for m, t in observed.items()}
    assert evaluation.verdict == oracle(truth, min_positive)
