"""The QA officers' and auditors' web UI: server-rendered pages, HTMX for filtering.

Actions are plain POSTs of Django forms: on success, a redirect back with a
message naming the signer, the UTC time and the meaning; on refusal, the page
again with the typed reason kept and every reason listed (409), a wrong
password with the lockout warning (403).  The services authenticate the signer
outside any transaction, so nothing here opens one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from qc.models import Lot, LotStatus, Product, TestMethod
from qc.selectors import control_chart, trend_catalogue
from qc.services.trends import control_baseline_sign, control_baseline_statement
from releases.downloads import attachment_download, certificate_download
from releases.history import ReleaseHistoryFilter, history_export, release_history
from releases.models import (
    Decision,
    Investigation,
    InvestigationKind,
    InvestigationPhase,
    Notification,
)
from releases.policy import ACTIONS, ActionKey, may_take, role_names
from releases.selectors import (
    attachment_get,
    certificate_get,
    lot_audit_trail,
    notifications_for,
)
from releases.services.notifications import notification_mark_read
from releases.services.notifications import notification_open as notification_open_service
from releases.ui.actions import INVESTIGATION_ACTIONS, LOT_ACTIONS
from releases.ui.lists import (
    INVESTIGATIONS,
    LOTS,
    RELEASES,
    VERDICT_CHOICES,
    InvestigationFilters,
    ListParametersRefused,
    LotFilters,
    list_query,
    release_history_filters,
)
from releases.ui.pictures import PICTURE_FRAME
from releases.ui.reference_materials import expiring_materials
from releases.ui.refusals import Refusal, refusal_of
from releases.ui.selectors import (
    Bound,
    attention_for,
    investigation_page,
    investigations_overview,
    lockout_warning,
    lot_page,
    lot_record,
    lots_overview,
    release_panel,
    status_counts,
)
from releases.ui.trends import LEFT, RIGHT, WIDTH, BaselineForm, chart_panels
from releases.worklists import worklist_for
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.errors import DomainError, NotFound
from services.esign.services import SignatureRefused
from services.exports import export_response
from services.permissions import READ_ALL_ROLES, CanReadAuditTrail, has_role

LIST_ROWS = 200


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = status_counts()
    return render(
        request,
        "releases/dashboard.html",
        {
            "work": worklist_for(user=cast(User, request.user)),
            "attention": attention_for(request.user.role),  # type: ignore[union-attr]
            "tiles": [(value, label, counts[value]) for value, label in LotStatus.choices],
            "expiring_materials": expiring_materials(),
            "expiry_warning_days": settings.REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS,
        },
    )


@login_required
def lot_list(request: HttpRequest) -> HttpResponse:
    """Lots, filtered and sorted by the URL's parameters; ``?format=csv``: the rows shown."""
    try:
        query = list_query(request, LOTS, LotFilters)
    except ListParametersRefused as refused:
        return refused.response(request)
    filters = query.cleaned
    lots = query.ordered(
        lots_overview(
            status=filters.get("status", ""),
            product=filters.get("product", ""),
            query=filters.get("q", ""),
            verdict=filters.get("verdict", ""),
        )
    )[:LIST_ROWS]
    if query.fmt:
        return query.export(request, lots)
    template = "releases/_lot_list.html" if request.htmx else "releases/lot_list.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "lots": lots,
            "listing": query,
            "statuses": LotStatus.choices,
            "verdicts": VERDICT_CHOICES,
            "products": Product.objects.order_by("code"),
        },
    )


@login_required
def investigation_list(request: HttpRequest) -> HttpResponse:
    """Investigations, filtered and sorted by the URL's parameters; ``?format=csv``."""
    try:
        query = list_query(request, INVESTIGATIONS, InvestigationFilters)
    except ListParametersRefused as refused:
        return refused.response(request)
    investigations = query.ordered(investigations_overview(**query.cleaned))[:LIST_ROWS]
    if query.fmt:
        return query.export(request, investigations)
    return render(
        request,
        "releases/investigation_list.html",
        {
            "investigations": investigations,
            "listing": query,
            "kinds": InvestigationKind.choices,
            "phases": InvestigationPhase.choices,
        },
    )


