"""The parallel four-parameter logistic (4PL), fitted with SciPy.

USP <1034> §3.5 and Ph. Eur. 5.3 §3.4: for sigmoid dose-response curves, with
x = ln(dose) and the stated response transformation::

    y = d + (a - d) / (1 + exp(b (x - c_k)))

a = response at zero dose, d = at infinite dose, b the slope factor (Hill
coefficient), c_k = ln EC50 of preparation k. The *restricted* model shares a, d and
b between the reference S and every test preparation T (parallel curves); then
ln potency of T = c_S - c_T. Fitted by least squares (``scipy.optimize.least_squares``,
Levenberg-Marquardt, analytic Jacobian, deterministic start values).

Validity, by the extra sum of squares (the ANOVA of nested models), against the
residual error s2 (within treatments when doses are replicated, else the residual of
the unrestricted model):

* regression: the restricted 4PL against preparation means only (3 df): significant;
* parallelism: the restricted against one 4PL per preparation (3(h - 1) df): not
  significant; or, with equivalence margins (USP <1032>), the (1 - 2 alpha)
  intervals of each slope ratio b_T / b_S and of the asymptote differences
  a_T - a_S, d_T - d_S (delta method, separate fits) inside the margins;
* fit: the separate 4PLs against the treatment means (lack of fit), when doses are
  replicated: not significant.

Confidence limits of ln potency by the delta method: c_S - c_T -/+ t se, with
se^2 = s2 (e_S - e_T)' (J'J)^-1 (e_S - e_T) from the restricted fit's Jacobian J.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from qc.evaluation.bioassay.data import AssayData, CurveError, Preparation
from qc.evaluation.bioassay.parallel_line import Settings
from qc.evaluation.bioassay.report import (
    AssayReport,
    FittedCurve,
    PotencyEstimate,
    ValidityTest,
    equivalence_test,
)
from qc.evaluation.bioassay.stats import f_sf, percent, t_quantile, t_two_sided
from qc.evaluation.bioassay.words import failed_tests_sentence

_NOISE = 1e-10


@dataclass(frozen=True, slots=True)
class _Fit:
    params: np.ndarray  # a, d, b, c_0 .. c_(h-1)
    rss: float
    jtj_inverse: np.ndarray | None


def _model(params: np.ndarray, x: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and Jacobian of the restricted model (shared a, d, b; c per group)."""
    a, d, b = params[0], params[1], params[2]
    c = params[3:][group]
    q = special.expit(-b * (x - c))  # 1 / (1 + exp(b (x - c)))
    prediction = d + (a - d) * q
    jacobian = np.zeros((x.size, params.size))
    slope_part = (a - d) * q * (1 - q)
    jacobian[:, 0] = q
    jacobian[:, 1] = 1 - q
    jacobian[:, 2] = -slope_part * (x - c)
    jacobian[np.arange(x.size), 3 + group] = slope_part * b
    return prediction, jacobian


def _fit(x: np.ndarray, y: np.ndarray, group: np.ndarray, start: np.ndarray) -> _Fit:
    def residuals(params: np.ndarray) -> np.ndarray:
        return _model(params, x, group)[0] - y

    def jacobian(params: np.ndarray) -> np.ndarray:
        return _model(params, x, group)[1]

    try:
        solution = optimize.least_squares(
            residuals, start, jac=jacobian, method="lm", xtol=1e-12, ftol=1e-12, max_nfev=2000
        )
    except (ValueError, FloatingPointError):
        raise CurveError("the four-parameter logistic could not be fitted") from None
    if not solution.success or not np.all(np.isfinite(solution.x)):
        raise CurveError("the four-parameter logistic fit did not converge")
    jac = jacobian(solution.x)
    jtj = jac.T @ jac
    inverse: np.ndarray | None
    try:
        inverse = np.linalg.inv(jtj)
    except np.linalg.LinAlgError:  # the doses do not determine every parameter
        inverse = None
    if inverse is not None and not (np.all(np.isfinite(inverse)) and np.all(np.diag(inverse) > 0)):
        inverse = None
    rss = float(np.sum(residuals(solution.x) ** 2))
    return _Fit(solution.x, rss, inverse)


