"""The schema's own page (apart from ``services.api.schema``, which DRF's settings import
while its views are being loaded: a view class there would import them back)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView

from services.api.errors import JsonErrors


class SchemaView(JsonErrors, SpectacularAPIView):
    """``/api/schema/``: refused (401) to anonymous visitors in the API's JSON error shape."""
