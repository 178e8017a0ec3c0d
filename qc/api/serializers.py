"""Serializers of the QC API: outputs for reads, small input shapes for commands.

Inputs are checked by the services (one place for the rules, with item indexes);
the input serializers here check the request's shape and describe it in OpenAPI.
The bulk results input is validated by ``qc.services.ingestion`` without a
serializer per item (speed); ``ResultItemInputSerializer`` only documents it.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from qc.models import (
    AssayRun,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    Result,
    RunControl,
    Specification,
    SpecificationLine,
    TestMethod,
)
from qc.selectors import lot_current_evaluation
from services.api.serializers import StrictSerializer

_WIDE = Context(prec=80)


def decimal_text(value: Decimal | None) -> str | None:
    """A stored Decimal as plain text without trailing zeros: ``"210000000000"``, ``"0.05"``."""
    if value is None:
        return None
    return format(value.normalize(_WIDE), "f")


@extend_schema_field(OpenApiTypes.STR)
class DecimalTextField(serializers.Field):
    """Exact decimals travel as text (JSON numbers would be floats)."""

    def to_representation(self, value: Decimal) -> str | None:
        return decimal_text(value)


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["client", "user"]},
            "name": {"type": "string"},
        },
    }
)
class PostedByField(serializers.Field):
    """Who sent a record: a machine client or a person (attribution, ALCOA+)."""

    def __init__(self, client: str, user: str, **kwargs: Any) -> None:
        self.client_attr, self.user_attr = client, user
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, str] | None:
        client = getattr(value, self.client_attr)
        if client is not None:
            return {"type": "client", "name": client.name}
        user = getattr(value, self.user_attr)
        if user is not None:
            return {"type": "user", "name": f"{user.printed_name} ({user.username})"}
        return None


# ---------------------------------------------------------------------------
# Master data
# ---------------------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = (
            "code",
            "name",
            "description",
            "process_fields",
            "requires_qp_certification",
            "conditional_release_allowed",
            "shelf_life_days",
            "created_at",
        )


class TestMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = TestMethod
        fields = (
            "code",
            "name",
            "attribute_class",
            "technique",
            "result_kind",
            "canonical_unit",
            "allowed_values",
            "replicates_required",
            "retest_budget",
            "allows_negative",
            "active",
        )


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ("code", "name", "technique", "serial_number", "calibration_due", "active")


class ReferenceMaterialLimitSerializer(serializers.ModelSerializer):
    test = serializers.CharField(source="test.code")
    unit = serializers.CharField(source="test.canonical_unit")
    certified_value = DecimalTextField()
    acceptance_low = DecimalTextField()
    acceptance_high = DecimalTextField()

    class Meta:
        model = ReferenceMaterialLimit
        fields = ("test", "unit", "certified_value", "acceptance_low", "acceptance_high")


class ReferenceMaterialSerializer(serializers.ModelSerializer):
    limits = ReferenceMaterialLimitSerializer(many=True)

    class Meta:
        model = ReferenceMaterial
        fields = ("id", "code", "lot", "name", "kind", "status", "expires_on", "limits")


# ---------------------------------------------------------------------------
# Specifications
# ---------------------------------------------------------------------------


class SpecificationLineSerializer(serializers.ModelSerializer):
    test = serializers.CharField(source="test.code")
    unit = serializers.CharField(source="test.canonical_unit")

    class Meta:
        model = SpecificationLine
        fields = (
            "position",
            "name",
            "test",
            "unit",
            "criterion_type",
            "params",
            "alert_params",
            "decimals",
            "required",
        )


class SpecificationSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code")
    based_on = serializers.IntegerField(source="based_on_id", allow_null=True)
    approved_by = serializers.SerializerMethodField()
    approval_signature = serializers.SerializerMethodField()
    lines = SpecificationLineSerializer(many=True)

    class Meta:
        model = Specification
        fields = (
            "id",
            "product",
            "version",
            "status",
            "title",
            "change_reason",
            "based_on",
            "created_at",
            "approved_at",
            "approved_by",
            "approval_signature",
            "lines",
        )

    def get_approved_by(self, spec: Specification) -> str | None:
        return spec.approved_by.printed_name if spec.approved_by else None

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"id": {"type": "integer"}, "manifest": {"type": "string"}},
        }
    )
    def get_approval_signature(self, spec: Specification) -> dict[str, Any] | None:
        signature = spec.approval_signature
        if signature is None:
            return None
        return {"id": signature.pk, "manifest": signature.manifest_line}


class SpecificationDraftInputSerializer(StrictSerializer):
    title = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The version's title; with copy_from, the source's title when left out.",
    )
    reason = serializers.CharField(help_text="Why this version is written (EU GMP Annex 11 §9).")
    copy_from = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Id of a version whose lines the draft starts with (to edit a frozen one).",
    )


class SpecificationLineInputSerializer(StrictSerializer):
    test = serializers.CharField(help_text="Test method code.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    criterion_type = serializers.CharField(max_length=40)
    params = serializers.JSONField()
    alert_params = serializers.JSONField(required=False, allow_null=True, default=None)
    decimals = serializers.IntegerField(required=False, allow_null=True, default=None)
    required = serializers.BooleanField(required=False, default=True)  # type: ignore[assignment]
    position = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class SignInputSerializer(StrictSerializer):
    password = serializers.CharField(
        style={"input_type": "password"},
        trim_whitespace=False,
        help_text="The signer's password, re-entered (21 CFR 11.200(a)).",
    )
    reason = serializers.CharField()


class ReasonInputSerializer(StrictSerializer):
    reason = serializers.CharField()


class RebindInputSerializer(StrictSerializer):
    specification = serializers.IntegerField(help_text="Id of an effective specification.")
    reason = serializers.CharField()


# ---------------------------------------------------------------------------
# Lots
# ---------------------------------------------------------------------------


class SpecificationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Specification
        fields = ("id", "version", "status")


class LotSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code")
    specification = SpecificationRefSerializer()
    created_by = PostedByField("created_by_client", "created_by_user")

    class Meta:
        model = Lot
        fields = (
            "lot_number",
            "product",
            "status",
            "manufactured_on",
            "expires_on",
            "site",
            "process",
            "specification",
            "data_version",
            "created_at",
            "created_by",
        )


class CurrentEvaluationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="evaluation.pk")
    verdict = serializers.CharField(source="evaluation.verdict")
    has_alerts = serializers.BooleanField(source="evaluation.has_alerts")
    evaluated_at = serializers.DateTimeField(source="evaluation.evaluated_at")
    data_version = serializers.IntegerField(source="evaluation.data_version")
    engine_version = serializers.CharField(source="evaluation.engine_version")
    specification = serializers.IntegerField(source="evaluation.specification_id")
    stale = serializers.BooleanField(
        help_text="Data arrived after this evaluation; a newer one is on its way."
    )


class LotDetailSerializer(LotSerializer):
    current_evaluation = serializers.SerializerMethodField()

    class Meta(LotSerializer.Meta):
        fields = (*LotSerializer.Meta.fields, "current_evaluation")  # type: ignore[assignment]

    @extend_schema_field(CurrentEvaluationSerializer(allow_null=True))
    def get_current_evaluation(self, lot: Lot) -> dict[str, Any] | None:
        current = lot_current_evaluation(lot=lot)
        return None if current is None else CurrentEvaluationSerializer(current).data


class LotCreateSerializer(StrictSerializer):
    lot_number = serializers.CharField(max_length=64)
    product = serializers.CharField(help_text="Product code.")
    manufactured_on = serializers.DateField()
    expires_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Defaults to manufactured_on + the product's shelf life.",
    )
    site = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    process = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Batch-record facts, keyed as the product's process_fields declare.",
    )


# ---------------------------------------------------------------------------
# Assay runs
# ---------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "description": 'A measured value as text, e.g. "2.10e11", "< 0.05", '
        '"not detected": the literal is the original record (ALCOA+) and is kept '
        "character for character. A JSON number is accepted too, but a client's JSON "
        "encoder may rewrite it (2.10e11 becomes 210000000000.0) before it is sent.",
    }
)
class PostedValueField(serializers.Field):
    """A value as posted: a text ("2.10e11", "< 0.05", "2.1 x10^11") or a JSON number.

    Declared as a string: a decimal sent as text reaches the record as written, a
    number only as the client's encoder wrote it.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            raise serializers.ValidationError("must be a number or a text", code="wrong_type")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class DateTimeTextField(serializers.CharField):
    """ISO 8601 with a UTC offset; checked (and refused when naive) by the service."""


