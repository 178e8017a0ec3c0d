"""/healthz/live (the process answers) and /healthz/ready (it can do its work)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from services.health.checks import broker_problem, database_problem


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, behind ``METRICS_TOKEN`` (a bearer token), since the ingress
    may route every path to the web pods.  Without a token they are refused (403)
    unless ``METRICS_PUBLIC`` says the network keeps them private."""
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not constant_time_compare(offered, token):
            return HttpResponse(
                "metrics need the bearer token\n", status=401, content_type="text/plain"
            )
    elif not settings.METRICS_PUBLIC:
        return HttpResponse(
            "metrics are off: set METRICS_TOKEN (or METRICS_PUBLIC=true)\n",
            status=403,
            content_type="text/plain",
        )
    return ExportToDjangoView(request)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_problem(), "broker": broker_problem()}
    failing = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "unavailable" if failing else "ok",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return JsonResponse(body, status=503 if failing else 200)
