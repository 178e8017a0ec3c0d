"""Query filters of the QC read endpoints (django-filter), by codes rather than ids."""

from __future__ import annotations

import django_filters

from qc.models import (
    AssayRun,
    Instrument,
    Lot,
    LotStatus,
    Product,
    ReferenceMaterial,
    ReferenceMaterialStatus,
    Result,
    Specification,
    SpecificationStatus,
    TestMethod,
)
from qc.models.master import AttributeClass, ResultKind
from services.api.filters import IsoDateTimeFilter


class LotFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__code", help_text="Product code.")
    status = django_filters.MultipleChoiceFilter(choices=LotStatus.choices)
    manufactured_after = django_filters.DateFilter(field_name="manufactured_on", lookup_expr="gte")
    manufactured_before = django_filters.DateFilter(field_name="manufactured_on", lookup_expr="lte")

    class Meta:
        model = Lot
        fields = ("product", "status", "site")


class ResultFilter(django_filters.FilterSet):
    lot = django_filters.CharFilter(field_name="lot__lot_number", help_text="Lot number.")
    test = django_filters.CharFilter(field_name="test__code", help_text="Test method code.")
    run = django_filters.CharFilter(field_name="run__external_run_id", help_text="Run id.")
    received_after = IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    current = django_filters.BooleanFilter(
        field_name="superseded_by",
        lookup_expr="isnull",
        help_text="true: only results no later result supersedes.",
    )

    class Meta:
        model = Result
        fields = ("lot", "test", "run")


class AssayRunFilter(django_filters.FilterSet):
    method = django_filters.CharFilter(field_name="method__code", help_text="Test method code.")
    instrument = django_filters.CharFilter(field_name="instrument__code")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = AssayRun
        fields = ("method", "instrument", "analyst")


class ProductFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Product
        fields = ("name",)


class TestMethodFilter(django_filters.FilterSet):
    attribute_class = django_filters.ChoiceFilter(choices=AttributeClass.choices)
    result_kind = django_filters.ChoiceFilter(choices=ResultKind.choices)

    class Meta:
        model = TestMethod
        fields = ("attribute_class", "technique", "result_kind", "active")


class InstrumentFilter(django_filters.FilterSet):
    class Meta:
        model = Instrument
        fields = ("technique", "active")


class ReferenceMaterialFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ReferenceMaterialStatus.choices)

    class Meta:
        model = ReferenceMaterial
        fields = ("code", "lot", "kind", "status")


class SpecificationFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__code", help_text="Product code.")
    status = django_filters.ChoiceFilter(choices=SpecificationStatus.choices)

    class Meta:
        model = Specification
        fields = ("product", "status")