def _start(preps: Sequence[Preparation]) -> np.ndarray:
    """Start values from the data: asymptotes beyond the extreme means, a linear slope."""
    means = []
    sxx = sxy = 0.0
    centres = []
    for prep in preps:
        by_dose: dict[float, list[float]] = {}
        for x, y in zip(prep.xs, prep.ys, strict=True):
            by_dose.setdefault(x, []).append(y)
        means += [sum(v) / len(v) for v in by_dose.values()]
        mean_x = sum(prep.xs) / len(prep.xs)
        mean_y = sum(prep.ys) / len(prep.ys)
        centres.append((mean_x, mean_y))
        for x, y in zip(prep.xs, prep.ys, strict=True):
            sxx += (x - mean_x) ** 2
            sxy += (x - mean_x) * (y - mean_y)
    low, high = min(means), max(means)
    spread = (high - low) or 1.0
    linear = sxy / sxx if sxx else 0.0
    if linear >= 0:
        a, d = low - 0.05 * spread, high + 0.05 * spread
    else:
        a, d = high + 0.05 * spread, low - 0.05 * spread
    mid = (a + d) / 2
    if linear == 0:
        linear = spread
    b = -4 * linear / (a - d)
    cs = [mean_x + (mid - mean_y) / linear for mean_x, mean_y in centres]
    return np.array([a, d, b, *cs], dtype=float)


def _anova(
    name: str, extra: float, df: int, s2: float, error_df: int, alpha: float, *, significant: bool
) -> ValidityTest:
    mean_square = max(extra, 0.0) / df
    statistic = 0.0 if mean_square == 0 else (math.inf if s2 == 0 else mean_square / s2)
    p = f_sf(statistic, df, error_df)
    return ValidityTest(
        name=name,
        method="anova",
        passed=p < alpha if significant else p >= alpha,
        statistic=statistic if math.isfinite(statistic) else None,
        df=(df, error_df),
        p_value=p,
        alpha=alpha,
    )


def _interval_test(
    quantity: str,
    preparation: str,
    estimate: float | None,
    se: float | None,
    t: float,
    low: float,
    high: float,
    level: float,
    *,
    log_scale: bool,
) -> ValidityTest:
    interval = None
    if estimate is not None and se is not None:
        if log_scale:  # a ratio: symmetric on the log scale
            centre = math.log(estimate)
            interval = (math.exp(centre - t * se), math.exp(centre + t * se))
        else:
            interval = (estimate - t * se, estimate + t * se)
    return equivalence_test(
        preparation=preparation,
        quantity=quantity,
        estimate=estimate,
        interval=interval,
        confidence=level,
        margin=(low, high),
    )


def analyse(data: AssayData, settings: Settings, *, result_id: str) -> AssayReport:
    """The parallel 4PL analysis of one assay (see the module docstring)."""
    # Overflow on absurd data ends as a CurveError or a failed fit, not as warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _analyse(data, settings, result_id=result_id)


def _analyse(data: AssayData, settings: Settings, *, result_id: str) -> AssayReport:
    preps = data.preparations
    for prep in preps:
        if prep.distinct_doses < settings.min_doses:
            raise CurveError(
                f"the {prep.name} curve has fewer than {settings.min_doses} distinct doses"
            )
    h = len(preps)
    x = np.array([v for prep in preps for v in prep.xs], dtype=float)
    y = np.array([v for prep in preps for v in prep.ys], dtype=float)
    group = np.array([k for k, prep in enumerate(preps) for _ in prep.xs], dtype=int)
    count = x.size
    total = float(np.sum((y - y.mean()) ** 2))
    noise = _NOISE * total

    treatments: dict[tuple[int, float], list[float]] = {}
    for k, prep in enumerate(preps):
        for xv, yv in zip(prep.xs, prep.ys, strict=True):
            treatments.setdefault((k, xv), []).append(yv)
    pure = sum(
        sum((v - sum(values) / len(values)) ** 2 for v in values) for values in treatments.values()
    )
    df_pure = count - len(treatments)
    null_rss = sum(float(np.sum((y[group == k] - y[group == k].mean()) ** 2)) for k in range(h))

    restricted = _fit(x, y, group, _start(preps))
    separate: list[_Fit] = []
    for k, prep in enumerate(preps):
        start = np.array([*restricted.params[:3], restricted.params[3 + k]])
        mask = group == k
        try:
            separate.append(_fit(x[mask], y[mask], np.zeros(int(mask.sum()), dtype=int), start))
        except CurveError:
            raise CurveError(f"the {prep.name} curve alone cannot be fitted by a 4PL") from None
    unrestricted_rss = sum(fit.rss for fit in separate)
    df_unrestricted = count - 4 * h
    if df_pure > 0:
        s2, error_df = (pure if pure > noise else 0.0) / df_pure, df_pure
    elif df_unrestricted > 0:
        rss = unrestricted_rss if unrestricted_rss > noise else 0.0
        s2, error_df = rss / df_unrestricted, df_unrestricted
    else:
        raise CurveError(
            "no degrees of freedom are left for the residual error: replicate the doses "
            "or test more doses"
        )

    def clean(ss: float) -> float:
        return ss if ss > noise else 0.0

    tests = [
        _anova(
            "regression",
            clean(null_rss - restricted.rss),
            3,
            s2,
            error_df,
            settings.alpha_regression,
            significant=True,
        )
    ]
    if settings.parallelism_anova:
        tests.append(
            _anova(
                "parallelism",
                clean(restricted.rss - unrestricted_rss),
                3 * (h - 1),
                s2,
                error_df,
                settings.alpha,
                significant=False,
            )
        )
    tests += _equivalence(preps, separate, s2, error_df, settings)
    df_fit = len(treatments) - 4 * h
    if df_pure > 0 and df_fit > 0:
        tests.append(
            _anova(
                "fit",
                clean(unrestricted_rss - pure),
                df_fit,
                s2,
                error_df,
                settings.alpha,
                significant=False,
            )
        )
    else:
        why = "no replicate responses" if df_pure <= 0 else "too few doses"
        tests.append(ValidityTest(name="fit", method="not_tested", passed=True, note=why))

    estimates = _estimates(data, restricted, s2, error_df, settings)
    a, d, b = (float(v) for v in restricted.params[:3])
    curves = tuple(
        FittedCurve(
            preparation=prep.name,
            role="reference" if k == 0 else "test",
            doses=prep.doses,
            responses=prep.responses,
            a=a,
            d=d,
            hill=b,
            log_ec50=float(restricted.params[3 + k]),
        )
        for k, prep in enumerate(preps)
    )
    failed = [test for test in tests if not test.passed]
    return AssayReport(
        result_id=result_id,
        model="four_parameter_logistic",
        design=settings.design,
        transform=settings.transform,
        valid=not failed,
        problem=failed_tests_sentence(failed) if failed else "",
        residual_df=error_df,
        residual_variance=s2,
        tests=tuple(tests),
        estimates=estimates,
        curves=curves,
    )


