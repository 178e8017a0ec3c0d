"""``?format=csv|jsonl|pdf`` on a list endpoint: DRF negotiates the format by these
renderers (so the schema lists the media types), and the view answers with the
streamed export itself (``services.exports``); the renderers never render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request


class _ExportRenderer(BaseRenderer):
    charset = None

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):  # type: ignore[no-untyped-def]
        # Errors (a 400 for a bad filter, say) reach here: show them as JSON text.
        import json

        return json.dumps(data).encode()


class CsvExportRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class JsonLinesExportRenderer(_ExportRenderer):
    media_type = "application/jsonl"
    format = "jsonl"


class PdfExportRenderer(_ExportRenderer):
    media_type = "application/pdf"
    format = "pdf"


EXPORT_RENDERERS = [CsvExportRenderer, JsonLinesExportRenderer, PdfExportRenderer]
# What a list endpoint with exports renders: the usual JSON (and browsable API), or a file.
EXPORTING_RENDERERS: list[type[BaseRenderer]] = [
    JSONRenderer,
    BrowsableAPIRenderer,
    *EXPORT_RENDERERS,
]

EXPORT_FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv", "jsonl", "pdf"],
    description=(
        "csv, jsonl or pdf: export every matching row (same filters, not paged), "
        "streamed; each states the audit chain's head and whether verification "
        "passed, and is itself an audit event. PDF is capped (its first page says so)."
    ),
)

_NOT_FILTERS = {"format", "cursor", "page", "page_size"}


def export_filters(request: Request) -> dict[str, str]:
    """The filters of the request, as the export and its audit event name them."""
    params = request.query_params
    return {k: str(params.get(k)) for k in params if k not in _NOT_FILTERS and params.get(k)}