# --- the release workflow: lot actions, record, history, certificates -----------------


def _lot_or_404(lot_number: str) -> Lot:
    lot = Lot.objects.select_related("product", "specification").filter(lot_number=lot_number)
    found = lot.first()
    if found is None:
        raise Http404(f"no lot {lot_number}")
    return found


def _render_lot(
    request: HttpRequest, lot_number: str, bound: Bound | None = None, status: int = 200
) -> HttpResponse:
    try:
        page = lot_page(lot_number, request.GET.get("trail"))
    except Lot.DoesNotExist:
        raise Http404(f"no lot {lot_number}") from None
    user = cast(User, request.user)
    context = {
        "page": page,
        "lot": page.lot,
        "release": release_panel(page.lot, user, bound),
        "record": lot_record(page.lot),
        "refused": bound.refusal if bound is not None and bound.form is None else None,
        **PICTURE_FRAME,
    }
    return render(request, "releases/lot_detail.html", context, status=status)


@login_required
def lot_detail(request: HttpRequest, lot_number: str) -> HttpResponse:
    return _render_lot(request, lot_number)


def _signed_words(record: Any) -> str:
    """'Signed by … at … UTC, meaning …' for the success message (11.50 on screen)."""
    signature = getattr(record, "signature", None)
    if signature is None:
        return ""
    return (
        f" Signed by {signature.printed_name} on {signature.signed_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"meaning: {signature.get_meaning_display()}."
    )


def _attempt(
    call: Callable[[], Any], form: forms.Form, user: User
) -> tuple[Any, Refusal | None, int]:
    """Run a service; a refusal comes back with every reason and the HTTP status it means."""
    try:
        return call(), None, 200
    except DomainError as exc:
        warning = lockout_warning(user) if isinstance(exc, SignatureRefused) else ""
        refusal, status = refusal_of(exc, user=user, form=form, lockout_warning=warning)
        return None, refusal, status


def _not_allowed(user: User, key: ActionKey, lot: Lot | None, title: str) -> Refusal:
    names = role_names(ACTIONS[key].roles_for(lot))
    return Refusal(
        "Not allowed: nothing was done",
        [
            f"“{title}” is for a {names}; you are signed in as {user.printed_name} "
            f"({user.get_role_display()}) (21 CFR 11.10(g))."
        ],
        codes=["role_required"],
    )


@login_required
@require_POST
def lot_action(request: HttpRequest, lot_number: str, key: str) -> HttpResponse:
    spec = LOT_ACTIONS.get(key)
    if spec is None:
        raise Http404(f"no action {key}")
    lot = _lot_or_404(lot_number)
    user = cast(User, request.user)
    if not spec.allowed(user, lot):
        denied = _not_allowed(user, spec.key, lot, spec.title)
        return _render_lot(request, lot_number, Bound(key, None, denied), status=403)
    form = spec.form(lot=lot, data=request.POST)
    if not form.is_valid():
        invalid = Refusal("Please correct the form", [])
        return _render_lot(request, lot_number, Bound(key, form, invalid), status=400)
    auth = AuthContext.from_request(request)
    record, refusal, status = _attempt(
        lambda: spec.run(subject={"lot_number": lot.lot_number}, auth=auth, form=form),
        form,
        user,
    )
    if refusal is not None:
        return _render_lot(request, lot_number, Bound(key, form, refusal), status=status)
    messages.success(request, spec.done.format(lot=lot.lot_number) + _signed_words(record))
    # "#top": the form's "#action-…" would otherwise carry over and scroll past the message.
    return redirect(reverse("lot-detail", args=[lot.lot_number]) + "#top")


@login_required
def lot_history(request: HttpRequest, lot_number: str) -> HttpResponse:
    """The lot's release history, for auditors: printable, nothing to act on.

    It is the lot's audit trail, so it is open to the roles that read the audit
    trail (``CanReadAuditTrail``), the same as ``/audit/`` and the API."""
    if not has_role(request.user, *CanReadAuditTrail.roles):
        raise PermissionDenied("the release history is open to auditors, QA and Qualified Persons")
    lot = _lot_or_404(lot_number)
    context = {
        "lot": lot,
        "record": lot_record(lot),
        "events": list(lot_audit_trail(lot=lot)),
        "investigations": list(lot.investigations.order_by("opened_at")),
        "printed_at": timezone.now(),
    }
    return render(request, "releases/lot_history.html", context)


