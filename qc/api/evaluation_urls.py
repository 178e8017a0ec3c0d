from django.urls import path

from qc.api.evaluations import (
    LotEvaluationHistoryView,
    LotEvaluationView,
    SpecificationImpactView,
)

urlpatterns = [
    path("lots/<str:lot_number>/evaluation/", LotEvaluationView.as_view(), name="lot-evaluation"),
    path(
        "lots/<str:lot_number>/evaluations/",
        LotEvaluationHistoryView.as_view(),
        name="lot-evaluation-history",
    ),
    path(
        "products/<str:code>/specifications/<int:version>/impact/",
        SpecificationImpactView.as_view(),
        name="specification-impact",
    ),
]
