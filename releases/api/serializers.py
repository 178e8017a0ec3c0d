"""Input and output shapes of the release API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from releases.models import (
    AuditTrailReview,
    Certificate,
    Disposition,
    Investigation,
    InvestigationAttachment,
    InvestigationEntry,
    Notification,
    RecallDecision,
    ResultReview,
)
from releases.selectors import investigation_attachments
from services.api.serializers import StrictSerializer
from services.esign.models import Meaning
from services.esign.serializers import SignatureManifestSerializer

# --- input -----------------------------------------------------------------------


def password_field(required: bool = True) -> serializers.CharField:
    return serializers.CharField(
        required=required,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="The signer's password, re-entered (21 CFR 11.200(a)); a wrong one counts "
        "toward the account lockout.",
    )


class SignedInput(StrictSerializer):
    password = password_field()
    reason = serializers.CharField(help_text="Why: printed on the signature manifest.")
    meaning = serializers.ChoiceField(
        choices=Meaning.choices,
        required=False,
        help_text="Optional; when given it must be the meaning this action signs with.",
    )


class ConditionalReleaseInput(SignedInput):
    pending_tests = serializers.ListField(
        child=serializers.CharField(),
        allow_empty=False,
        help_text="Codes of the required tests whose results are still pending.",
    )


class HoldInput(StrictSerializer):
    reason = serializers.CharField()
    password = password_field(required=False)


class AuditTrailReviewInput(SignedInput):
    up_to_sequence = serializers.IntegerField(
        required=False, min_value=1, help_text="Last audit event reviewed; default: the latest."
    )


class RecallDecisionInput(SignedInput):
    recall = serializers.BooleanField()
    investigation = serializers.CharField(required=False, allow_blank=True)


class ReasonOnlyInput(StrictSerializer):
    reason = serializers.CharField()


class DeviationInput(StrictSerializer):
    lot = serializers.CharField()
    summary = serializers.CharField()


class EntryInput(StrictSerializer):
    entry_type = serializers.ChoiceField(choices=["check", "note"])
    text = serializers.CharField()
    data = serializers.JSONField(required=False)  # type: ignore[assignment]


class PhaseOneInput(SignedInput):
    assignable_cause = serializers.BooleanField(
        help_text="true: an assignable laboratory error (the result is proposed for "
        "invalidation); false: no assignable cause (Phase II)."
    )


class PhaseTwoInput(StrictSerializer):
    lots_checked = serializers.ListField(child=serializers.CharField(), allow_empty=True)
    findings = serializers.CharField()


class AttachmentInput(StrictSerializer):
    file = serializers.FileField(help_text="The raw-data file (multipart/form-data).")
    description = serializers.CharField(help_text="What the file is and why it is attached.")


class ConcludeInput(SignedInput):
    conclusion = serializers.ChoiceField(
        choices=["confirmed_oos", "not_confirmed", "inconclusive", "assessed"],
        help_text="After Phase II: confirmed_oos (the lot is rejected), not_confirmed (the "
        "reason is the assignable laboratory cause; a second person invalidates the result) or "
        "inconclusive (QA decides with reject_lot; the reason is the justification). "
        "assessed: a trend notice or a deviation.",
    )
    reject_lot = serializers.BooleanField(
        required=False,
        help_text="Only with inconclusive, and then required: QA's decision on the lot.",
    )
    capa_reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The deviation or CAPA record the conclusion leads to, e.g. CAPA-2024-017.",
    )


# --- output ----------------------------------------------------------------------


class DispositionSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    decision_display = serializers.CharField(source="get_decision_display")
    specification_version = serializers.IntegerField(source="specification.version")
    evaluation = serializers.SerializerMethodField()
    signature = SignatureManifestSerializer(allow_null=True)

    class Meta:
        model = Disposition
        fields = (
            "id",
            "lot",
            "decision",
            "decision_display",
            "status_before",
            "status_after",
            "specification_version",
            "evaluation",
            "reason",
            "pending_tests",
            "decided_at",
            "decided_by_name",
            "signature",
        )

    def get_evaluation(self, disposition: Disposition) -> dict[str, Any] | None:
        evaluation = disposition.evaluation
        if evaluation is None:
            return None
        return {
            "id": evaluation.pk,
            "verdict": evaluation.verdict,
            "inputs_digest": evaluation.inputs_digest,
        }


class ResultReviewSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    signature = SignatureManifestSerializer()

    class Meta:
        model = ResultReview
        fields = ("id", "lot", "reviewer_name", "reviewed_at", "result_ids", "comment", "signature")


class AuditTrailReviewSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    signature = SignatureManifestSerializer()

    class Meta:
        model = AuditTrailReview
        fields = (
            "id",
            "lot",
            "reviewer_name",
            "reviewed_at",
            "up_to_sequence",
            "comment",
            "signature",
        )


class RecallDecisionSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    investigation = serializers.CharField(source="investigation.number", allow_null=True)
    signature = SignatureManifestSerializer()
    rejection = DispositionSerializer(source="disposition", allow_null=True)

    class Meta:
        model = RecallDecision
        fields = (
            "id",
            "lot",
            "investigation",
            "recall",
            "reason",
            "decided_at",
            "decided_by_name",
            "signature",
            "rejection",
        )


class EntrySerializer(serializers.ModelSerializer):
    signature = SignatureManifestSerializer(allow_null=True)

    class Meta:
        model = InvestigationEntry
        fields = ("id", "recorded_at", "recorded_by", "entry_type", "text", "data", "signature")


class InvestigationSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    kind_display = serializers.CharField(source="get_kind_display")
    phase_display = serializers.CharField(source="get_phase_display")
    result = serializers.SerializerMethodField()

    class Meta:
        model = Investigation
        fields = (
            "number",
            "kind",
            "kind_display",
            "lot",
            "result",
            "line_name",
            "summary",
            "phase",
            "phase_display",
            "conclusion",
            "opened_at",
            "opened_by",
            "closed_at",
            "retest_budget",
            "retest_allowed_at",
            "retest_allowed_by",
            "phase_two_recorded_at",
            "capa_reference",
        )

    def get_result(self, investigation: Investigation) -> dict[str, Any] | None:
        result = investigation.result
        if result is None:
            return None
        return {
            "id": result.pk,
            "test": result.test.code,
            "value": result.value_as_posted,
            "unit": result.unit_as_posted,
            "performed_by": result.performed_by,
        }


class AttachmentSerializer(serializers.ModelSerializer):
    """A raw-data file's record; its bytes are served by ``attachments/{id}/``."""

    class Meta:
        model = InvestigationAttachment
        fields = (
            "id",
            "file_name",
            "media_type",
            "size",
            "sha256",
            "description",
            "uploaded_at",
            "uploaded_by",
        )


