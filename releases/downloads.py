"""Serving an issued certificate's bytes, exactly as stored (API and web UI alike)."""

from __future__ import annotations

import io

from django.http import FileResponse

from releases.models import Certificate, InvestigationAttachment

CONTENT_TYPES = {"pdf": "application/pdf", "json": "application/json"}


def certificate_download(
    certificate: Certificate, kind: str, *, as_attachment: bool = False
) -> FileResponse:
    """The ``pdf`` or ``json`` document, its SHA-256 in ``X-Content-SHA256``."""
    data, digest = certificate.document(kind)
    response = FileResponse(
        io.BytesIO(data),
        content_type=CONTENT_TYPES[kind],
        as_attachment=as_attachment,
        filename=f"{certificate.lot.lot_number}-CoA-v{certificate.version}.{kind}",
    )
    response["X-Content-SHA256"] = digest
    response["X-Certificate-Version"] = str(certificate.version)
    return response


def attachment_download(attachment: InvestigationAttachment) -> FileResponse:
    """A raw-data file as stored, always as a download (never rendered in our origin),
    its SHA-256 in ``X-Content-SHA256``."""
    response = FileResponse(
        io.BytesIO(bytes(attachment.content)),
        content_type="application/octet-stream",
        as_attachment=True,
        filename=attachment.file_name,
    )
    response["X-Content-SHA256"] = attachment.sha256
    return response
