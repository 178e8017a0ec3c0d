"""Certificates of Analysis: the PDF and its JSON twin (latest version, or ``?version=N``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from releases import selectors
from releases.api import permissions as roles
from releases.api.errors import release_errors
from releases.api.lots import REFUSALS
from releases.api.permissions import PersonWithRole, ReadersAndMachines
from releases.api.serializers import CertificateSerializer, ReasonOnlyInput
from releases.downloads import certificate_download
from releases.models import Certificate
from releases.services.certificates import certificate_request_correction

VERSION = OpenApiParameter("version", int, description="A version; default: the latest.")


def _version(request: Request) -> int | None:
    value = request.query_params.get("version")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError({"version": ["must be a positive whole number"]})
    return int(value)


class CertificateFileView(GenericAPIView):
    """One file of a certificate, with its SHA-256 in ``X-Content-SHA256``."""

    permission_classes = [ReadersAndMachines]
    serializer_class = CertificateSerializer
    kind = "pdf"

    @extend_schema(tags=["release"], parameters=[VERSION], responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, lot_number: str) -> Any:
        with release_errors():
            lot = selectors.lot_get(lot_number=lot_number)
            certificate = selectors.certificate_get(lot=lot, version=_version(request))
        return certificate_download(certificate, self.kind)


class CertificatePdfView(CertificateFileView):
    kind = "pdf"


class CertificateJsonView(CertificateFileView):
    kind = "json"


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
        with release_errors():
            lot = selectors.lot_get(lot_number=self.kwargs["lot_number"])
        return selectors.certificates_of(lot=lot).select_related("disposition", "supersedes")


class CertificateCorrectionView(GenericAPIView):
    """QA asks for a corrected certificate: a new version pointing at the latest."""

    permission_classes = [PersonWithRole.of(*roles.QA)]
    serializer_class = ReasonOnlyInput

    @extend_schema(tags=["release"], responses={202: CertificateSerializer, **REFUSALS})
    def post(self, request: Request, lot_number: str) -> Response:
        serializer = ReasonOnlyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        with release_errors():
            latest = certificate_request_correction(
                lot_number=lot_number, by=request.user, reason=serializer.validated_data["reason"]
            )
        body = {
            "detail": f"a corrected certificate (version after {latest.version}) is being "
            "generated",
            "supersedes": CertificateSerializer(latest).data,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
