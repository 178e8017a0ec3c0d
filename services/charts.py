"""Geometry of the server-rendered SVG pictures (control charts, histograms, curves,
sparklines): pure scaling and path helpers, no Django, no I/O.

The pages draw SVG on the server so that strict CSP holds (no script, no inline
style: the templates give classes, the stylesheet colours them) and so that every
picture has its numbers in the page for a data-table fallback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: room kept above and below the data, as a fraction of its span
PADDING = 0.08


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear map of data values ``low``..``high`` onto pixels ``start``..``end``.

    For a vertical axis ``start`` is the bottom pixel (SVG y grows downwards)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        if span == 0:  # one value only: the middle of the axis
            return round((self.start + self.end) / 2, 1)
        return round(self.start + (value - self.low) / span * (self.end - self.start), 1)


def padded(low: float, high: float, padding: float = PADDING) -> tuple[float, float]:
    """``low``..``high`` widened by ``padding`` of the span (a single value gets room too)."""
    span = (high - low) or abs(high) or 1.0
    return low - span * padding, high + span * padding


def scale(values: Iterable[float], start: float, end: float, *, padding: float = PADDING) -> Scale:
    """The scale that fits every one of ``values`` (none: 0..1) with room around them."""
    known = list(values)
    low, high = padded(min(known, default=0.0), max(known, default=1.0), padding)
    return Scale(low, high, start, end)


def slot(index: int, count: int, start: float, end: float) -> float:
    """The centre of slot ``index`` of ``count`` equal slots between ``start`` and ``end``."""
    return round(start + (end - start) * (index + 0.5) / max(count, 1), 1)


def polyline(points: Iterable[tuple[float, float]]) -> str:
    """The ``points`` attribute of an SVG polyline."""
    return " ".join(f"{x},{y}" for x, y in points)


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) inside ``low``..``high``."""
    if not high > low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.ceil(low / step), math.floor(high / step)
    # Integer steps (no running sum) and a cap: far from zero a float step can be
    # smaller than the spacing of floats there.
    return [round(i * step, 12) for i in range(first, min(last, first + 4 * count) + 1)] or [low]


def short(value: float | None, digits: int = 4) -> str:
    """A number for a label: ``digits`` significant figures, nothing for None."""
    return "" if value is None else f"{value:.{digits}g}"