def _se(fit: _Fit, s2: float, index: int) -> float | None:
    if fit.jtj_inverse is None:
        return None
    return math.sqrt(max(s2 * float(fit.jtj_inverse[index, index]), 0.0))


def _equivalence(
    preps: Sequence[Preparation],
    separate: Sequence[_Fit],
    s2: float,
    error_df: int,
    settings: Settings,
) -> list[ValidityTest]:
    tests: list[ValidityTest] = []
    if settings.slope_ratio_margin is None and settings.asymptote_margin is None:
        return tests
    level = 1 - 2 * settings.alpha
    t = t_quantile(1 - settings.alpha, error_df)
    reference = separate[0]
    for prep, fit in zip(preps[1:], separate[1:], strict=True):
        if settings.slope_ratio_margin is not None:
            margin = settings.slope_ratio_margin
            b_t, b_s = float(fit.params[2]), float(reference.params[2])
            se_t, se_s = _se(fit, s2, 2), _se(reference, s2, 2)
            ratio = b_t / b_s if b_s else None
            se = None
            if se_t is not None and se_s is not None and ratio is not None and ratio > 0:
                se = math.sqrt((se_t / b_t) ** 2 + (se_s / b_s) ** 2)
            tests.append(
                _interval_test(
                    "slope ratio",
                    prep.name,
                    ratio,
                    se,
                    t,
                    1 / margin,
                    margin,
                    level,
                    log_scale=True,
                )
            )
        if settings.asymptote_margin is not None:
            margin = settings.asymptote_margin
            for index, quantity in (
                (0, "zero-dose asymptote difference"),
                (1, "infinite-dose asymptote difference"),
            ):
                se_t, se_s = _se(fit, s2, index), _se(reference, s2, index)
                se = None if se_t is None or se_s is None else math.hypot(se_t, se_s)
                difference = float(fit.params[index] - reference.params[index])
                tests.append(
                    _interval_test(
                        quantity,
                        prep.name,
                        difference,
                        se,
                        t,
                        -margin,
                        margin,
                        level,
                        log_scale=False,
                    )
                )
    return tests


def _estimates(
    data: AssayData, fit: _Fit, s2: float, error_df: int, settings: Settings
) -> tuple[PotencyEstimate, ...]:
    t = t_two_sided(settings.confidence, error_df)
    judged = set(data.judged)
    estimates = []
    for k, prep in enumerate(data.preparations[1:], start=1):
        log_potency = float(fit.params[3] - fit.params[3 + k])
        lower = upper = None
        if fit.jtj_inverse is not None:
            contrast = np.zeros(fit.params.size)
            contrast[3], contrast[3 + k] = 1.0, -1.0
            variance = s2 * float(contrast @ fit.jtj_inverse @ contrast)
            se = math.sqrt(max(variance, 0.0))
            lower = percent(log_potency - t * se)
            upper = percent(log_potency + t * se)
        estimates.append(
            PotencyEstimate(
                preparation=prep.name,
                potency_percent=percent(log_potency),
                lower_percent=lower,
                upper_percent=upper,
                confidence=settings.confidence,
                judged=prep.name in judged,
                log_potency=log_potency,
            )
        )
    return tuple(estimates)
