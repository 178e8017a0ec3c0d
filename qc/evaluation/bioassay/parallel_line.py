"""Parallel-line analysis, closed form: analysis of variance, validity, Fieller limits.

European Pharmacopoeia 5.3 §3.2 (and USP <1034>): the transformed response y is
linear in x = ln(dose) with one common slope b for the reference S and every test
preparation T. Least squares over all points of all preparations:

    b = sum_k Sxy_k / sum_k Sxx_k                      (within-preparation sums)
    M_T = (mean y_T - mean y_S) / b - (mean x_T - mean x_S)     (ln potency ratio)

The treatments (preparation x dose) are split by the analysis of variance into
preparations, regression, non-parallelism and non-linearity; the residual error is
the variation within treatments, less blocks (randomised block design) or rows and
columns (Latin square), all against one pooled error when several test
preparations share the standard (§3.2.4). Without replicate responses there is no
pure error: the deviations from linearity then form the residual error and
linearity cannot be tested.

Validity (§3.2.4): the regression must be significant (p < ``alpha_regression``),
non-parallelism and non-linearity not (p >= ``alpha``); or, where the method states
an equivalence margin r (USP <1032>), the (1 - 2 alpha) Fieller interval of each
slope ratio b_T / b_S lies inside [1/r, r].

Confidence limits (§3.2.5, Fieller's theorem), with s2 the residual mean square,
t Student's quantile on its degrees of freedom, and C = 1 / (1 - g)::

    g = t^2 s2 / (b^2 sum Sxx)
    m = (mean y_T - mean y_S) / b
    m_L, m_U = [m -/+ (t s / |b|) sqrt((1 - g) (1/n_T + 1/n_S) + m^2 / sum Sxx)] / (1 - g)

then minus (mean x_T - mean x_S), antilogged. Pure Python floats: no fitting
library is needed, and ten points cost microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qc.evaluation.bioassay.data import AssayData, CurveError, Preparation
from qc.evaluation.bioassay.report import (
    AssayReport,
    FittedCurve,
    PotencyEstimate,
    ValidityTest,
    equivalence_test,
)
from qc.evaluation.bioassay.stats import f_sf, percent, t_quantile, t_two_sided
from qc.evaluation.bioassay.words import failed_tests_sentence

#: sums of squares below this fraction of the total are rounding noise, not variation
_NOISE = 1e-10


_TWO_DOSES = ValidityTest(
    name="linearity", method="not_tested", passed=True, note="two doses per preparation"
)
_NO_REPLICATES = ValidityTest(
    name="linearity",
    method="not_tested",
    passed=True,
    note="no replicate responses: the deviations from linearity are the residual error",
)


@dataclass(frozen=True, slots=True)
class Settings:
    """How a method analyses its assays (from the spec line's parameters)."""

    design: str = "completely_randomised"
    transform: str = "none"
    confidence: float = 0.95
    alpha: float = 0.05
    alpha_regression: float = 0.05
    parallelism_anova: bool = True
    slope_ratio_margin: float | None = None
    asymptote_margin: float | None = None
    min_doses: int = 2


@dataclass(slots=True)
class _Sums:
    """One preparation: size, means, and sums of squares and products about its means.

    (Not frozen: built for every assay, and a frozen dataclass costs a microsecond.)

    ``between`` is the sum over its doses of n (mean y at the dose - mean y)^2, and
    ``syy`` the total sum of squares of y about the preparation's mean.
    """

    n: int
    mean_x: float
    mean_y: float
    sxx: float
    sxy: float
    syy: float
    between: float
    doses: int


def _sums(prep: Preparation) -> _Sums:
    xs, ys = prep.xs, prep.ys
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sxy = syy = 0.0
    by_dose: dict[float, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        dx = x - mean_x
        dy = y - mean_y
        sxx += dx * dx
        sxy += dx * dy
        syy += dy * dy
        group = by_dose.get(x)
        if group is None:
            by_dose[x] = [1.0, dy]
        else:
            group[0] += 1
            group[1] += dy
    between = 0.0
    for count, total in by_dose.values():
        between += total * total / count
    return _Sums(n, mean_x, mean_y, sxx, sxy, syy, between, len(by_dose))


def _design_effects(
    data: AssayData, design: str, treatments: int, grand: float
) -> tuple[float, int]:
    """(sum of squares, df) of blocks, or of rows and columns, in a balanced design."""
    if design == "completely_randomised":
        return 0.0, 0
    factors = 1 if design == "randomised_block" else 2
    effects, df = 0.0, 0
    for position in range(factors):
        members: dict[str, set[tuple[int, float]]] = {}
        sizes: dict[str, int] = {}
        totals: dict[str, float] = {}
        for k, prep in enumerate(data.preparations):
            for x, y, labels in zip(prep.xs, prep.ys, prep.labels, strict=True):
                label = labels[position]
                members.setdefault(label, set()).add((k, x))
                sizes[label] = sizes.get(label, 0) + 1
                totals[label] = totals.get(label, 0.0) + y
        what = ("block", "row", "column")[position + (factors - 1)]
        name = design.replace("_", " ")
        if len(members) < 2:
            raise CurveError(f"the {name} design needs at least two {what}s")
        for label in members:
            if sizes[label] != treatments or len(members[label]) != treatments:
                raise CurveError(
                    f"{what} {label} does not hold every treatment exactly once "
                    f"({sizes[label]} points for {treatments} treatments): the {name} "
                    "design needs complete data"
                )
        if design == "latin_square" and len(members) != treatments:
            raise CurveError(
                f"a Latin square of {treatments} treatments needs {treatments} {what}s, "
                f"not {len(members)}"
            )
        effects += sum(treatments * (t / treatments - grand) ** 2 for t in totals.values())
        df += len(members) - 1
    return effects, df


def _f_test(
    name: str, ss: float, df: int, s2: float, error_df: int, alpha: float, *, significant: bool
) -> ValidityTest:
    """An F test; ``significant`` says which outcome passes (regression: significant)."""
    mean_square = ss / df
    if mean_square == 0:
        statistic = 0.0
    elif s2 == 0:
        statistic = math.inf
    else:
        statistic = mean_square / s2
    p = f_sf(statistic, df, error_df)
    passed = p < alpha if significant else p >= alpha
    return ValidityTest(
        name=name,
        method="anova",
        passed=passed,
        statistic=statistic if math.isfinite(statistic) else None,
        df=(df, error_df),
        p_value=p,
        alpha=alpha,
    )


def _fieller(
    a: float, b: float, v11: float, v22: float, s2: float, t: float
) -> tuple[float, float, float] | None:
    """Fieller limits of a / b (independent estimates, variances s2 v11 and s2 v22), and g."""
    if b == 0:
        return None
    g = t * t * s2 * v22 / (b * b)
    if g >= 1:
        return None
    m = a / b
    half = t * math.sqrt(s2) / abs(b) * math.sqrt((1 - g) * v11 + m * m * v22)
    return (m - half) / (1 - g), (m + half) / (1 - g), g


def _slope_ratio_test(
    test: Preparation,
    sums: _Sums,
    reference: _Sums,
    s2: float,
    error_df: int,
    settings: Settings,
) -> ValidityTest:
    margin = settings.slope_ratio_margin
    assert margin is not None
    ratio = sums.sxy / sums.sxx / (reference.sxy / reference.sxx) if reference.sxy else None
    limits = _fieller(
        sums.sxy / sums.sxx,
        reference.sxy / reference.sxx,
        1 / sums.sxx,
        1 / reference.sxx,
        s2,
        t_quantile(1 - settings.alpha, error_df),
    )
    return equivalence_test(
        preparation=test.name,
        quantity="slope ratio",
        estimate=ratio,
        interval=None if limits is None or ratio is None else (limits[0], limits[1]),
        confidence=1 - 2 * settings.alpha,
        margin=(1 / margin, margin),
    )


def analyse(data: AssayData, settings: Settings, *, result_id: str) -> AssayReport:
    """The whole parallel-line analysis of one assay (see the module docstring)."""
    preps = data.preparations
    sums = [_sums(prep) for prep in preps]
    h = len(preps)
    count = treatments = 0
    weighted = sxx = sxy = separate = between = within = 0.0
    for prep, s in zip(preps, sums, strict=True):
        if s.doses < settings.min_doses:
            raise CurveError(
                f"the {prep.name} curve has fewer than {settings.min_doses} distinct doses"
            )
        count += s.n
        treatments += s.doses
        weighted += s.mean_y * s.n
        sxx += s.sxx
        sxy += s.sxy
        separate += s.sxy * s.sxy / s.sxx
        between += s.between
        within += s.syy
    grand = weighted / count
    ss_preparations = 0.0
    for s in sums:
        ss_preparations += s.n * (s.mean_y - grand) ** 2
    total = ss_preparations + within
    slope = sxy / sxx
    noise = _NOISE * total

    def clean(ss: float) -> float:
        return ss if ss > noise else 0.0

    ss_regression = clean(slope * sxy)
    ss_nonparallel = clean(separate - slope * sxy)
    ss_nonlinear = clean(between - separate)
    df_nonlinear = treatments - 2 * h
    effects, df_effects = _design_effects(data, settings.design, treatments, grand)
    ss_error = clean(within - between - effects)
    df_error = count - treatments - df_effects
    pure_error = df_error > 0
    if not pure_error:
        if df_nonlinear <= 0:
            raise CurveError(
                "no degrees of freedom are left for the residual error: replicate the "
                "doses or test more doses"
            )
        ss_error, df_error = ss_nonlinear, df_nonlinear
    s2 = ss_error / df_error

    tests = [
        _f_test(
            "regression",
            ss_regression,
            1,
            s2,
            df_error,
            settings.alpha_regression,
            significant=True,
        )
    ]
    if settings.parallelism_anova:
        tests.append(
            _f_test(
                "parallelism",
                ss_nonparallel,
                h - 1,
                s2,
                df_error,
                settings.alpha,
                significant=False,
            )
        )
    if settings.slope_ratio_margin is not None:
        tests += [
            _slope_ratio_test(prep, s, sums[0], s2, df_error, settings)
            for prep, s in zip(preps[1:], sums[1:], strict=True)
        ]
    if pure_error and df_nonlinear > 0:
        tests.append(
            _f_test(
                "linearity",
                ss_nonlinear,
                df_nonlinear,
                s2,
                df_error,
                settings.alpha,
                significant=False,
            )
        )
    else:
        tests.append(_TWO_DOSES if df_nonlinear <= 0 else _NO_REPLICATES)

    estimates = _estimates(data, sums, slope, sxx, s2, df_error, settings) if slope else ()
    curves = tuple(
        FittedCurve(
            preparation=prep.name,
            role="reference" if k == 0 else "test",
            doses=prep.doses,
            responses=prep.responses,
            intercept=s.mean_y - slope * s.mean_x,
            slope=slope,
        )
        for k, (prep, s) in enumerate(zip(preps, sums, strict=True))
    )
    failed = [test for test in tests if not test.passed]
    return AssayReport(
        result_id=result_id,
        model="parallel_line",
        design=settings.design,
        transform=settings.transform,
        valid=not failed and bool(estimates),
        problem=failed_tests_sentence(failed) if failed else ("" if estimates else "no slope"),
        residual_df=df_error,
        residual_variance=s2,
        tests=tuple(tests),
        estimates=estimates,
        curves=curves,
    )


def _estimates(
    data: AssayData,
    sums: Sequence[_Sums],
    slope: float,
    sxx: float,
    s2: float,
    df_error: int,
    settings: Settings,
) -> tuple[PotencyEstimate, ...]:
    reference = sums[0]
    t = t_two_sided(settings.confidence, df_error)
    judged = set(data.judged)
    estimates = []
    for prep, s in zip(data.preparations[1:], sums[1:], strict=True):
        shift = s.mean_x - reference.mean_x
        difference = s.mean_y - reference.mean_y
        log_potency = difference / slope - shift
        limits = _fieller(difference, slope, 1 / s.n + 1 / reference.n, 1 / sxx, s2, t)
        lower = upper = c = None
        if limits is not None:
            low, high, g = limits
            lower, upper, c = percent(low - shift), percent(high - shift), 1 / (1 - g)
        estimates.append(
            PotencyEstimate(
                preparation=prep.name,
                potency_percent=percent(log_potency),
                lower_percent=lower,
                upper_percent=upper,
                confidence=settings.confidence,
                judged=prep.name in judged,
                log_potency=log_potency,
                c=c,
            )
        )
    return tuple(estimates)
