"""The lot page's pictures: NTA size histogram, potency dose-response, sparklines.

Geometry only (the shared scaling lives in ``services.charts``); the numbers come
from the stored raw data and the current evaluation, never recomputed here except
the D-values, which the pure ``qc.evaluation.size_distribution`` computes. Server-
rendered SVG with classes, no inline style (strict CSP), each with a title, a
description and the numbers in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qc.evaluation.bioassay.data import TRANSFORMS
from qc.evaluation.size_distribution import (
    SizeBin,
    SizeDistributionError,
    SizeSummary,
    bins_from_raw,
    size_summary,
)
from qc.selectors import EvaluationLine, TrendPoint
from services import charts

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 38, 40
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 4


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    bin: SizeBin


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    label: str
    kind: str  # css class: mode, percentile
    label_y: float  # the mode's label above the D-values' row, so close ones never overlap


@dataclass(frozen=True, slots=True)
class Histogram:
    """The NTA size distribution of one result."""

    result_id: int
    test_code: str
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    summary: SizeSummary
    invalid: str = ""  # why the result is invalid (a failed run): drawn, but not counted

    @property
    def description(self) -> str:
        s = self.summary
        return (
            f"Histogram of the particles counted per size bin, {self.bars[0].bin.low_nm:g} to "
            f"{self.bars[-1].bin.high_nm:g} nm: mode {s.mode_nm:.0f} nm, D10 {s.d10_nm:.0f} nm, "
            f"D50 {s.d50_nm:.0f} nm, D90 {s.d90_nm:.0f} nm."
        )


#: the plot area, for the templates' axes
FRAME = {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP}
FRAME["bottom"] = HEIGHT - BOTTOM
#: what the lot page's picture templates need of the geometry
PICTURE_FRAME = {"frame": FRAME, "spark_width": SPARK_WIDTH, "spark_height": SPARK_HEIGHT}


def histogram(*, result_id: int, test_code: str, raw_data: Mapping[str, Any]) -> Histogram | None:
    """The histogram of a result's stored size distribution (None: none, or unusable)."""
    try:
        bins = bins_from_raw(raw_data)
        if not bins:
            return None
        summary = size_summary(bins)
    except SizeDistributionError:
        return None
    x = charts.Scale(bins[0].low_nm, bins[-1].high_nm, LEFT, WIDTH - RIGHT)
    top = max(b.count for b in bins)
    y = charts.Scale(0.0, top * 1.1, HEIGHT - BOTTOM, TOP)
    bars = tuple(
        Bar(
            x=x(b.low_nm),
            y=y(b.count),
            width=round(x(b.high_nm) - x(b.low_nm), 1),
            height=round(y(0.0) - y(b.count), 1),
            bin=b,
        )
        for b in bins
    )
    markers = (
        Marker(x(summary.mode_nm), f"mode {summary.mode_nm:.0f}", "mode", TOP - 22),
        Marker(x(summary.d10_nm), f"D10 {summary.d10_nm:.0f}", "percentile", TOP - 6),
        Marker(x(summary.d50_nm), f"D50 {summary.d50_nm:.0f}", "percentile", TOP - 6),
        Marker(x(summary.d90_nm), f"D90 {summary.d90_nm:.0f}", "percentile", TOP - 6),
    )
    return Histogram(
        result_id=result_id,
        test_code=test_code,
        bars=bars,
        markers=markers,
        x_ticks=tuple(Tick(x(v), f"{v:g}") for v in charts.ticks(x.low, x.high, 8)),
        y_ticks=tuple(Tick(y(v), f"{v:g}") for v in charts.ticks(0.0, top, 4)),
        summary=summary,
    )


# --- potency: the dose-response points and the fitted lines -------------------------


@dataclass(frozen=True, slots=True)
class CurvePoint:
    x: float
    y: float
    dose: float
    response: float


@dataclass(frozen=True, slots=True)
class Curve:
    preparation: str
    role: str  # reference or test: the css class
    points: tuple[CurvePoint, ...]
    fitted: str  # polyline points of the fitted line ("" when the assay gave none)
    equation: str


@dataclass(frozen=True, slots=True)
class Estimate:
    preparation: str
    potency: str
    limits: str  # "" when the confidence interval is unbounded or not reported


@dataclass(frozen=True, slots=True)
class DoseResponse:
    """One assay (a result) of a relative-potency line."""

    result_id: str
    line_name: str
    model: str
    y_label: str
    valid: bool
    problem: str
    curves: tuple[Curve, ...]
    estimates: tuple[Estimate, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]

    @property
    def description(self) -> str:
        said = "; ".join(
            f"{e.preparation}: {e.potency}{f' ({e.limits})' if e.limits else ''}"
            for e in self.estimates
        )
        preparations = ", ".join(f"{c.preparation} ({c.role})" for c in self.curves)
        return (
            f"Responses ({self.y_label}) against the natural log of the dose for "
            f"{preparations}, with the lines the {self.model} analysis fitted"
            f"{'; relative potency ' + said if said else ''}."
        )


def _fitted_y(curve: Mapping[str, Any], x: float) -> float | None:
    if curve.get("slope") is not None and curve.get("intercept") is not None:
        return float(curve["intercept"]) + float(curve["slope"]) * x
    keys = ("a", "d", "hill", "log_ec50")
    if all(curve.get(k) is not None for k in keys):
        a, d, hill, centre = (float(curve[k]) for k in keys)
        return d + (a - d) / (1 + math.exp(hill * (x - centre)))
    return None


