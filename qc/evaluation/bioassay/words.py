"""Validity tests and estimates in words, for reasons a QA officer reads."""

from __future__ import annotations

import math
from collections.abc import Sequence

from qc.evaluation.bioassay.report import ValidityTest


def figures(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, without an exponent for usual sizes."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 6 or magnitude < -4:
        return f"{value:.{digits - 1}e}"
    places = max(digits - 1 - magnitude, 0)
    return f"{value:.{places}f}"


def short(value: float, digits: int = 3) -> str:
    """Like :func:`figures`, without trailing zeros: 0.8, 1.25."""
    text = figures(value, digits)
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {figures(p, 2)}"


#: what an ANOVA test of the deviations from the model is called (Ph. Eur. 5.3 §3.2.4)
_DEVIATIONS = {
    "parallelism": "non-parallelism",
    "linearity": "non-linearity",
    "fit": "lack of fit to the four-parameter logistic",
}


def test_sentence(test: ValidityTest) -> str:
    """E.g. ``regression not significant (F = 2.04 on 1 and 8 df, p = 0.19; needs p < 0.05)``."""
    if test.method == "anova":
        assert test.p_value is not None and test.alpha is not None
        statistic = "F = ∞" if test.statistic is None else f"F = {figures(test.statistic)}"
        df = " and ".join(str(d) for d in test.df)
        detail = f"{statistic} on {df} df, {p_text(test.p_value)}"
        alpha = f"{test.alpha:g}"
        if test.name == "regression":
            verdict = "significant" if test.passed else "not significant"
            return f"regression {verdict} ({detail}; needs p < {alpha})"
        verdict = "not significant" if test.passed else "significant"
        deviation = _DEVIATIONS.get(test.name, test.name)
        return f"{deviation} {verdict} ({detail}; needs p ≥ {alpha})"
    if test.method == "equivalence":
        of = f" for {test.preparation}" if test.preparation else ""
        margin = f"{short(test.margin_low or 0)}–{short(test.margin_high or 0)}"
        level = f"{short(100 * (test.confidence or 0), 4)} %"
        if test.lower is None or test.upper is None:
            interval = f"its {level} confidence interval is unbounded"
        else:
            interval = f"{level} confidence interval {figures(test.lower)}–{figures(test.upper)}"
        estimate = "" if test.estimate is None else f" {figures(test.estimate)}"
        where = "inside" if test.passed else "not inside"
        shown = "shown" if test.passed else "not shown"
        return (
            f"{test.name} {shown}{of}: {test.quantity}{estimate}, {interval}, {where} the "
            f"equivalence margin {margin}"
        )
    return f"{test.name} not tested ({test.note})"


def failed_tests_sentence(failed: Sequence[ValidityTest]) -> str:
    return "assay invalid: " + "; ".join(test_sentence(test) for test in failed)
