"""``GET /api/v1/releases/``: the release history across lots (``?format=`` exports it)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request

from releases.api.permissions import ReadersAndMachines
from releases.api.serializers import DispositionSerializer
from releases.history import ReleaseHistoryFilter, history_export, release_history
from releases.models import Disposition
from services.accounts.context import AuthContext
from services.api.exports import EXPORT_FORMAT_PARAMETER, EXPORTING_RENDERERS, export_filters
from services.api.pagination import SequencePagination
from services.exports import FORMATS, export_response


class CertificateLinkSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    pdf = serializers.CharField()
    json = serializers.CharField()
    pdf_sha256 = serializers.CharField()
    json_sha256 = serializers.CharField()


class ReleaseHistorySerializer(DispositionSerializer):
    product = serializers.CharField(source="lot.product.code")
    certificates = serializers.SerializerMethodField()

    class Meta(DispositionSerializer.Meta):
        fields = ("id", "product", *DispositionSerializer.Meta.fields[1:], "certificates")  # type: ignore[assignment]

    @extend_schema_field(CertificateLinkSerializer(many=True))
    def get_certificates(self, disposition: Disposition) -> list[dict[str, Any]]:
        lot = disposition.lot.lot_number
        pdf = reverse("api:lot-coa-pdf", args=[lot])
        json_url = reverse("api:lot-coa-json", args=[lot])
        return [
            {
                "version": c.version,
                "pdf": f"{pdf}?version={c.version}",
                "json": f"{json_url}?version={c.version}",
                "pdf_sha256": c.pdf_sha256,
                "json_sha256": c.json_sha256,
            }
            for c in disposition.certificates.all()
        ]


@extend_schema(tags=["release"])
class ReleaseHistoryView(ListAPIView):
    """Every disposition across lots, newest first, with the evaluation it rested on, its
    signature manifest and certificate links; filter by product, lot, decision, signer
    and time; ``?format=csv|jsonl|pdf`` exports every match."""

    permission_classes = [ReadersAndMachines]
    serializer_class = ReleaseHistorySerializer
    filterset_class = ReleaseHistoryFilter
    pagination_class = type(
        "ReleasePagination", (SequencePagination,), {"ordering": ("-decided_at", "-pk")}
    )
    renderer_classes = EXPORTING_RENDERERS

    def get_queryset(self) -> Any:
        return release_history()

    @extend_schema(parameters=[EXPORT_FORMAT_PARAMETER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        fmt = request.accepted_renderer.format
        if fmt in FORMATS:
            dispositions = self.filter_queryset(self.get_queryset())
            return export_response(
                export=history_export(dispositions=dispositions, filters=export_filters(request)),
                fmt=fmt,
                actor=AuthContext.from_request(request).actor,
            )
        return super().get(request, *args, **kwargs)
