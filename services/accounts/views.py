from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def locked_out(
    request: HttpRequest, credentials: dict[str, Any] | None = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """Shown (and answered to the API) once an account is locked (21 CFR 11.300(d))."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": "This account is locked after repeated failed attempts. "
                "An administrator must unlock it."
            },
            status=403,
        )
    return render(request, "registration/locked_out.html", status=403)