def _equation(curve: Mapping[str, Any]) -> str:
    if curve.get("slope") is not None and curve.get("intercept") is not None:
        return f"y = {curve['intercept']:.4g} + {curve['slope']:.4g} ln(dose)"
    if curve.get("log_ec50") is not None:
        return f"4PL, EC50 {math.exp(float(curve['log_ec50'])):.4g}"
    return ""


def _percent(value: Any) -> str:
    return f"{float(value):.4g} %"


def dose_responses(line: EvaluationLine) -> list[DoseResponse]:
    """The assays a relative-potency line analysed, as the evaluation stored them."""
    stored = line.extra.get("potency") or {}
    found = []
    for assay in stored.get("assays") or ():
        curves = assay.get("curves") or ()
        transform = TRANSFORMS.get(str(assay.get("transform") or "none"), TRANSFORMS["none"])
        label, function = transform
        raw: list[tuple[Mapping[str, Any], list[tuple[float, float, float, float]]]] = []
        for curve in curves:
            pairs = []
            for dose, response in zip(
                curve.get("doses") or (), curve.get("responses") or (), strict=False
            ):
                try:
                    pairs.append((math.log(dose), function(response), dose, response))
                except (ValueError, ArithmeticError):
                    continue  # a point the analysis could not use either
            raw.append((curve, pairs))
        xs = [p[0] for _, pairs in raw for p in pairs]
        if not xs:
            continue
        fitted_ys = [
            y
            for curve, pairs in raw
            for y in (_fitted_y(curve, p[0]) for p in pairs)
            if y is not None
        ]
        x = charts.scale(xs, LEFT, WIDTH - RIGHT)
        y = charts.scale(
            [p[1] for _, pairs in raw for p in pairs] + fitted_ys, HEIGHT - BOTTOM, TOP
        )
        drawn = []
        for curve, pairs in raw:
            span = [p[0] for p in pairs]
            fitted = ""
            if span and _fitted_y(curve, span[0]) is not None:
                low, high = min(span), max(span)
                steps = 1 if curve.get("slope") is not None else 24
                along = [low + (high - low) * i / steps for i in range(steps + 1)]
                fitted = charts.polyline((x(v), y(_fitted_y(curve, v) or 0.0)) for v in along)
            drawn.append(
                Curve(
                    preparation=str(curve.get("preparation") or ""),
                    role="reference" if curve.get("role") == "reference" else "test",
                    points=tuple(CurvePoint(x(a), y(b), d, r) for a, b, d, r in pairs),
                    fitted=fitted,
                    equation=_equation(curve),
                )
            )
        doses = sorted({p[2] for _, pairs in raw for p in pairs})
        found.append(
            DoseResponse(
                result_id=str(assay.get("result_id") or ""),
                line_name=line.name,
                model="parallel-line" if assay.get("model") == "parallel_line" else "4PL",
                y_label=label,
                valid=bool(assay.get("valid")),
                problem=str(assay.get("problem") or ""),
                curves=tuple(drawn),
                estimates=tuple(
                    Estimate(
                        preparation=str(e.get("preparation") or ""),
                        potency=_percent(e["potency_percent"]),
                        limits=(
                            f"{float(e.get('confidence') or 0.95) * 100:g} % confidence limits "
                            f"{_percent(e['lower_percent'])}–{_percent(e['upper_percent'])}"
                            if e.get("lower_percent") is not None
                            and e.get("upper_percent") is not None
                            else ""
                        ),
                    )
                    for e in assay.get("estimates") or ()
                    if e.get("judged", True) and e.get("potency_percent") is not None
                ),
                x_ticks=tuple(Tick(x(math.log(d)), f"{d:g}") for d in doses),
                y_ticks=tuple(Tick(y(v), f"{v:g}") for v in charts.ticks(y.low, y.high, 5)),
            )
        )
    return found


# --- sparklines ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sparkline:
    test_code: str
    polyline: str
    here_x: float | None  # this lot's point, when it is one of them
    here_y: float | None
    points: tuple[TrendPoint, ...]

    @property
    def description(self) -> str:
        values = "; ".join(f"{p.lot_number} {p.text}" for p in self.points)
        return f"{self.test_code} of the product's last {len(self.points)} lots: {values}."


def sparkline(test_code: str, points: Sequence[TrendPoint], lot_number: str) -> Sparkline | None:
    """The line of ``points`` in a small box, this lot's point marked (None: < 2 points)."""
    if len(points) < 2:
        return None
    y = charts.scale(
        (float(p.value) for p in points), SPARK_HEIGHT - SPARK_PAD, SPARK_PAD, padding=0.0
    )
    coords = [
        (charts.slot(i, len(points), 0, SPARK_WIDTH), y(float(p.value)))
        for i, p in enumerate(points)
    ]
    here = next(
        (c for c, p in zip(coords, points, strict=True) if p.lot_number == lot_number), None
    )
    return Sparkline(
        test_code=test_code,
        polyline=charts.polyline(coords),
        here_x=here[0] if here else None,
        here_y=here[1] if here else None,
        points=tuple(points),
    )
