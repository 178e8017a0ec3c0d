"""Continued process verification on the demo: signed control limits that never
move, Nelson rules judged against them, and out-of-trend notices that join the
lot's review by exception and reach QA."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from qc import demo
from qc.demo_history import BASELINE_LOTS, OUT_OF_TREND_LOT
from qc.evaluation.control import Rule, individuals_limits
from qc.models import ControlBaseline, Lot, Product
from qc.models import TestMethod as Method
from qc.selectors import control_chart
from qc.services.evaluation import lot_evaluate
from qc.services.trends import control_baseline_sign
from releases.models import Investigation, InvestigationKind, Notification, NotificationKind
from services.accounts.context import AuthContext
from services.accounts.models import ApiClient, User
from services.audit.models import AuditEvent
from tests.refusals import refused_with

pytestmark = [pytest.mark.django_db(transaction=True)]


def _chart() -> Any:
    return control_chart(
        product=Product.objects.get(code="EVX-MSC-01"), test=Method.objects.get(code="NTA-CONC")
    )


@pytest.mark.requirement("21CFR11.50")
def test_the_demo_signs_limits_from_its_baseline_lots_and_freezes_them(
    demo_with_history: None,
) -> None:
    baseline = ControlBaseline.objects.get()
    assert baseline.lot_numbers == BASELINE_LOTS
    expected = individuals_limits([Decimal(v) for v in baseline.values])
    assert baseline.values[:3] == ["2.050E+11", "2.100E+11", "2.030E+11"]
    # Frozen to 12 significant digits, exactly as signed.
    assert abs(baseline.centre / expected.centre - 1) < Decimal("1e-11")
    assert abs(baseline.sigma / expected.sigma - 1) < Decimal("1e-11")
    assert abs(baseline.ucl / (baseline.centre + 3 * baseline.sigma) - 1) < Decimal("1e-11")
    signature = baseline.signature
    assert signature.meaning == "approved" and signature.username == "qa"
    assert "I approve the control limits of NTA-CONC" in signature.statement
    assert all(lot in signature.statement for lot in BASELINE_LOTS)
    assert AuditEvent.objects.filter(action="control_baseline.signed").count() == 1
    # Append-only: PostgreSQL refuses to move the limits, even through raw SQL.
    with (
        pytest.raises(DatabaseError, match="pgtrigger"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE qc_controlbaseline SET centre = 0")


def test_a_point_beyond_three_sigma_opens_one_out_of_trend_notice(
    demo_with_history: None,
) -> None:
    chart = _chart()
    point = chart.point_of(OUT_OF_TREND_LOT)
    assert point is not None and Rule.BEYOND_3_SIGMA in point.rules and not point.in_baseline
    assert chart.spec.low is not None and chart.spec.low < point.value < chart.spec.high  # type: ignore[operator]
    assert point.beyond_mr_ucl  # the jump shows on the moving-range chart too
    assert not any(p.rules for p in chart.points if p.in_baseline)
    notice = Investigation.objects.get(kind=InvestigationKind.CONTROL_RULE)
    assert notice.lot.lot_number == OUT_OF_TREND_LOT and notice.number.startswith("OOT-")
    assert "Nelson rule 1" in notice.summary
    assert Notification.objects.filter(
        kind=NotificationKind.OUT_OF_TREND, investigation=notice, recipient__username="qa"
    ).exists()
    # Idempotent: seeding and evaluating again opens nothing new, signs nothing new.
    demo.seed_demo(stdout=io.StringIO(), password="evrelease-demo")
    for lot in Lot.objects.filter(lot_number__startswith="EVX-23-"):
        lot_evaluate(lot_id=lot.pk)
    assert Investigation.objects.filter(kind=InvestigationKind.CONTROL_RULE).count() == 1
    assert ControlBaseline.objects.count() == 1


def test_a_new_baseline_supersedes_the_old_one_and_judges_the_lots_after_it(
    demo_with_history: None, password: str
) -> None:
    qa = User.objects.get(username="qa")
    lots = [f"EVX-23-{n:03d}" for n in range(1, 12)]
    first = ControlBaseline.objects.get()
    second = control_baseline_sign(
        product_code="EVX-MSC-01",
        test_code="NTA-CONC",
        lot_numbers=lots,
        auth=AuthContext.of(qa),
        password=password,
        reason="a shorter baseline, to compare",
    )
    assert second.supersedes == first and _chart().baseline == second
    assert ControlBaseline.objects.count() == 2  # the old one stays on record


def test_signing_refuses_with_codes(demo_with_history: None, password: str) -> None:
    qa, reviewer = User.objects.get(username="qa"), User.objects.get(username="reviewer")
    sign = dict(product_code="EVX-MSC-01", test_code="NTA-CONC", password=password, reason="r")
    with refused_with("baseline_too_short"):
        control_baseline_sign(lot_numbers=BASELINE_LOTS[:3], auth=AuthContext.of(qa), **sign)
    with refused_with("lot_without_value"):  # EVX-24-003's NTA run failed its bead control
        control_baseline_sign(
            lot_numbers=[*BASELINE_LOTS[:10], "EVX-24-003"], auth=AuthContext.of(qa), **sign
        )
    with refused_with("duplicate_lot"):
        control_baseline_sign(lot_numbers=BASELINE_LOTS * 2, auth=AuthContext.of(qa), **sign)
    with refused_with("role_required"):
        control_baseline_sign(lot_numbers=BASELINE_LOTS, auth=AuthContext.of(reviewer), **sign)
    with refused_with("machine_client"):
        control_baseline_sign(
            lot_numbers=BASELINE_LOTS, auth=AuthContext.of(ApiClient.objects.first()), **sign
        )
    with refused_with("signature_refused"):
        control_baseline_sign(
            lot_numbers=BASELINE_LOTS, auth=AuthContext.of(qa), **{**sign, "password": "wrong"}
        )
    assert ControlBaseline.objects.count() == 1


def test_the_api_serves_the_chart_and_lets_qa_alone_sign_new_limits(
    demo_with_history: None, password: str, api_as: Any
) -> None:
    qa, reviewer = User.objects.get(username="qa"), User.objects.get(username="reviewer")
    chart = api_as(reviewer).get("/api/v1/trends/EVX-MSC-01/NTA-CONC/").json()
    baseline = ControlBaseline.objects.get()
    assert chart["baseline"]["ucl"] == str(baseline.ucl)  # as signed, a string
    assert chart["baseline"]["lot_numbers"] == BASELINE_LOTS
    flagged = {v["lot_number"]: v for v in chart["violations"]}
    assert flagged[OUT_OF_TREND_LOT]["rule"] == 1
    point = next(p for p in chart["points"] if p["lot_number"] == OUT_OF_TREND_LOT)
    assert point["rules"] == [1] and not point["in_baseline"]
    assert chart["specification"]["low"] is not None

    unknown = api_as(qa).get("/api/v1/trends/EVX-MSC-01/NOPE/")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "unknown_test"

    url = "/api/v1/trends/EVX-MSC-01/NTA-CONC/baselines/"
    body = {"lots": BASELINE_LOTS[:12], "password": password, "reason": "first 12 lots"}
    assert api_as(reviewer).post(url, body, format="json").status_code == 403
    short = api_as(qa).post(url, {**body, "lots": BASELINE_LOTS[:2]}, format="json")
    assert short.status_code == 400
    assert short.json()["errors"][0] == {
        "code": "baseline_too_short",
        "reason": "choose at least 10 lots for a baseline; 2 chosen",
        "field": "lots",
        "index": None,
    }
    signed = api_as(qa).post(url, body, format="json")
    assert signed.status_code == 201, signed.content
    assert signed.json()["supersedes"] == baseline.pk
    assert signed.json()["signed_by"] == qa.printed_name
    assert ControlBaseline.objects.count() == 2
