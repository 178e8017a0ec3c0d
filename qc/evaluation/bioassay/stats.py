"""The distributions the bioassay statistics need, from SciPy.

``scipy.special`` holds the same F, t and chi-square distribution functions that
``scipy.stats.f`` / ``t`` / ``chi2`` wrap, without the per-call overhead of the
distribution objects (a microsecond instead of tens): the engine evaluates
thousands of lots, so it calls them directly. Quantiles depend only on the
degrees of freedom and the level, so they are cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy import special

from qc.evaluation.bioassay.data import CurveError


def f_sf(statistic: float, df_num: int, df_den: int) -> float:
    """P(F >= statistic) for an F(df_num, df_den) variable (the ANOVA p value)."""
    if math.isinf(statistic):
        return 0.0
    if statistic <= 0:
        return 1.0
    return float(special.fdtrc(df_num, df_den, statistic))


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for a chi-square variable with ``df`` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    return float(special.chdtrc(df, statistic))


@lru_cache(maxsize=512)
def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(special.stdtrit(df, probability))


def t_two_sided(confidence: float, df: int) -> float:
    """t for a two-sided ``confidence`` interval (0.95 -> the 0.975 quantile)."""
    return t_quantile(0.5 + confidence / 2, df)


def percent(log_potency: float) -> float:
    """100 exp(ln potency), refused when it leaves the range a float can hold."""
    try:
        value = 100 * math.exp(log_potency)
    except OverflowError:
        value = math.inf
    if not 0 < value < math.inf:
        raise CurveError("the potency estimate is out of range")
    return value
