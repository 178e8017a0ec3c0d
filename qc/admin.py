"""QC admin: master data is editable and audited; GMP records are view-only.

Every add and change of master data goes through ``master_data_save`` (old and
new values and the reason into the audit trail, EU GMP Annex 11 §9, 21 CFR
11.10(e)); a change needs a reason.  Nothing can be deleted here (and PostgreSQL
refuses deletes anyway).  Lots, specifications, runs and results are shown but
not edited: they change only through their workflows (API, signatures).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from qc.models import (
    AssayRun,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    Result,
    RunControl,
    Specification,
    SpecificationLine,
    TestMethod,
)
from qc.services.master import master_data_problems, master_data_save

REASON_FIELD = "change_reason"


class AuditedForm(forms.ModelForm):
    change_reason = forms.CharField(
        label="Reason for change",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Recorded in the audit trail with the old and new values (required for "
        "a change).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[REASON_FIELD].required = not self.instance._state.adding

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # the instance now holds the values
        for field, problem in master_data_problems(instance=self.instance).items():
            if field in self.fields:
                self.add_error(field, problem)
            else:
                self.add_error(None, f"{field}: {problem}")


class AuditedAdmin(admin.ModelAdmin):
    """Add and change through ``master_data_save``; never delete."""

    form = AuditedForm

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = [name for name in form.fields if name != REASON_FIELD and _is_field(obj, name)]
        if change:
            fields = [name for name in fields if name in form.changed_data]
        reason = form.cleaned_data.get(REASON_FIELD) or "created in the admin"
        master_data_save(instance=obj, by=request.user, reason=reason, fields=fields)  # type: ignore[arg-type]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        reason = form.cleaned_data.get(REASON_FIELD) or "created in the admin"
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not hasattr(inline_form, "cleaned_data"):
                continue
            instance = inline_form.save(commit=False)
            fields = [n for n in inline_form.changed_data if _is_field(instance, n)]
            master_data_save(instance=instance, by=request.user, reason=reason, fields=fields)  # type: ignore[arg-type]


def _is_field(obj: models.Model, name: str) -> bool:
    try:
        obj._meta.get_field(name)
    except FieldDoesNotExist:  # a form-only field (the reason)
        return False
    return True


class ReadOnly:
    """GMP records change only through their workflows; in the admin they are read."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ViewOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class ViewOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False


# ---------------------------------------------------------------------------
# Master data
# ---------------------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = ("code", "name", "requires_qp_certification", "shelf_life_days")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()


@admin.register(TestMethod)
class TestMethodAdmin(AuditedAdmin):
    list_display = ("code", "name", "attribute_class", "technique", "result_kind", "active")
    list_filter = ("attribute_class", "result_kind", "technique", "active")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # Stored canonical values are in this unit: it cannot change under them.
        if Result.objects.filter(test=obj).exists():
            return ("code", "result_kind", "canonical_unit")
        return ("code",)


@admin.register(Instrument)
class InstrumentAdmin(AuditedAdmin):
    list_display = ("code", "name", "technique", "calibration_due", "active")
    list_filter = ("technique", "active")
    search_fields = ("code", "name", "serial_number")


class ReferenceMaterialLimitInline(admin.TabularInline):
    model = ReferenceMaterialLimit
    extra = 0
    can_delete = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReferenceMaterial)
class ReferenceMaterialAdmin(AuditedAdmin):
    list_display = ("code", "lot", "name", "kind", "status", "expires_on")
    list_filter = ("status", "kind")
    search_fields = ("code", "lot", "name")
    inlines = [ReferenceMaterialLimitInline]


# ---------------------------------------------------------------------------
# GMP records: view only
# ---------------------------------------------------------------------------


class SpecificationLineInline(ViewOnlyInline):
    model = SpecificationLine
    fields = ("position", "name", "test", "criterion_type", "params", "alert_params", "decimals")


@admin.register(Specification)
class SpecificationAdmin(ViewOnlyAdmin):
    list_display = ("product", "version", "status", "approved_at", "approved_by")
    list_filter = ("status", "product")
    inlines = [SpecificationLineInline]


@admin.register(Lot)
class LotAdmin(ViewOnlyAdmin):
    list_display = ("lot_number", "product", "status", "manufactured_on", "data_version")
    list_filter = ("status", "product")
    search_fields = ("lot_number",)


class RunControlInline(ViewOnlyInline):
    model = RunControl
    fields = ("reference_material", "test", "value_as_posted", "unit_as_posted", "canonical_value")


@admin.register(AssayRun)
class AssayRunAdmin(ViewOnlyAdmin):
    list_display = ("external_run_id", "method", "instrument", "analyst", "started_at")
    list_filter = ("method",)
    search_fields = ("external_run_id", "analyst")
    inlines = [RunControlInline]


@admin.register(Result)
class ResultAdmin(ViewOnlyAdmin):
    list_display = ("id", "lot", "test", "value_as_posted", "unit_as_posted", "received_at")
    list_filter = ("test",)
    search_fields = ("lot__lot_number",)
    list_select_related = ("lot", "test")
