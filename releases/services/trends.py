"""Out-of-trend notices: a lot whose value breaks a Nelson rule against the signed
control limits (continued process verification, FDA PV guidance 2011, stage 3).

Judged when a lot's evaluation is stored, and for every lot after the baseline
when QA signs new limits.  A notice is an investigation of kind "control rule":
it joins the lot's review by exception, QA is notified, and QA closes it as
assessed.  It never blocks a release (the value is within specification; the
process is what is questioned).  One notice per result: re-evaluations and
re-signings never open a second one.
"""

from __future__ import annotations

from qc import hooks
from qc.models import ControlBaseline, Lot
from qc.selectors import ChartPoint, ControlChart, control_baselines_current, control_chart
from releases.models import Investigation, InvestigationKind
from releases.services.investigations import investigation_open
from services.audit.services import Actor

_TRENDING = Actor.system("trend review")


def out_of_trend_summary(chart: ControlChart, point: ChartPoint) -> str:
    baseline = chart.baseline
    assert baseline is not None
    rules = "; ".join(f"Nelson rule {int(rule)}: {rule.words}" for rule in point.rules)
    return (
        f"{chart.test.code} of lot {point.lot_number} ({point.point.text}) breaks the control "
        f"limits signed on {baseline.created_at:%Y-%m-%d} (baseline #{baseline.pk}, "
        f"centre {baseline.centre.normalize():E}): {rules}. It is within specification; "
        "QA assesses the process."
    )


def _open_for(chart: ControlChart, point: ChartPoint, lot: Lot) -> Investigation | None:
    if not point.rules or point.in_baseline or point.point.result_id is None:
        return None
    return investigation_open(
        lot=lot,
        kind=InvestigationKind.CONTROL_RULE,
        actor=_TRENDING,
        result_id=point.point.result_id,
        line_name=point.point.line_name,
        summary=out_of_trend_summary(chart, point),
    )


def lot_out_of_trend_judge(*, lot: Lot) -> list[Investigation]:
    """Open a notice for each signed chart of the lot's product on which the lot breaks a rule."""
    opened = []
    for baseline in control_baselines_current(product=lot.product):
        chart = control_chart(product=lot.product, test=baseline.test)
        point = chart.point_of(lot.lot_number)
        if point is not None and (notice := _open_for(chart, point, lot)) is not None:
            opened.append(notice)
    return opened


def baseline_out_of_trend_judge(*, baseline: ControlBaseline) -> list[Investigation]:
    """Every lot on the chart, outside the baseline, judged against the new limits."""
    chart = control_chart(product=baseline.product, test=baseline.test)
    flagged = [p for p in chart.points if p.rules and not p.in_baseline]
    lots = Lot.objects.select_related("product").in_bulk(
        [p.lot_number for p in flagged], field_name="lot_number"
    )
    return [
        notice for p in flagged if (notice := _open_for(chart, p, lots[p.lot_number])) is not None
    ]


def control_baseline_signed(event: hooks.ControlBaselineSigned) -> None:
    baseline_out_of_trend_judge(baseline=event.baseline)
