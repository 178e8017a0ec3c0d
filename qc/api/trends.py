"""Trends under /api/v1/trends/: a control chart as data, and QA signing its limits.

The chart is :func:`qc.selectors.control_chart_of` (the same one the web page draws):
the points in manufacture order, the limits exactly as QA signed them (never
recomputed), and the Nelson rules each point breaks.  Numbers are strings, as
everywhere in this API (the original literal, ALCOA+).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from qc import selectors
from qc.api.permissions import PolicyRoles
from qc.api.views import ERRORS, QcViewMixin, validated
from qc.hooks import CONTROL_BASELINE
from qc.models import ControlBaseline
from qc.selectors import ControlChart
from qc.services.trends import control_baseline_sign
from services.accounts.context import AuthContext
from services.api.parsers import ExactJSONParser
from services.api.serializers import StrictSerializer


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class ControlBaselineSerializer(serializers.ModelSerializer[ControlBaseline]):
    product = serializers.CharField(source="product.code")
    test = serializers.CharField(source="test.code")
    lot_numbers = serializers.ListField(child=serializers.CharField())
    values = serializers.ListField(child=serializers.CharField())
    centre = serializers.CharField()
    sigma = serializers.CharField()
    mr_bar = serializers.CharField()
    ucl = serializers.CharField()
    lcl = serializers.CharField()
    mr_ucl = serializers.CharField()
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True)
    signed_by = serializers.CharField(source="created_by.printed_name")
    signature = serializers.IntegerField(source="signature_id")

    class Meta:
        model = ControlBaseline
        fields = [
            "id",
            "product",
            "test",
            "unit",
            "lot_numbers",
            "values",
            "centre",
            "sigma",
            "mr_bar",
            "ucl",
            "lcl",
            "mr_ucl",
            "supersedes",
            "reason",
            "created_at",
            "signed_by",
            "signature",
        ]


class ViolationSerializer(serializers.Serializer[Any]):
    rule = serializers.IntegerField(help_text="Nelson rule 1-8")
    words = serializers.CharField()
    lot_number = serializers.CharField(help_text="the point that completes the pattern")
    window = serializers.ListField(
        child=serializers.CharField(), help_text="the lots whose values make the pattern"
    )


class ChartPointSerializer(serializers.Serializer[Any]):
    lot_number = serializers.CharField()
    manufactured_on = serializers.DateField()
    value = serializers.CharField()
    moving_range = serializers.CharField(allow_null=True)
    in_baseline = serializers.BooleanField()
    rules = serializers.ListField(child=serializers.IntegerField())
    beyond_mr_ucl = serializers.BooleanField()


class SpecBandSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(allow_null=True)
    low = serializers.CharField(allow_null=True)
    high = serializers.CharField(allow_null=True)
    alert_low = serializers.CharField(allow_null=True)
    alert_high = serializers.CharField(allow_null=True)


class ControlChartSerializer(serializers.Serializer[Any]):
    product = serializers.CharField()
    test = serializers.CharField()
    unit = serializers.CharField()
    baseline = ControlBaselineSerializer(allow_null=True)
    specification = SpecBandSerializer()
    points = ChartPointSerializer(many=True)
    violations = ViolationSerializer(many=True)


def chart_data(chart: ControlChart) -> dict[str, Any]:
    lots = [p.lot_number for p in chart.points]
    spec = chart.spec
    return {
        "product": chart.product.code,
        "test": chart.test.code,
        "unit": chart.unit,
        "baseline": (
            ControlBaselineSerializer(chart.baseline).data if chart.baseline is not None else None
        ),
        "specification": {
            "version": spec.version,
            "low": _text(spec.low),
            "high": _text(spec.high),
            "alert_low": _text(spec.alert_low),
            "alert_high": _text(spec.alert_high),
        },
        "points": [
            {
                "lot_number": p.lot_number,
                "manufactured_on": p.point.manufactured_on.isoformat(),
                "value": str(p.value),
                "moving_range": _text(p.moving_range),
                "in_baseline": p.in_baseline,
                "rules": [int(rule) for rule in p.rules],
                "beyond_mr_ucl": p.beyond_mr_ucl,
            }
            for p in chart.points
        ],
        "violations": [
            {
                "rule": int(v.rule),
                "words": v.words,
                "lot_number": lots[v.index],
                "window": [lots[i] for i in v.window],
            }
            for v in chart.violations
        ],
    }


class BaselineSignSerializer(StrictSerializer):
    lots = serializers.ListField(
        child=serializers.CharField(),
        help_text="the lot numbers that represent the process in control (at least 10)",
    )
    password = serializers.CharField(
        style={"input_type": "password"},
        trim_whitespace=False,
        help_text="The signer's password, re-entered (21 CFR 11.200(a)).",
    )
    reason = serializers.CharField()


@extend_schema(tags=["trends"])
class ControlChartView(QcViewMixin):
    """The chart (every role and machine client may read it)."""

    @extend_schema(
        summary="The I-MR control chart of a test across a product's lots",
        description="Points in manufacture order, the control limits exactly as QA "
        "signed them (none before a baseline is signed: limits computed on the fly "
        "would move with every lot) and the Nelson rules 1-8 each point breaks.",
        responses={200: ControlChartSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, product: str, test: str) -> Response:
        return Response(
            chart_data(selectors.control_chart_of(product_code=product, test_code=test))
        )


@extend_schema(tags=["trends"])
class ControlBaselineSignView(QcViewMixin):
    parser_classes = [ExactJSONParser]

    @property
    def writers(self) -> tuple[str, ...]:
        # Who may sign limits is the release policy's to say (qc asks it: qc.hooks).
        return tuple(PolicyRoles(CONTROL_BASELINE))

    @extend_schema(
        summary="Sign the control limits of a test from chosen lots (QA; password re-entered)",
        description="The limits are computed once from the lots' current evaluations, "
        "frozen and signed; the previous baseline is superseded and stays on record.",
        request=BaselineSignSerializer,
        responses={201: ControlBaselineSerializer, **ERRORS},
    )
    def post(self, request: Request, product: str, test: str) -> Response:
        # Not under `idempotent`: the password is checked outside any transaction
        # (a failed attempt is committed and counts toward the lockout).
        data = validated(BaselineSignSerializer, request.data)
        baseline = control_baseline_sign(
            product_code=product,
            test_code=test,
            lot_numbers=data["lots"],
            auth=AuthContext.from_request(request),
            password=data["password"],
            reason=data["reason"],
        )
        return Response(ControlBaselineSerializer(baseline).data, status=status.HTTP_201_CREATED)
