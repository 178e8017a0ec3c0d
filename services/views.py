"""The web UI's platform pages: the audit trail (the lot pages live in releases.ui), and
the CSP relaxation of the one page that needs it (Redoc)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from services.audit.selectors import audit_events
from services.permissions import CanReadAuditTrail, has_role


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, *CanReadAuditTrail.roles):
        raise PermissionDenied("the audit trail is open to auditors, QA and Qualified Persons")
    events = audit_events(
        object_type=request.GET.get("object_type") or None,
        object_id=request.GET.get("object_id") or None,
    ).order_by("-sequence")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    template = "audit/_rows.html" if request.htmx else "audit/trail.html"  # type: ignore[attr-defined]
    return render(request, template, {"page": page, "filters": request.GET})


def redoc(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redoc injects its styles at run time and searches in a blob: worker; only its
    page allows that (every other page keeps the strict policy)."""
    return csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})(view)
