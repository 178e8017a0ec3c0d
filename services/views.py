"""The web UI's platform pages: the audit trail (the lot pages live in releases.ui), and
the CSP relaxation of the one page that needs it (Redoc).

The same filters as ``GET /api/v1/audit-events/`` (``AuditEventFilter``): lot,
person or machine client, action, object and time; kept in the URL, so a
filtered view can be bookmarked and exported (``?format=csv|jsonl|pdf``).
Paged by sequence number (newest first), which stays fast on any trail length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from services.accounts.context import AuthContext
from services.audit.actions import AuditAction
from services.audit.actor import ActorType
from services.audit.api import AuditEventFilter
from services.audit.exports import audit_export
from services.audit.models import AuditEvent
from services.audit.verification import (
    chain_head,
    chain_progress,
    chain_verification_enqueue,
    latest_verification,
)
from services.exports import FORMATS, export_response
from services.permissions import CanReadAuditTrail, has_role

PAGE_SIZE = 50
FILTER_NAMES = (
    "lot",
    "actor",
    "actor_type",
    "action",
    "object_type",
    "object_id",
    "record",
    "since",
    "until",
)


def _require_reader(request: HttpRequest) -> None:
    if not has_role(request.user, *CanReadAuditTrail.roles):
        raise PermissionDenied("the audit trail is open to auditors, QA and Qualified Persons")


def _query(params: dict[str, str], **extra: Any) -> str:
    return urlencode({**{k: v for k, v in params.items() if v}, **extra})


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    filters = {name: request.GET.get(name, "").strip() for name in FILTER_NAMES}
    filterset = AuditEventFilter(
        {k: v for k, v in filters.items() if v}, queryset=AuditEvent.objects.all()
    )
    valid = filterset.is_valid()
    events = filterset.qs if valid else AuditEvent.objects.none()
    fmt = request.GET.get("format", "")
    if fmt in FORMATS and valid:
        export = audit_export(events=events, filters={k: v for k, v in filters.items() if v})
        return export_response(
            export=export, fmt=fmt, actor=AuthContext.from_request(request).actor
        )
    before = request.GET.get("before", "")
    page = events.order_by("-sequence")
    if before.isdigit():
        page = page.filter(sequence__lt=int(before))
    rows = list(page[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].sequence if len(rows) > PAGE_SIZE else None
    context = {
        "events": rows[:PAGE_SIZE],
        "filters": filters,
        "errors": filterset.errors if not valid else {},
        "older": _query(filters, before=older) if older else "",
        "newest": _query(filters) if before else "",
        "query": _query(filters),
        "actions": AuditAction.choices,
        "actor_types": ActorType.choices,
        "chain": _chain_context(),
    }
    template = "audit/_rows.html" if request.htmx else "audit/trail.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _chain_context() -> dict[str, Any]:
    return {"head": chain_head(), "latest": latest_verification()}


@login_required
@require_POST
def chain_verify(request: HttpRequest) -> HttpResponse:
    """Start a verification of the whole chain on the documents queue; show its progress."""
    _require_reader(request)
    run_id = chain_verification_enqueue(actor=AuthContext.from_request(request).actor)
    if request.htmx:  # type: ignore[attr-defined]
        return chain_run(request, run_id)
    return redirect(f"/audit/chain/{run_id}/")


@login_required
def chain_run(request: HttpRequest, run_id: str) -> HttpResponse:
    _require_reader(request)
    progress = chain_progress(run_id=run_id)
    if progress is None:
        raise Http404("no such verification run")
    done = progress["state"] == "done"
    context = {
        "run_id": run_id,
        "progress": progress,
        "done": done,
        "percent": int(100 * progress["checked"] / progress["total"]) if progress["total"] else 0,
        "chain": _chain_context(),
    }
    template = "audit/_chain.html" if request.htmx else "audit/chain.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def redoc(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redoc injects its styles at run time and searches in a blob: worker; only its
    page allows that (every other page keeps the strict policy)."""
    return csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})(view)
