"""Read API for auditors: the audit trail and the signature manifest."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from services.api.filters import IsoDateTimeFilter
from services.api.pagination import SequencePagination
from services.audit.chain import CHAINED_FIELDS
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.serializers import MANIFEST_FIELDS, SignatureManifestSerializer
from services.permissions import CanReadAuditTrail


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        # Everything the hash covers, and the chain itself: an auditor can re-verify.
        fields = (*CHAINED_FIELDS, "previous_hash", "hash")


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
