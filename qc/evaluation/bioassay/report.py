"""What a potency line keeps of each assay: plain values, ready for JSON.

These dataclasses travel in :attr:`qc.evaluation.types.LineEvaluation.potency` and
are stored by ``dataclasses.asdict`` in ``Evaluation.lines``: every number is a
Python ``float`` (finite) or ``int``, every text a ``str``; no numpy scalars, no
Decimals. They are what a QA officer and an auditor see of the statistics (Ph. Eur.
5.3 asks that validity tests and confidence limits be reported with the estimate)
and what a client needs to plot the fitted curves through the points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidityTest:
    """One validity test of an assay (Ph. Eur. 5.3 §3.2.4; USP <1032>/<1034>).

    ``method`` is ``"anova"`` (an F test of the analysis of variance: ``statistic``,
    ``df`` and ``p_value`` at significance level ``alpha``) or ``"equivalence"`` (the
    ``confidence`` interval of ``quantity`` must lie inside ``margin_low`` to
    ``margin_high``). ``preparation`` names the test preparation compared with the
    reference, when the test is per preparation.
    """

    name: str
    method: str
    passed: bool
    statistic: float | None = None
    df: tuple[int, ...] = ()
    p_value: float | None = None
    alpha: float | None = None
    preparation: str = ""
    quantity: str = ""
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    confidence: float | None = None
    margin_low: float | None = None
    margin_high: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PotencyEstimate:
    """The potency of one test preparation relative to the reference, in percent.

    ``lower_percent``/``upper_percent`` are the ``confidence`` limits (Fieller's
    theorem for parallel lines; the delta method on log potency for the 4PL); None
    when the interval is unbounded. ``judged`` says whether the preparation belongs
    to the lot (other preparations of the plate only share the residual error).
    ``log_potency`` (natural log) and ``c`` (Ph. Eur. C = 1/(1 - g)) feed the
    combination of independent assays (Ph. Eur. 5.3 §6).
    """

    preparation: str
    potency_percent: float
    lower_percent: float | None
    upper_percent: float | None
    confidence: float
    judged: bool = True
    log_potency: float = 0.0
    c: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedCurve:
    """A preparation's points and fitted curve, for plotting.

    x = ln(dose), y = the transformed response (the assay's ``transform``).
    Parallel lines: y = ``intercept`` + ``slope`` x. Four-parameter logistic
    (USP <1034>): y = ``d`` + (``a`` - ``d``) / (1 + exp(``hill`` (x - ``log_ec50``))),
    ``a`` the response at zero dose, ``d`` at infinite dose, ``log_ec50`` = ln of the
    dose giving the mid response. ``doses`` and ``responses`` are the points as
    posted (untransformed), pair by pair.
    """

    preparation: str
    role: str
    doses: tuple[float, ...]
    responses: tuple[float, ...]
    intercept: float | None = None
    slope: float | None = None
    a: float | None = None
    d: float | None = None
    hill: float | None = None
    log_ec50: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssayReport:
    """One result's assay: model, validity tests, estimates and curves."""

    result_id: str
    model: str
    design: str
    transform: str
    valid: bool
    problem: str = ""
    residual_df: int | None = None
    residual_variance: float | None = None
    tests: tuple[ValidityTest, ...] = ()
    estimates: tuple[PotencyEstimate, ...] = ()
    curves: tuple[FittedCurve, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CombinedPotency:
    """Independent assays combined (Ph. Eur. 5.3 §6.2): weighted mean of log potency.

    ``chi_square``/``chi_square_df``/``p_value`` are the homogeneity test (§6.2.2);
    ``df`` is the sum of the assays' residual degrees of freedom (§6.2.3).
    """

    result_ids: tuple[str, ...]
    potency_percent: float | None
    lower_percent: float | None
    upper_percent: float | None
    confidence: float
    df: int
    chi_square: float
    chi_square_df: int
    p_value: float
    homogeneous: bool
    weights: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PotencyReport:
    """Everything a relative-potency line computed, per result and combined."""

    assays: tuple[AssayReport, ...] = ()
    combination: CombinedPotency | None = None


def equivalence_test(
    *,
    preparation: str,
    quantity: str,
    estimate: float | None,
    interval: tuple[float, float] | None,
    confidence: float,
    margin: tuple[float, float],
) -> ValidityTest:
    """Parallelism by equivalence (USP <1032>): the interval lies inside the margin."""
    low, high = margin
    passed = interval is not None and low <= interval[0] and interval[1] <= high
    return ValidityTest(
        name="parallelism",
        method="equivalence",
        passed=passed,
        preparation=preparation,
        quantity=quantity,
        estimate=estimate,
        lower=None if interval is None else interval[0],
        upper=None if interval is None else interval[1],
        confidence=confidence,
        margin_low=low,
        margin_high=high,
        note="the interval is unbounded" if interval is None else "",
    )
