"""Certificates of Analysis: the PDF and its JSON twin (latest version, or ``?version=N``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from releases import selectors
from releases.api.commands import command_view
from releases.api.permissions import ReadersAndMachines
from releases.api.serializers import CertificateSerializer, SignedInput
from releases.downloads import certificate_download
from releases.models import Certificate
from releases.policy import ActionKey
from releases.services.certificates import certificate_request_correction
from services.api.errors import JsonErrors

VERSION = OpenApiParameter("version", int, description="A version; default: the latest.")


def _version(request: Request) -> int | None:
    value = request.query_params.get("version")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError({"version": ["must be a positive whole number"]})
    return int(value)


class PdfRenderer(BaseRenderer):
    """Lets ``Accept: application/pdf`` through content negotiation; the view answers
    the stored bytes itself (a ``FileResponse``), so nothing is rendered here."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):  # type: ignore[no-untyped-def]
        return data


class CertificateFileView(JsonErrors, GenericAPIView):
    """One file of a certificate, with its SHA-256 in ``X-Content-SHA256``."""

    permission_classes = [ReadersAndMachines]
    serializer_class = CertificateSerializer
    kind = "pdf"

    def get(self, request: Request, lot_number: str) -> Any:
        lot = selectors.lot_get(lot_number=lot_number)
        certificate = selectors.certificate_get(lot=lot, version=_version(request))
        return certificate_download(certificate, self.kind)


@extend_schema_view(
    get=extend_schema(
        tags=["release"],
        parameters=[VERSION],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
)
class CertificatePdfView(CertificateFileView):
    kind = "pdf"
    renderer_classes = [PdfRenderer]  # refusals are JSON all the same (JsonErrors)


@extend_schema_view(
    get=extend_schema(
        tags=["release"],
        parameters=[VERSION],
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
    )
)
class CertificateJsonView(CertificateFileView):
    kind = "json"
    renderer_classes = [JSONRenderer]


@extend_schema(tags=["release"])
class CertificateListView(ListAPIView):
    """Every version of the lot's certificate, oldest first, with both hashes."""

    permission_classes = [ReadersAndMachines]
    serializer_class = CertificateSerializer
    pagination_class = None
    queryset = Certificate.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Certificate.objects.none()
        lot = selectors.lot_get(lot_number=self.kwargs["lot_number"])
        return selectors.certificates_of(lot=lot).select_related("disposition", "supersedes")


class CorrectionAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    supersedes = CertificateSerializer()


def _accepted(latest: Certificate) -> dict[str, Any]:
    return {
        "detail": f"a corrected certificate (version after {latest.version}) is being generated",
        "supersedes": latest,
    }


CertificateCorrectionView = command_view(
    ActionKey.CERTIFICATE_CORRECTION,
    certificate_request_correction,
    input_class=SignedInput,
    output_class=CorrectionAcceptedSerializer,
    present=_accepted,
    success=status.HTTP_202_ACCEPTED,
    doc="QA approves a corrected certificate with a signature (meaning "
    "'correction_approved') and a reason of a few words: a new version pointing at the "
    "latest, whose signature manifest shows this signature.",
)
