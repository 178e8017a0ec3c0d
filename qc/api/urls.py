"""QC routes, included under /api/v1/ by services/api/urls.py."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from qc.api import trends, views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("test-methods", views.TestMethodViewSet, basename="test-method")
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register(
    "reference-materials", views.ReferenceMaterialViewSet, basename="reference-material"
)
router.register("specifications", views.SpecificationViewSet, basename="specification")
router.register("lots", views.LotViewSet, basename="lot")
router.register("assay-runs", views.AssayRunViewSet, basename="assay-run")
router.register("results", views.ResultViewSet, basename="result")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "lots/<str:lot_number>/results/",
        views.LotResultsView.as_view(),
        name="lot-results",
    ),
    path(
        "trends/<str:product>/<str:test>/",
        trends.ControlChartView.as_view(),
        name="control-chart",
    ),
    path(
        "trends/<str:product>/<str:test>/baselines/",
        trends.ControlBaselineSignView.as_view(),
        name="control-baseline-sign",
    ),
    *router.urls,
]
