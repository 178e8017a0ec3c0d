"""D10/D50/D90 and the mode of a size histogram (qc.evaluation.size_distribution)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.evaluation.size_distribution import (
    SizeBin,
    SizeDistributionError,
    bins_from_raw,
    size_summary,
)


def _bins(edges: list[float], counts: list[float]) -> list[SizeBin]:
    return [SizeBin(lo, hi, c) for lo, hi, c in zip(edges, edges[1:], counts, strict=False)]


def test_worked_example_by_hand() -> None:
    # 10 particles: 1 in 0-10 nm, 2 in 10-20, 5 in 20-30, 2 in 30-40.
    # D10: 1 particle, reached at the top of the first bin: 10 nm.
    # D50: 5 particles; 3 lie below 20 nm, 2 more of the 5 in 20-30: 20 + 10 * 2/5 = 24 nm.
    # D90: 9 particles; 8 lie below 30 nm, 1 more of the 2 in 30-40: 30 + 10 * 1/2 = 35 nm.
    summary = size_summary(_bins([0, 10, 20, 30, 40], [1, 2, 5, 2]))
    assert (summary.d10_nm, summary.d50_nm, summary.d90_nm) == (10, 24, 35)
    assert summary.mode_nm == 25
    assert summary.total == 10


def test_mode_is_the_first_of_equal_bins_and_empty_bins_are_skipped() -> None:
    bins = _bins([0, 10, 20, 30, 40], [0, 4, 4, 0])
    summary = size_summary(bins)
    assert summary.mode_nm == 15
    assert summary.d10_nm == pytest.approx(12)  # not inside the empty first bin
    assert summary.d90_nm == pytest.approx(28)


@pytest.mark.parametrize(
    "bins",
    [
        [],
        _bins([0, 10, 20], [0, 0]),
        [SizeBin(0, 10, 1), SizeBin(11, 20, 1)],
        [SizeBin(0, 10, -1), SizeBin(10, 20, 3)],
        [SizeBin(10, 10, 1)],
        [SizeBin(0, 10, math.nan)],
    ],
)
def test_histograms_without_percentiles_are_refused(bins: list[SizeBin]) -> None:
    with pytest.raises(SizeDistributionError):
        size_summary(bins)


def test_raw_data_shape() -> None:
    raw = {"size_distribution": {"bins": [{"low_nm": 0, "high_nm": 10, "count": "3"}]}}
    assert bins_from_raw(raw) == [SizeBin(0, 10, 3)]
    assert bins_from_raw({"reference": []}) is None
    assert bins_from_raw(None) is None
    with pytest.raises(SizeDistributionError):
        bins_from_raw({"size_distribution": {"bins": [{"low_nm": 0}]}})


@st.composite
def histograms(draw: st.DrawFn) -> list[SizeBin]:
    n = draw(st.integers(min_value=1, max_value=40))
    start = draw(st.floats(min_value=0, max_value=500, allow_nan=False))
    widths = draw(st.lists(st.floats(0.5, 50), min_size=n, max_size=n))
    counts = draw(
        st.lists(st.just(0.0) | st.floats(1e-3, 1e12), min_size=n, max_size=n).filter(
            lambda cs: sum(cs) > 0
        )
    )
    edges = [start]
    for width in widths:
        edges.append(edges[-1] + width)
    return _bins(edges, counts)


@given(histograms())
def test_percentiles_are_ordered_and_inside_the_bins(bins: list[SizeBin]) -> None:
    s = size_summary(bins)
    low, high = bins[0].low_nm, bins[-1].high_nm
    assert low <= s.d10_nm <= s.d50_nm <= s.d90_nm <= high
    assert low <= s.mode_nm <= high


@given(histograms(), st.integers(min_value=-30, max_value=30))
def test_percentiles_do_not_depend_on_the_scale_of_the_counts(
    bins: list[SizeBin], exponent: int
) -> None:
    # Counts and concentrations (particles/mL) give the same sizes. A power of two
    # scales floats exactly, so the property is checked exactly, not "about".
    factor = 2.0**exponent
    scaled = [SizeBin(b.low_nm, b.high_nm, b.count * factor) for b in bins]
    ours, theirs = size_summary(bins), size_summary(scaled)
    assert (theirs.mode_nm, theirs.d10_nm, theirs.d50_nm, theirs.d90_nm) == (
        ours.mode_nm,
        ours.d10_nm,
        ours.d50_nm,
        ours.d90_nm,
    )
