"""Combining independent assays of one preparation (Ph. Eur. 5.3 §6.2).

Each assay i gives a log potency M_i (natural log) and confidence limits whose
log-width is L_i; its weight is W_i = 4 t_i^2 / L_i^2, t_i Student's quantile on the
assay's residual degrees of freedom at its confidence level (§6.2.1). Before
combining, homogeneity (§6.2.2)::

    chi2 = sum W_i (M_i - M)^2,  n - 1 degrees of freedom,  M = sum W_i M_i / sum W_i

The weighted mean M has standard error sqrt(1 / sum W_i) and limits M -/+ t se, t on
the sum of the assays' degrees of freedom (§6.2.3); antilogged, a weighted
geometric mean potency with its limits.

§6.2 conditions, checked by the caller: independent assays, C = 1/(1 - g) below 1.1
in each, at least 6 residual degrees of freedom in each, and homogeneity. When they
do not hold the weighted combination cannot be used; §6.3 offers estimates that
serve as an assumed potency for further assays, not as a release result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qc.evaluation.bioassay.report import CombinedPotency
from qc.evaluation.bioassay.stats import chi2_sf, t_two_sided


@dataclass(frozen=True, slots=True)
class AssayEstimate:
    """One assay's estimate as §6.2 needs it: percent potency, limits, residual df."""

    result_id: str
    potency_percent: float
    lower_percent: float
    upper_percent: float
    df: int
    confidence: float


def weight(estimate: AssayEstimate) -> float:
    """W = 4 t^2 / L^2 (§6.2.1)."""
    width = math.log(estimate.upper_percent) - math.log(estimate.lower_percent)
    t = t_two_sided(estimate.confidence, estimate.df)
    return math.inf if width == 0 else 4 * t * t / (width * width)


def combine(
    estimates: Sequence[AssayEstimate], *, confidence: float, alpha: float
) -> CombinedPotency:
    """The §6.2 weighted combination, its homogeneity test and limits."""
    weights = [weight(e) for e in estimates]
    logs = [math.log(e.potency_percent) for e in estimates]
    ids = tuple(e.result_id for e in estimates)
    df = sum(e.df for e in estimates)
    if any(math.isinf(w) for w in weights):
        # An assay without error cannot be weighted: nothing can be combined honestly.
        return _no_error(ids, confidence, df)
    total = sum(weights)
    mean = sum(w * m for w, m in zip(weights, logs, strict=True)) / total
    chi_square = sum(w * (m - mean) ** 2 for w, m in zip(weights, logs, strict=True))
    p = chi2_sf(chi_square, len(estimates) - 1)
    half = t_two_sided(confidence, df) * math.sqrt(1 / total)
    return CombinedPotency(
        result_ids=ids,
        potency_percent=math.exp(mean),
        lower_percent=math.exp(mean - half),
        upper_percent=math.exp(mean + half),
        confidence=confidence,
        df=df,
        chi_square=chi_square,
        chi_square_df=len(estimates) - 1,
        p_value=p,
        homogeneous=p >= alpha,
        weights=tuple(weights),
    )


def _no_error(ids: tuple[str, ...], confidence: float, df: int) -> CombinedPotency:
    return CombinedPotency(
        result_ids=ids,
        potency_percent=None,
        lower_percent=None,
        upper_percent=None,
        confidence=confidence,
        df=df,
        chi_square=0.0,
        chi_square_df=len(ids) - 1,
        p_value=0.0,
        homogeneous=False,
        weights=(),
    )
