"""Read API for auditors: the audit trail and the signature manifest."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from services.api.filters import IsoDateTimeFilter
from services.api.pagination import SequencePagination
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.services import signature_verify
from services.permissions import CanReadAuditTrail


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = (
            "sequence",
            "occurred_at",
            "actor_type",
            "actor_id",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "old_values",
            "new_values",
            "reason",
            "request_id",
            "previous_hash",
            "hash",
        )


class AuditEventFilter(django_filters.FilterSet):
    since = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ("object_type", "object_id", "action", "actor_type", "actor_name", "request_id")


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [CanReadAuditTrail]
    pagination_class = type("AuditPagination", (SequencePagination,), {"ordering": "sequence"})


class SignatureSerializer(serializers.ModelSerializer):
    meaning_display = serializers.CharField(source="get_meaning_display")
    record_type = serializers.CharField(source="content_type.model")
    intact = serializers.SerializerMethodField()
    manifest = serializers.CharField(source="manifest_line")

    class Meta:
        model = Signature
        fields = (
            "id",
            "printed_name",
            "username",
            "signer_role",
            "signed_at",
            "meaning",
            "meaning_display",
            "reason",
            "record_type",
            "object_id",
            "record_label",
            "record_digest",
            "intact",
            "manifest",
        )

    def get_intact(self, signature: Signature) -> bool:
        return signature_verify(signature).intact


class SignatureViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Signature.objects.select_related("content_type")
    serializer_class = SignatureSerializer
    permission_classes = [CanReadAuditTrail]
    filterset_fields = ("meaning", "username", "object_id")
