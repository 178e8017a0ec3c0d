"""The control-chart pages: geometry of the server-rendered SVG (no script, no inline
style: strict CSP) and the form QA signs the limits with."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from qc.selectors import ChartPoint, ControlChart
from releases.ui.forms import SignatureForm
from services import charts

WIDTH, I_HEIGHT, MR_HEIGHT = 900, 320, 160
LEFT, RIGHT, TOP, BOTTOM = 130, 20, 16, 28


class BaselineForm(SignatureForm):
    """QA chooses the baseline lots, gives a reason and signs (policy action control-baseline)."""

    reason_label = "Reason for this baseline"
    reason_help = "Why these lots represent the process in control; printed on the manifest."
    lots = forms.MultipleChoiceField(
        label="Baseline lots", widget=forms.CheckboxSelectMultiple, choices=()
    )
    field_order = ["lots", "reason", "password"]

    def __init__(self, *args: Any, lots: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lots"].choices = [(n, n) for n in lots]  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict[str, Any]:
        return {**super().service_kwargs(), "lot_numbers": list(self.cleaned_data["lots"])}


@dataclass(frozen=True)
class Line:
    y: float
    label: str
    kind: str  # css class: spec, alert, control, centre


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    point: ChartPoint
    flagged: bool
    label: str


@dataclass(frozen=True)
class Panel:
    height: int
    lines: list[Line]
    dots: list[Dot]
    polyline: str
    ticks: list[tuple[float, str]]


def _scale(low: float, high: float, height: int) -> charts.Scale:
    low, high = charts.padded(low, high)
    return charts.Scale(low, high, height - BOTTOM, TOP)


def _x(index: int, count: int) -> float:
    return charts.slot(index, count, LEFT, WIDTH - RIGHT)


def _n(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _panel(
    values: list[float | None],
    points: tuple[ChartPoint, ...],
    lines: list[tuple[float | None, str, str]],
    height: int,
    flagged: list[bool],
    labels: list[str],
) -> Panel:
    known = [v for v in values if v is not None] + [v for v, _, _ in lines if v is not None]
    y = _scale(min(known, default=0.0), max(known, default=1.0), height)
    dots = [
        Dot(_x(i, len(points)), y(v), p, flagged[i], labels[i])
        for i, (v, p) in enumerate(zip(values, points, strict=True))
        if v is not None
    ]
    return Panel(
        height=height,
        lines=[Line(y(v), label, kind) for v, label, kind in lines if v is not None],
        dots=dots,
        polyline=charts.polyline((d.x, d.y) for d in dots),
        ticks=[(d.x, d.point.lot_number[-3:]) for d in dots],
    )


_short = charts.short


def chart_panels(chart: ControlChart) -> tuple[Panel, Panel]:
    """The individuals panel and the moving-range panel of ``chart``."""
    b, spec = chart.baseline, chart.spec
    lines: list[tuple[float | None, str, str]] = [
        (_n(spec.high), f"spec max {_short(_n(spec.high))}", "spec"),
        (_n(spec.low), f"spec min {_short(_n(spec.low))}", "spec"),
        (_n(spec.alert_high), f"alert {_short(_n(spec.alert_high))}", "alert"),
        (_n(spec.alert_low), f"alert {_short(_n(spec.alert_low))}", "alert"),
    ]
    mr_lines: list[tuple[float | None, str, str]] = []
    if b is not None:
        lines += [
            (_n(b.ucl), f"UCL {_short(_n(b.ucl))}", "control"),
            (_n(b.centre), f"CL {_short(_n(b.centre))}", "centre"),
            (_n(b.lcl), f"LCL {_short(_n(b.lcl))}", "control"),
        ]
        mr_lines = [
            (_n(b.mr_ucl), f"UCL {_short(_n(b.mr_ucl))}", "control"),
            (_n(b.mr_bar), f"MR̄ {_short(_n(b.mr_bar))}", "centre"),
        ]
    points = chart.points
    individuals = _panel(
        [float(p.value) for p in points],
        points,
        lines,
        I_HEIGHT,
        [bool(p.rules) for p in points],
        [",".join(str(int(r)) for r in p.rules) for p in points],
    )
    ranges = _panel(
        [_n(p.moving_range) for p in points],
        points,
        mr_lines,
        MR_HEIGHT,
        [p.beyond_mr_ucl for p in points],
        ["MR" if p.beyond_mr_ucl else "" for p in points],
    )
    return individuals, ranges