@login_required
def certificate_file(
    request: HttpRequest, lot_number: str, version: int, kind: str
) -> FileResponse:
    lot = _lot_or_404(lot_number)
    try:
        certificate = certificate_get(lot=lot, version=version)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    return certificate_download(certificate, kind, as_attachment=True)


# --- investigations ----------------------------------------------------------------


def _render_investigation(
    request: HttpRequest, number: str, bound: Bound | None = None, status: int = 200
) -> HttpResponse:
    try:
        page = investigation_page(number, cast(User, request.user), bound)
    except NotFound:
        raise Http404(f"no investigation {number}") from None
    context = {
        "page": page,
        "investigation": page.investigation,
        "lot": page.lot,
        "refused": bound.refusal if bound is not None and bound.form is None else None,
    }
    return render(request, "releases/investigation_detail.html", context, status=status)


@login_required
def investigation_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_investigation(request, number)


@login_required
def investigation_attachment(request: HttpRequest, number: str, pk: int) -> FileResponse:
    try:
        attachment = attachment_get(number=number, pk=pk)
    except NotFound:
        raise Http404(f"no attachment {pk} of {number}") from None
    return attachment_download(attachment)


@login_required
@require_POST
def investigation_action(request: HttpRequest, number: str, key: str) -> HttpResponse:
    spec = INVESTIGATION_ACTIONS.get(key)
    if spec is None:
        raise Http404(f"no action {key}")
    investigation = Investigation.objects.select_related("lot").filter(number=number).first()
    if investigation is None:
        raise Http404(f"no investigation {number}")
    user = cast(User, request.user)
    if not spec.allowed(user):
        denied = _not_allowed(user, spec.key, None, spec.title)
        return _render_investigation(request, number, Bound(key, None, denied), status=403)
    form = spec.form(investigation=investigation, data=request.POST, files=request.FILES)
    if not form.is_valid():
        invalid = Refusal("Please correct the form", [])
        return _render_investigation(request, number, Bound(key, form, invalid), status=400)
    auth = AuthContext.from_request(request)
    record, refusal, status = _attempt(
        lambda: spec.run(subject={"number": investigation.number}, auth=auth, form=form),
        form,
        user,
    )
    if refusal is not None:
        return _render_investigation(request, number, Bound(key, form, refusal), status=status)
    if key == ActionKey.CONCLUDE and isinstance(record, Investigation):  # signed on its log entry
        signed = record.entries.filter(signature__isnull=False).order_by("-pk").first()
        record = signed
        lot = Lot.objects.get(pk=investigation.lot_id)
        words = f" Lot {lot.lot_number} is {lot.get_status_display()}."
    else:
        words = ""
    messages.success(request, spec.done.format(number=number) + words + _signed_words(record))
    return redirect(reverse("investigation-detail", args=[number]) + "#top")


# --- notifications -------------------------------------------------------------------


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    notifications = list(notifications_for(user=user)[:200])
    return render(request, "releases/notifications.html", {"notifications": notifications})


@login_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A notification's link: marks it read, then goes to what it is about."""
    notification = notification_open_service(user=cast(User, request.user), notification_id=pk)
    if notification is None:
        raise Http404(f"no notification {pk}")
    if notification.investigation is not None:
        return redirect("investigation-detail", notification.investigation.number)
    if notification.lot is not None:
        return redirect("lot-detail", notification.lot.lot_number)
    return redirect("notification-list")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = cast(User, request.user)
    notification_mark_read(user=user, notification_id=pk)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("notification-list")
    unread = notifications_for(user=user, unread_only=True).count()
    if pk is None:
        notifications = list(notifications_for(user=user)[:200])
        return render(
            request,
            "releases/_notification_list.html",
            {"notifications": notifications, "unread_count": unread, "oob": True},
        )
    notification = get_object_or_404(Notification, pk=pk, recipient=user)
    return render(
        request,
        "releases/_notification_row.html",
        {"n": notification, "unread_count": unread, "oob": True},
    )