class InvestigationDetailSerializer(InvestigationSerializer):
    entries = EntrySerializer(many=True)
    attachments = serializers.SerializerMethodField()

    class Meta(InvestigationSerializer.Meta):
        fields = (*InvestigationSerializer.Meta.fields, "entries", "attachments")  # type: ignore[assignment]

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, investigation: Investigation) -> list[dict[str, Any]]:
        files = investigation_attachments(investigation=investigation)
        return list(AttachmentSerializer(files, many=True).data)


class CertificateSerializer(serializers.ModelSerializer):
    lot = serializers.CharField(source="lot.lot_number")
    decision = serializers.CharField(source="disposition.decision")
    supersedes_version = serializers.IntegerField(source="supersedes.version", allow_null=True)

    class Meta:
        model = Certificate
        fields = (
            "lot",
            "version",
            "decision",
            "supersedes_version",
            "correction_reason",
            "issued_at",
            "pdf_sha256",
            "json_sha256",
        )


class NotificationSerializer(serializers.ModelSerializer):
    # Plain text in the schema: the kinds grow with the workflow.
    kind = serializers.CharField(
        help_text="ready_for_review, oos_opened, post_release_failure, ..."
    )
    lot = serializers.CharField(source="lot.lot_number", allow_null=True)
    investigation = serializers.CharField(source="investigation.number", allow_null=True)

    class Meta:
        model = Notification
        fields = (
            "id",
            "kind",
            "text",
            "lot",
            "investigation",
            "created_at",
            "read_at",
            "resolved_at",
        )


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    reason = serializers.CharField()


class CheckSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    passed = serializers.BooleanField()
    problems = ProblemSerializer(many=True)


class ActionOfferSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The policy action (also the command's path).")
    title = serializers.CharField()
    meaning = serializers.CharField(help_text="The signature's meaning; empty: not signed.")
    statement = serializers.CharField(
        help_text="What the signer confirms by signing (21 CFR 11.50); stored with the "
        "signature, the same words in the web UI."
    )
    applies = serializers.BooleanField(help_text="The lot's state allows the action now.")
    allowed = serializers.BooleanField(help_text="The caller holds a role that may take it.")


class ChecklistSerializer(serializers.Serializer):
    lot = serializers.CharField(source="lot.lot_number")
    action = serializers.CharField(source="readiness.action")
    ready = serializers.BooleanField(source="readiness.ready")
    evaluation_id = serializers.IntegerField(source="readiness.evaluation.pk", allow_null=True)
    checks = CheckSerializer(source="readiness.checks", many=True)
    meaning = serializers.CharField()
    statement = serializers.CharField(
        help_text="What the signer of this decision confirms by signing (21 CFR 11.50)."
    )
    actions = ActionOfferSerializer(many=True)
