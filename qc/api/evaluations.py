"""Evaluation read API and the specification-impact command endpoint."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from qc.models import Evaluation, Lot, Specification
from qc.selectors import (
    evaluation_lines,
    evaluation_staleness,
    lot_current_evaluation,
    lot_evaluations,
)
from qc.services.impact import specification_impact
from services.accounts.models import Role
from services.errors import NotFound, lot_not_found
from services.permissions import HasRole


class ShownValueSerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.CharField(allow_null=True)
    text = serializers.CharField()


# A line verdict, from qc.selectors.EvaluationLine (the stored JSON, parsed once).
class EvaluationLineSerializer(serializers.Serializer):
    line_id = serializers.CharField()
    test = serializers.CharField(source="test_code")
    name = serializers.CharField(source="display_name")
    criterion = serializers.CharField(source="criterion_type")
    required = serializers.BooleanField()  # type: ignore[assignment]
    verdict = serializers.CharField()
    reason = serializers.CharField()
    used_result_ids = serializers.ListField(child=serializers.CharField())
    failing_result_ids = serializers.ListField(child=serializers.CharField())
    invalid_result_ids = serializers.ListField(child=serializers.CharField())
    shown_values = ShownValueSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())
    potency = serializers.SerializerMethodField(
        help_text="Relative-potency lines: each assay's validity tests (statistic, p), the "
        "estimate with its confidence limits, and the fitted curves with their points "
        "(Ph. Eur. 5.3); null on other lines."
    )

    def get_potency(self, line: Any) -> dict[str, Any] | None:
        potency = line.extra.get("potency")
        return dict(potency) if potency else None


class EvaluationSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    specification_version = serializers.IntegerField(source="specification.version")
    lines = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()

    class Meta:
        model = Evaluation
        fields = (
            "id",
            "lot",
            "verdict",
            "has_alerts",
            "reasons",
            "lines",
            "specification_version",
            "engine_version",
            "inputs_digest",
            "data_version",
            "stale",
            "evaluated_at",
        )

    @extend_schema_field(EvaluationLineSerializer(many=True))
    def get_lines(self, evaluation: Evaluation) -> list[dict[str, Any]]:
        lines = evaluation_lines(evaluation=evaluation)
        return EvaluationLineSerializer(lines, many=True).data  # type: ignore[return-value]

    def get_stale(self, evaluation: Evaluation) -> bool:
        # Stale when the lot's data or its bound specification changed after it was made.
        return bool(evaluation_staleness(evaluation=evaluation, lot=evaluation.lot))


def _lot(lot_number: str) -> Lot:
    lot = Lot.objects.select_related("specification").filter(lot_number=lot_number).first()
    if lot is None:
        raise lot_not_found(lot_number)
    return lot


@extend_schema(tags=["evaluations"])
class LotEvaluationView(GenericAPIView):
    serializer_class = EvaluationSerializer

    def get(self, request: Request, lot_number: str) -> Response:
        """The lot's current (newest) evaluation; 404 until a first evaluation exists."""
        lot = _lot(lot_number)
        current = lot_current_evaluation(lot=lot)
        if current is None:
            raise NotFound(f"lot {lot_number} has not been evaluated yet", code="not_evaluated")
        current.evaluation.lot = lot
        return Response(self.get_serializer(current.evaluation).data)


@extend_schema(tags=["evaluations"])
class LotEvaluationHistoryView(ListAPIView):
    serializer_class = EvaluationSerializer

    queryset = Evaluation.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Evaluation.objects.none()
        return lot_evaluations(lot=_lot(self.kwargs["lot_number"]))


class ImpactRowSerializer(serializers.Serializer):
    lot_number = serializers.CharField()
    current_verdict = serializers.CharField(allow_null=True)
    new_verdict = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())


class SpecificationImpactSerializer(serializers.Serializer):
    product = serializers.CharField()
    specification_version = serializers.IntegerField()
    lots_evaluated = serializers.IntegerField()
    changes = ImpactRowSerializer(many=True)


@extend_schema(tags=["evaluations"])
class SpecificationImpactView(GenericAPIView):
    """QA: which lots would change verdict under this specification version (nothing stored)."""

    permission_classes = [HasRole.of(Role.QA_OFFICER, Role.QUALIFIED_PERSON)]
    serializer_class = SpecificationImpactSerializer

    @extend_schema(responses=SpecificationImpactSerializer)
    def get(self, request: Request, code: str, version: int) -> Response:
        specification = get_object_or_404(Specification, product__code=code, version=version)
        rows = list(specification_impact(specification=specification))
        changes = [
            {
                "lot_number": row.lot_number,
                "current_verdict": row.current_verdict,
                "new_verdict": row.new_verdict,
                "reasons": list(row.reasons),
            }
            for row in rows
            if row.changes
        ]
        return Response(
            {
                "product": code,
                "specification_version": version,
                "lots_evaluated": len(rows),
                "changes": changes,
            }
        )