@login_required
def release_history_page(request: HttpRequest) -> HttpResponse:
    """Every disposition across lots, with the same filters as ``GET /api/v1/releases/``,
    kept in the URL; ``?format=csv|jsonl|pdf`` exports every match."""
    if not has_role(request.user, *READ_ALL_ROLES):
        raise PermissionDenied("the release history is open to people holding a role")
    try:
        query = list_query(request, RELEASES, release_history_filters())
    except ListParametersRefused as refused:
        return refused.response(request)
    dispositions = ReleaseHistoryFilter(query.filters, queryset=release_history()).qs
    if query.fmt:
        return export_response(
            export=history_export(dispositions=dispositions, filters=query.filters),
            fmt=query.fmt,
            actor=AuthContext.from_request(request).actor,
        )
    return render(
        request,
        "releases/release_history.html",
        {
            "page": Paginator(query.ordered(dispositions), 50).get_page(query.page or 1),
            "listing": query,
            "products": Product.objects.order_by("code"),
            "decisions": Decision.choices,
        },
    )


# --- trends (continued process verification) ---------------------------------------------


@login_required
def trend_list(request: HttpRequest) -> HttpResponse:
    return render(request, "releases/trend_list.html", {"entries": trend_catalogue()})


def _render_trend(
    request: HttpRequest,
    product_code: str,
    test_code: str,
    form: BaselineForm | None = None,
    refusal: Refusal | None = None,
    status: int = 200,
) -> HttpResponse:
    product = get_object_or_404(Product, code=product_code)
    test = get_object_or_404(TestMethod, code=test_code)
    chart = control_chart(product=product, test=test)
    individuals, ranges = chart_panels(chart)
    user = cast(User, request.user)
    lots = [p.lot_number for p in chart.points]
    initial = chart.baseline.lot_numbers if chart.baseline is not None else lots[:15]
    if form is None and may_take(ActionKey.CONTROL_BASELINE, user):
        form = BaselineForm(lots=lots, initial={"lots": initial})
    context = {
        "chart": chart,
        "individuals": individuals,
        "ranges": ranges,
        "violation_rows": [(chart.points[v.index], v) for v in chart.violations],
        "form": form,
        "refusal": refusal,
        "action": ACTIONS[ActionKey.CONTROL_BASELINE],
        "statement": control_baseline_statement(
            product_code=product.code, test_code=test.code, lot_numbers=initial
        ),
        "width": WIDTH,
        "left": LEFT,
        "right_edge": WIDTH - RIGHT,
    }
    return render(request, "releases/trend_detail.html", context, status=status)


@login_required
def trend_detail(request: HttpRequest, product_code: str, test_code: str) -> HttpResponse:
    return _render_trend(request, product_code, test_code)


@login_required
@require_POST
def trend_baseline_sign(request: HttpRequest, product_code: str, test_code: str) -> HttpResponse:
    user = cast(User, request.user)
    key = ActionKey.CONTROL_BASELINE
    if not may_take(key, user):
        denied = _not_allowed(user, key, None, ACTIONS[key].title)
        return _render_trend(request, product_code, test_code, refusal=denied, status=403)
    product = get_object_or_404(Product, code=product_code)
    test = get_object_or_404(TestMethod, code=test_code)
    lots = [p.lot_number for p in control_chart(product=product, test=test).points]
    form = BaselineForm(data=request.POST, lots=lots)
    if not form.is_valid():
        invalid = Refusal("Please correct the form", [])
        return _render_trend(request, product_code, test_code, form, invalid, status=400)
    auth = AuthContext.from_request(request)
    record, refusal, status = _attempt(
        lambda: control_baseline_sign(
            product_code=product.code, test_code=test.code, auth=auth, **form.service_kwargs()
        ),
        form,
        user,
    )
    if refusal is not None:
        return _render_trend(request, product_code, test_code, form, refusal, status=status)
    messages.success(
        request,
        f"Control limits of {test.code} for {product.code} signed from "
        f"{len(record.lot_numbers)} lots." + _signed_words(record),
    )
    return redirect(reverse("trend-detail", args=[product.code, test.code]) + "#top")
