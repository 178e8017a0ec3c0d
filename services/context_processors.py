"""Template context shared by every page: which sections the signed-in person may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from services.permissions import CanReadAuditTrail, has_role


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {"can_read_audit": has_role(user, *CanReadAuditTrail.roles)}
