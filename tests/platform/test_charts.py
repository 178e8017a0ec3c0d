"""The SVG geometry helpers every picture shares (services.charts): pure, no database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services import charts


def test_a_vertical_scale_puts_low_values_at_the_bottom() -> None:
    y = charts.Scale(0.0, 10.0, 200.0, 20.0)
    assert (y(0.0), y(5.0), y(10.0)) == (200.0, 110.0, 20.0)
    assert charts.Scale(3.0, 3.0, 200.0, 20.0)(3.0) == 110.0  # one value: the middle


def test_padding_and_slots_and_paths() -> None:
    assert charts.padded(0.0, 100.0) == (-8.0, 108.0)
    assert charts.padded(5.0, 5.0) == (4.6, 5.4)  # a single value still gets room
    assert [charts.slot(i, 4, 0, 100) for i in range(4)] == [12.5, 37.5, 62.5, 87.5]
    assert charts.polyline([(1, 2), (3.5, 4)]) == "1,2 3.5,4"
    assert charts.short(2.05e11) == "2.05e+11" and charts.short(None) == ""


def test_ticks_are_round_numbers() -> None:
    assert charts.ticks(0, 400, 8) == [0, 50, 100, 150, 200, 250, 300, 350, 400]
    assert charts.ticks(28, 396, 8) == [50, 100, 150, 200, 250, 300, 350]
    assert charts.ticks(5, 5) == [5]


@given(
    st.floats(-1e9, 1e9),
    st.floats(1e-6, 1e9),
    st.integers(min_value=1, max_value=12),
)
def test_ticks_lie_inside_the_range(low: float, span: float, count: int) -> None:
    high = low + span
    found = charts.ticks(low, high, count)
    slack = span * 1e-9 + abs(low) * 1e-12  # far from zero: the spacing of floats
    assert found and all(low - slack <= t <= high + slack for t in found)
    assert len(found) <= 4 * count + 1
    assert found == sorted(found)
