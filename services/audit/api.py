"""Read API for auditors: the audit trail and the signature manifest."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from services.accounts.context import AuthContext
from services.api.exports import EXPORT_FORMAT_PARAMETER, EXPORTING_RENDERERS, export_filters
from services.api.filters import IsoDateTimeFilter
from services.api.pagination import SequencePagination
from services.audit.chain import CHAINED_FIELDS
from services.audit.exports import audit_export
from services.audit.models import AuditEvent, ChainVerification
from services.audit.scopes import lot_trail_events
from services.audit.selectors import bound_record
from services.audit.verification import chain_progress, chain_verification_enqueue
from services.errors import NotFound
from services.esign.models import Signature
from services.esign.serializers import MANIFEST_FIELDS, SignatureManifestSerializer
from services.exports import FORMATS, export_response
from services.permissions import CanReadAuditTrail


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        # Everything the hash covers, and the chain itself: an auditor can re-verify.
        fields = (*CHAINED_FIELDS, "records", "previous_hash", "hash")


class AuditEventFilter(django_filters.FilterSet):
    since = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    lot = django_filters.CharFilter(
        method="filter_lot",
        label="lot number: every event of the lot's whole trail (runs and controls included)",
    )
    record = django_filters.CharFilter(
        method="filter_record",
        label="a GMP row as table:id (qc_result:42): the events that bind it by its content hash",
    )
    actor = django_filters.CharFilter(
        field_name="actor_name",
        lookup_expr="icontains",
        label="person or machine client, by (part of) the name",
    )

    class Meta:
        model = AuditEvent
        fields = ("object_type", "object_id", "action", "actor_type", "actor_name", "request_id")

    def filter_record(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> Any:
        return queryset.filter(bound_record(value))

    def filter_lot(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> Any:
        return queryset.filter(pk__in=lot_trail_events(value).order_by().values("pk"))


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, oldest first, cursor-paged; ``?format=csv|jsonl|pdf`` exports
    every matching event (same filters), stating the chain's head and verification."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [CanReadAuditTrail]
    pagination_class = type("AuditPagination", (SequencePagination,), {"ordering": "sequence"})
    renderer_classes = EXPORTING_RENDERERS

    @extend_schema(parameters=[EXPORT_FORMAT_PARAMETER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        fmt = request.accepted_renderer.format
        if fmt in FORMATS:
            events = self.filter_queryset(self.get_queryset())
            return export_response(
                export=audit_export(events=events, filters=export_filters(request)),
                fmt=fmt,
                actor=AuthContext.from_request(request).actor,
            )
        return super().list(request, *args, **kwargs)


class SignatureSerializer(SignatureManifestSerializer):
    """The auditor's view: the manifest plus which record each signature belongs to."""

    record_type = serializers.CharField(source="content_type.model")
    manifest = serializers.CharField(source="manifest_line")

    class Meta(SignatureManifestSerializer.Meta):
        fields = (
            *MANIFEST_FIELDS[:8],
            "record_type",
            "object_id",
            *MANIFEST_FIELDS[8:],
            "manifest",
        )


class SignatureViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Signature.objects.select_related("content_type")
    serializer_class = SignatureSerializer
    permission_classes = [CanReadAuditTrail]
    filterset_fields = ("meaning", "username", "object_id")


class ChainVerificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChainVerification
        fields = (
            "run_id",
            "requested_by",
            "started_at",
            "finished_at",
            "head_sequence",
            "head_hash",
            "checked",
            "passed",
            "first_failing_sequence",
            "problem",
            "records_checked",
            "failing_table",
            "failing_record_id",
        )


class ChainVerificationRunSerializer(serializers.Serializer):
    """A run of the verifier: its progress while it runs, its stored result once done."""

    run_id = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "running", "done"])
    checked = serializers.IntegerField()
    total = serializers.IntegerField()
    result = ChainVerificationSerializer(allow_null=True)


def _run(run_id: str) -> dict[str, Any] | None:
    progress = chain_progress(run_id=run_id)
    if progress is None:
        return None
    result = ChainVerification.objects.filter(run_id=run_id).first()
    state = "done" if result is not None else progress["state"]
    return {"run_id": run_id, **progress, "state": state, "result": result}


class ChainVerificationListView(generics.ListAPIView):
    """Every stored run of the verifier, newest first; POST starts one on the documents
    queue (202, with the run to poll)."""

    permission_classes = [CanReadAuditTrail]
    serializer_class = ChainVerificationSerializer
    queryset = ChainVerification.objects.order_by("-finished_at", "-pk")

    @extend_schema(request=None, responses={202: ChainVerificationRunSerializer})
    def post(self, request: Request) -> Response:
        run_id = chain_verification_enqueue(actor=AuthContext.from_request(request).actor)
        run = _run(run_id) or {"run_id": run_id, "state": "queued", "checked": 0, "total": 0}
        return Response(ChainVerificationRunSerializer(run).data, status=202)


class ChainVerificationRunView(generics.GenericAPIView):
    permission_classes = [CanReadAuditTrail]
    serializer_class = ChainVerificationRunSerializer

    def get(self, request: Request, run_id: str) -> Response:
        run = _run(run_id)
        if run is None:
            raise NotFound(f"no verification run {run_id}", code="verification_not_found")
        return Response(ChainVerificationRunSerializer(run).data)
