"""QC reads (HackSoft style): querysets and lookups the API, UI and tasks share."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from qc.models import (
    AssayRun,
    Evaluation,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    Result,
    Specification,
    SpecificationStatus,
    TestMethod,
)


@dataclass(frozen=True, slots=True)
class CurrentEvaluation:
    evaluation: Evaluation
    # The lot's data (or its bound specification) changed after this evaluation.
    stale: bool


def lot_current_evaluation(lot: Lot) -> CurrentEvaluation | None:
    """The lot's newest evaluation, and whether data arrived since (the one place to ask)."""
    evaluation = Evaluation.objects.filter(lot=lot).order_by("-pk").first()
    if evaluation is None:
        return None
    stale = (
        evaluation.data_version < lot.data_version
        or evaluation.specification_id != lot.specification_id
    )
    return CurrentEvaluation(evaluation, stale=stale)


def lot_list() -> QuerySet[Lot]:
    return Lot.objects.select_related(
        "product", "specification", "created_by_client", "created_by_user"
    )


def lot_by_number(lot_number: str) -> Lot | None:
    return lot_list().filter(lot_number=lot_number).first()


def result_list() -> QuerySet[Result]:
    return Result.objects.select_related(
        "lot",
        "test",
        "run",
        "posted_by_client",
        "entered_by_user",
        "invalidation",
        "superseded_by",
    ).order_by("pk")


def assay_run_list() -> QuerySet[AssayRun]:
    return AssayRun.objects.select_related(
        "method", "instrument", "posted_by_client", "entered_by_user"
    ).prefetch_related("controls__reference_material", "controls__test")


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def test_method_list() -> QuerySet[TestMethod]:
    return TestMethod.objects.all()


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.all()


def reference_material_list() -> QuerySet[ReferenceMaterial]:
    return ReferenceMaterial.objects.prefetch_related("limits__test")


def specification_list() -> QuerySet[Specification]:
    return Specification.objects.select_related(
        "product", "based_on", "approved_by", "created_by", "approval_signature"
    ).prefetch_related("lines__test")


def specification_effective(product: Product) -> Specification | None:
    return (
        specification_list().filter(product=product, status=SpecificationStatus.EFFECTIVE).first()
    )
