"""The QA officers' and auditors' web UI: server-rendered pages, HTMX for filtering."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from qc.models import Lot, LotStatus, Product
from releases.models import Investigation
from releases.ui.selectors import attention_for, lot_page, lots_overview, status_counts


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = status_counts()
    return render(
        request,
        "releases/dashboard.html",
        {
            "attention": attention_for(request.user.role),  # type: ignore[union-attr]
            "tiles": [(value, label, counts[value]) for value, label in LotStatus.choices],
        },
    )


@login_required
def lot_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "status": request.GET.get("status", ""),
        "product": request.GET.get("product", ""),
        "query": request.GET.get("q", "").strip(),
    }
    lots = lots_overview(**filters)[:200]
    template = "releases/_lot_rows.html" if request.htmx else "releases/lot_list.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "lots": lots,
            "filters": filters,
            "statuses": LotStatus.choices,
            "products": Product.objects.order_by("code"),
        },
    )


@login_required
def lot_detail(request: HttpRequest, lot_number: str) -> HttpResponse:
    try:
        page = lot_page(lot_number)
    except Lot.DoesNotExist:
        raise Http404(f"no lot {lot_number}") from None
    return render(request, "releases/lot_detail.html", {"page": page, "lot": page.lot})


@login_required
def investigation_list(request: HttpRequest) -> HttpResponse:
    investigations = Investigation.objects.select_related("lot").order_by("-opened_at")[:200]
    return render(request, "releases/investigation_list.html", {"investigations": investigations})
