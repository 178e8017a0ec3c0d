"""The /api/v1/ URL space: the platform's routes plus each app's ``api.urls``."""

from importlib.util import find_spec

from django.urls import URLPattern, URLResolver, include, path

from services.audit.api import (
    AuditEventViewSet,
    ChainVerificationListView,
    ChainVerificationRunView,
    SignatureViewSet,
)

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("audit-events/", AuditEventViewSet.as_view({"get": "list"}), name="audit-event-list"),
    path(
        "audit-chain/verifications/",
        ChainVerificationListView.as_view(),
        name="chain-verification-list",
    ),
    path(
        "audit-chain/verifications/<str:run_id>/",
        ChainVerificationRunView.as_view(),
        name="chain-verification-run",
    ),
    path("signatures/", SignatureViewSet.as_view({"get": "list"}), name="signature-list"),
    path(
        "signatures/<int:pk>/",
        SignatureViewSet.as_view({"get": "retrieve"}),
        name="signature-detail",
    ),
]

for module in ("qc.api.evaluation_urls", "qc.api.urls", "releases.api.urls"):
    if find_spec(module.rsplit(".", 1)[0]) and find_spec(module):
        urlpatterns.append(path("", include(module)))
