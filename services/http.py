"""The HTTP edge: hostile input refused early, and every error page in its one shape.

- :class:`HostileInputMiddleware` answers 400 before anything reads the request
  when it carries a NUL byte (path, query, headers, form or JSON: PostgreSQL
  refuses NUL in text, so it would otherwise surface as a 500), a JSON body that is
  not UTF-8 or nested deeper than ``API_MAX_JSON_DEPTH``.
- Under ``/api/`` every error is JSON in the API's one shape
  (``{"detail", "errors": [{code, reason, field, index}]}``, see
  ``services.api.errors``), whatever ``DEBUG`` says: unknown paths (the catch-all
  :func:`api_not_found`), exceptions escaping a view (:class:`ErrorShapeMiddleware`)
  and Django's own 400/403/404/500 handlers.
- Elsewhere the web UI answers its own styled pages (``400.html`` ... ``500.html``
  in ``services/templates``, with the site's navigation; the 403 page says why).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import loader
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import requires_csrf_token

from services.api.errors import error_body
from services.errors import Problem
from services.observability import current_request_id

log = logging.getLogger("django.request")

API_PREFIX = "/api/"
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;|$)", re.IGNORECASE)
_FORM_TYPE = "application/x-www-form-urlencoded"
# A JSON string literal (possessive: no backtracking on long strings).
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")
# \u0000 not itself escaped (preceded by an even number of backslashes).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(
    status: int,
    detail: str,
    *,
    code: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """An error in the API's one shape, for answers given outside DRF."""
    response = JsonResponse(error_body(detail, [Problem(code, detail, field)]), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_too_deep(text: str, limit: int) -> bool:
    """Is the JSON ``text`` nested deeper than ``limit``?  Strings are skipped; the
    brackets left are peeled one level per pass (C-speed regex, ``limit`` passes)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    run = re.compile(r"[\[{]{" + str(limit + 1) + "}")
    for _ in range(limit):
        if not brackets:
            return False
        if run.search(brackets):
            return True
        brackets, removed = _EMPTY_PAIR.subn("", brackets)
        if not removed:
            return False  # unbalanced: the parser will say it is malformed
    return bool(brackets)


def _has_nul(values: Any) -> bool:
    return any("\x00" in key or any("\x00" in v for v in items) for key, items in values)


class HostileInputMiddleware:
    """400 for input no part of the system should ever see (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        problem = self.problem(request)
        if problem is not None:
            return bad_input(request, problem)
        return self.get_response(request)

    def problem(self, request: HttpRequest) -> Problem | None:
        if "\x00" in request.path_info or "\x00" in request.path:
            return Problem("nul_byte", "the path contains a NUL byte", "path")
        if _has_nul(request.GET.lists()):
            return Problem("nul_byte", "the query string contains a NUL byte", "query")
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                return Problem("nul_byte", "a header contains a NUL byte", "headers")
        if request.method in {"GET", "HEAD", "OPTIONS"}:
            return None
        content_type = request.META.get("CONTENT_TYPE", "")
        if _JSON_TYPE.match(content_type):
            return self._json_problem(request)
        if content_type.lower().startswith(_FORM_TYPE):
            try:
                if _has_nul(request.POST.lists()):
                    return Problem("nul_byte", "a form field contains a NUL byte", "body")
            except RequestDataTooBig:
                return None  # answered 413 where the body is read
        return None

    def _json_problem(self, request: HttpRequest) -> Problem | None:
        try:
            body = request.body
        except RequestDataTooBig:
            return None  # answered 413 where the body is read
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Problem("invalid_utf8", "the JSON body is not valid UTF-8", "body")
        if "\x00" in text or _NUL_ESCAPE.search(text):
            return Problem("nul_byte", "the JSON body contains a NUL character", "body")
        limit = settings.API_MAX_JSON_DEPTH
        if json_too_deep(text, limit):
            return Problem(
                "too_deep", f"the JSON body is nested deeper than {limit} levels", "body"
            )
        return None


def bad_input(request: HttpRequest, problem: Problem) -> HttpResponse:
    if api_request(request):
        body = error_body(f"bad request: {problem.reason}; nothing was stored", [problem])
        return JsonResponse(body, status=400)
    return _page(request, "400.html", 400, reason=problem.reason)


class ErrorShapeMiddleware:
    """Exceptions that escape a view: JSON under ``/api/`` (any ``DEBUG``); a database
    refusal of a value (``DataError``: out of range, too long) is a 400 everywhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DataError):
            log.warning("bad request: the database refused a value: %s", exception)
            return bad_input(
                request, Problem("invalid_value", "a value in the request is out of range")
            )
        if not api_request(request):
            return None  # Django's handlers (below) render the UI's pages
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return bad_request(request, exception)
        # Reported as Django reports an uncaught exception (logs, and the test client
        # re-raises it), then answered in the API's shape instead of a debug page.
        log.error("Internal Server Error: %s", request.path, exc_info=exception)
        signals.got_request_exception.send(sender=None, request=request)
        return _api_server_error()


def _api_server_error() -> JsonResponse:
    request_id = current_request_id()
    detail = "internal error: nothing was stored" + (
        f"; quote request id {request_id}" if request_id else ""
    )
    return json_error(500, detail, code="server_error")


def _page(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    try:
        body = loader.render_to_string(template, context, request)
    except Exception:  # the failure may be what renders pages (database down...)
        log.exception("error page %s rendered without the request context", template)
        body = loader.render_to_string(template, context)
    return HttpResponse(body, status=status)


# --- Django's error handlers (services.urls: handler400 ... handler500) ---


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if api_request(request):
        return json_error(400, "bad request", code="bad_request")
    return _page(request, "400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception or "") or "your role does not allow this"
    if api_request(request):
        return json_error(403, reason, code="permission_denied")
    return _page(request, "403.html", 403, reason=reason)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if api_request(request):
        return json_error(404, f"no such resource: {request.path}", code="not_found")
    return _page(request, "404.html", 404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if api_request(request):
        return _api_server_error()
    return _page(request, "500.html", 500, request_id=current_request_id())


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Every path under /api/ that names nothing: a JSON 404, in DEBUG too."""
    detail = f"no such resource: {request.path}"
    if not request.path.endswith("/"):
        try:
            if resolve(request.path_info + "/").func is not api_not_found:
                detail += f" (did you mean {request.path}/ ?)"
        except Resolver404:
            pass
    return json_error(404, detail, code="not_found")
