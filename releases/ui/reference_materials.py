"""The reference-material pages: certified ranges per test, expiry and status, and
the runs whose system suitability each one controlled (21 CFR 211.194(c))."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from qc.selectors import (
    ExpiringMaterial,
    reference_material_controls,
    reference_material_get,
    reference_material_list,
    reference_materials_expiring,
)
from services.errors import NotFound


def expiring_materials() -> list[ExpiringMaterial]:
    """Materials within REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS of their expiry (or past it):
    the dashboard warns of them, the list and the page mark them."""
    return reference_materials_expiring(
        within_days=settings.REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS, today=timezone.now().date()
    )


def _expiring_by_id() -> dict[int, ExpiringMaterial]:
    return {entry.material.pk: entry for entry in expiring_materials()}


@login_required
def reference_material_list_page(request: HttpRequest) -> HttpResponse:
    soon = _expiring_by_id()
    rows = [(material, soon.get(material.pk)) for material in reference_material_list()]
    return render(
        request,
        "releases/reference_material_list.html",
        {"rows": rows, "expiry_warning_days": settings.REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS},
    )


@login_required
def reference_material_detail(request: HttpRequest, material_id: int) -> HttpResponse:
    try:
        material = reference_material_get(material_id=material_id)
    except NotFound:
        raise Http404(f"no reference material {material_id}") from None
    soon = _expiring_by_id()
    return render(
        request,
        "releases/reference_material_detail.html",
        {
            "material": material,
            "limits": sorted(material.limits.all(), key=lambda limit: limit.test.code),
            "controls": list(reference_material_controls(material=material)[:500]),
            "expiring": soon.get(material.pk),
        },
    )