class RunControlSerializer(serializers.ModelSerializer):
    reference_material = serializers.CharField(source="reference_material.code")
    reference_lot = serializers.CharField(source="reference_material.lot")
    test = serializers.CharField(source="test.code")
    value = serializers.CharField(source="value_as_posted")
    unit = serializers.CharField(source="unit_as_posted")
    canonical_value = DecimalTextField()
    canonical_unit = serializers.CharField(source="test.canonical_unit")
    acceptance_low = DecimalTextField(allow_null=True)
    acceptance_high = DecimalTextField(allow_null=True)

    class Meta:
        model = RunControl
        fields = (
            "reference_material",
            "reference_lot",
            "test",
            "value",
            "unit",
            "canonical_value",
            "canonical_unit",
            "acceptance_low",
            "acceptance_high",
        )


class AssayRunSerializer(serializers.ModelSerializer):
    method = serializers.CharField(source="method.code")
    instrument = serializers.CharField(source="instrument.code", allow_null=True)
    controls = RunControlSerializer(many=True)
    posted_by = PostedByField("posted_by_client", "entered_by_user")

    class Meta:
        model = AssayRun
        fields = (
            "external_run_id",
            "method",
            "instrument",
            "analyst",
            "started_at",
            "ended_at",
            "received_at",
            "posted_by",
            "controls",
        )


