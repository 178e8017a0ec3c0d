"""Percentile sizes of a particle size distribution (NTA, TRPS): D10, D50, D90, mode.

Pure: plain numbers in, plain numbers out, no ORM. A distribution is a histogram of
contiguous bins (``low_nm`` to ``high_nm``) with the particles counted (or the
concentration measured) in each. Dx is the size below which x % of the particles
lie, read from the cumulative distribution by linear interpolation inside the bin
where the cumulative fraction reaches x (ISO 9276-2 for histograms; MISEV2023 asks
that EV size be reported as a distribution, not a single number). The mode is the
centre of the most populated bin (the first one on a tie).

The shape in a result's ``raw_data``::

    {"size_distribution": {"bins": [{"low_nm": 30, "high_nm": 35, "count": 1.2e8}, ...]}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from math import isfinite
from typing import Any, Final

RAW_DATA_KEY: Final = "size_distribution"
PERCENTILES: Final = (10, 50, 90)


class SizeDistributionError(ValueError):
    """A histogram that has no percentiles (empty, gaps, negative counts...)."""


@dataclass(frozen=True, slots=True)
class SizeBin:
    low_nm: float
    high_nm: float
    count: float

    @property
    def centre_nm(self) -> float:
        return (self.low_nm + self.high_nm) / 2


@dataclass(frozen=True, slots=True)
class SizeSummary:
    """The distribution's mode and D10/D50/D90 (nm), and the total it was read from."""

    mode_nm: float
    d10_nm: float
    d50_nm: float
    d90_nm: float
    total: float


def _checked(bins: Sequence[SizeBin]) -> None:
    if not bins:
        raise SizeDistributionError("the distribution has no bins")
    for before, after in pairwise(bins):
        if after.low_nm != before.high_nm:
            raise SizeDistributionError(
                f"bins are not contiguous: {before.high_nm:g} nm then {after.low_nm:g} nm"
            )
    for b in bins:
        if not all(isfinite(v) for v in (b.low_nm, b.high_nm, b.count)):
            raise SizeDistributionError("a bin holds a number that is not finite")
        if b.high_nm <= b.low_nm:
            raise SizeDistributionError(f"bin {b.low_nm:g}-{b.high_nm:g} nm has no width")
        if b.count < 0:
            raise SizeDistributionError(f"bin {b.low_nm:g}-{b.high_nm:g} nm has a negative count")
    if sum(b.count for b in bins) <= 0:
        raise SizeDistributionError("the distribution counts no particle")


def percentile_size(bins: Sequence[SizeBin], percent: float) -> float:
    """The size (nm) below which ``percent`` % of the particles lie (0 < percent < 100)."""
    _checked(bins)
    if not 0 < percent < 100:
        raise SizeDistributionError("a percentile lies strictly between 0 and 100")
    total = sum(b.count for b in bins)
    target = total * percent / 100
    below = 0.0
    for b in bins:
        if b.count > 0 and below + b.count >= target:
            fraction = min(max((target - below) / b.count, 0.0), 1.0)
            return b.low_nm + fraction * (b.high_nm - b.low_nm)
        below += b.count
    # Rounding left the target a hair above the total: the top of the last populated bin.
    return next(b.high_nm for b in reversed(bins) if b.count > 0)


def size_summary(bins: Sequence[SizeBin]) -> SizeSummary:
    _checked(bins)
    mode = max(bins, key=lambda b: b.count)  # max() keeps the first of equal counts
    d10, d50, d90 = (percentile_size(bins, p) for p in PERCENTILES)
    return SizeSummary(
        mode_nm=mode.centre_nm,
        d10_nm=d10,
        d50_nm=d50,
        d90_nm=d90,
        total=sum(b.count for b in bins),
    )


def bins_from_raw(raw_data: Mapping[str, Any] | None) -> list[SizeBin] | None:
    """The histogram a result's ``raw_data`` carries, or None when it carries none."""
    if not raw_data or not isinstance(raw_data.get(RAW_DATA_KEY), Mapping):
        return None
    rows = raw_data[RAW_DATA_KEY].get("bins")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise SizeDistributionError("'size_distribution' needs a list of 'bins'")
    try:
        return [
            SizeBin(float(row["low_nm"]), float(row["high_nm"]), float(row["count"]))
            for row in rows
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise SizeDistributionError(
            "each bin needs numeric 'low_nm', 'high_nm' and 'count'"
        ) from exc