class RunControlInputSerializer(serializers.Serializer):
    refuses_unknown_fields = True  # checked by the service (unknown_field)
    reference_material = serializers.CharField(help_text="Reference material code.")
    reference_lot = serializers.CharField(help_text="Lot of the reference material.")
    test = serializers.CharField(help_text="Test method code of the measured attribute.")
    value = PostedValueField()
    unit = serializers.CharField()


@extend_schema_field(RunControlInputSerializer(many=True))
class ControlsField(serializers.ListField):
    """The run's controls: each item validated (by index) by the service."""


class AssayRunCreateSerializer(StrictSerializer):
    external_run_id = serializers.CharField(max_length=100)
    method = serializers.CharField(help_text="Test method code.")
    instrument = serializers.CharField(required=False, allow_null=True, default=None)
    analyst = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    started_at = DateTimeTextField()
    ended_at = DateTimeTextField(required=False, allow_null=True, default=None)
    controls = ControlsField(
        child=serializers.JSONField(),
        required=False,
        default=list,
        help_text="Reference-material controls: "
        '[{"reference_material", "reference_lot", "test", "value", "unit"}].',
    )


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


class ResultSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    test = serializers.CharField(source="test.code")
    value = serializers.CharField(source="value_as_posted")
    unit = serializers.CharField(source="unit_as_posted")
    canonical_value = DecimalTextField(allow_null=True)
    run = serializers.CharField(source="run.external_run_id", allow_null=True)
    posted_by = PostedByField("posted_by_client", "entered_by_user")
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True)
    superseded_by = serializers.SerializerMethodField()
    invalidated = serializers.SerializerMethodField()
    invalidation_reason = serializers.SerializerMethodField()

    class Meta:
        model = Result
        fields = (
            "id",
            "lot",
            "test",
            "value",
            "unit",
            "qualifier",
            "canonical_value",
            "canonical_unit",
            "text_value",
            "run",
            "replicate",
            "performed_by",
            "performed_at",
            "raw_data",
            "received_at",
            "posted_by",
            "request_id",
            "supersedes",
            "supersede_reason",
            "superseded_by",
            "invalidated",
            "invalidation_reason",
        )

    def get_superseded_by(self, result: Result) -> int | None:
        try:
            return result.superseded_by.pk
        except Result.DoesNotExist:
            return None

    def get_invalidated(self, result: Result) -> bool:
        return hasattr(result, "invalidation")

    def get_invalidation_reason(self, result: Result) -> str | None:
        invalidation = getattr(result, "invalidation", None)
        return invalidation.reason if invalidation is not None else None


class ResultItemInputSerializer(serializers.Serializer):
    """One posted result (documentation of the bulk body; validated by the service)."""

    refuses_unknown_fields = True  # checked by the service (unknown_field)

    test = serializers.CharField(help_text="Test method code.")
    value = PostedValueField(
        help_text='As measured, as text: "2.10e11", "2.1 x10^11", "< 0.05", "not detected". '
        "Kept verbatim (ALCOA+ original); send decimals as strings so that no JSON "
        "encoder rewrites them."
    )
    unit = serializers.CharField(
        required=False, help_text="Required for numeric tests; converted to the test's unit."
    )
    qualifier = serializers.ChoiceField(
        choices=["<", ">"], required=False, help_text="Or embedded in value: '< 0.05'."
    )
    run = serializers.CharField(required=False, help_text="external_run_id of an assay run.")
    replicate = serializers.IntegerField(required=False, min_value=1, default=1)
    performed_by = serializers.CharField(required=False, max_length=150)
    performed_at = DateTimeTextField(required=False)
    raw_data = serializers.JSONField(required=False)
    supersedes = serializers.IntegerField(
        required=False, help_text="Id of a result of the same lot and test this one replaces."
    )
    supersede_reason = serializers.CharField(required=False, help_text="Required with supersedes.")


class ResultsInputSerializer(serializers.Serializer):
    refuses_unknown_fields = True  # checked by the service (unknown_field)
    results = ResultItemInputSerializer(many=True, help_text="Up to RESULTS_PER_REQUEST_LIMIT.")


class RecordedResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField()
    test = serializers.CharField()
    canonical_value = DecimalTextField(allow_null=True)
    canonical_unit = serializers.CharField()
    qualifier = serializers.CharField()
    text_value = serializers.CharField()


class ResultsRecordedSerializer(serializers.Serializer):
    lot = serializers.CharField(source="lot_number")
    lot_status = serializers.CharField()
    data_version = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    count = serializers.SerializerMethodField()
    results = RecordedResultSerializer(many=True)

    def get_count(self, recorded: Any) -> int:
        return len(recorded.results)
