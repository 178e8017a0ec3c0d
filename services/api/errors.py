"""One error shape for the whole API, from one exception handler.

Every 4xx answers::

    {"detail": "...", "errors": [{"code": "...", "reason": "...", "field": ..., "index": ...}]}

``detail`` is the headline for a person; each item of ``errors`` names one problem
by a stable ``code`` (what clients and tests branch on), the reason in words, the
field and, in a bulk request, the item's index.  Services raise
:class:`services.errors.DomainError`; DRF raises its own exceptions (validation,
authentication, parsing, throttling): both end here, so no view maps errors itself.
"""

from __future__ import annotations

from typing import Any

import psycopg.errors
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from services.errors import DomainError, ErrorKind, Problem, TooManyAttempts

STATUS_OF_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_ALLOWED: status.HTTP_403_FORBIDDEN,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorKind.THROTTLED: status.HTTP_429_TOO_MANY_REQUESTS,
}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the request conflicts with the current state"
    default_code = "conflict"


class Unprocessable(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "the request cannot be processed"
    default_code = "unprocessable"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is larger than the limit"
    default_code = "payload_too_large"


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "code": problem.code,
        "reason": problem.reason,
        "field": problem.field,
        "index": problem.index,
    }


def error_body(detail: str, problems: list[Problem]) -> dict[str, Any]:
    return {"detail": detail, "errors": [problem_json(problem) for problem in problems]}


def flatten_errors(detail: Any, path: tuple[Any, ...] = ()) -> list[Problem]:
    """Turn DRF's nested error structure into a flat list naming index and field."""
    if isinstance(detail, dict):
        items: list[Problem] = []
        for key, value in detail.items():
            items.extend(flatten_errors(value, (*path, key)))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, (str, ErrorDetail)) for item in detail):
            return [_problem(path, item) for item in detail]
        items = []
        for index, value in enumerate(detail):
            if value:
                items.extend(flatten_errors(value, (*path, index)))
        return items
    return [_problem(path, detail)]


def _problem(path: tuple[Any, ...], detail: Any) -> Problem:
    index = next((part for part in path if isinstance(part, int)), None)
    names = [str(part) for part in path if not isinstance(part, int)]
    field = ".".join(n for n in names if n not in {"non_field_errors"}) or None
    code = str(getattr(detail, "code", None) or "invalid")
    return Problem(code=code, reason=str(detail), field=field, index=index)


def _counted(problems: list[Problem], request: Any) -> str:
    count = len(problems)
    stored = (
        "" if request is not None and request.method in {"GET", "HEAD"} else "; nothing was stored"
    )
    return f"{count} problem{'s' if count != 1 else ''} in the request{stored}"


def _deadlock(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and isinstance(
        exc.__cause__, psycopg.errors.DeadlockDetected
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, DomainError):
        headline = exc.headline
        if exc.kind == ErrorKind.INVALID and request is not None and request.method != "GET":
            headline = f"{headline}; nothing was stored"
        refusal = Response(error_body(headline, exc.problems), status=STATUS_OF_KIND[exc.kind])
        if isinstance(exc, TooManyAttempts):
            refusal["Retry-After"] = str(exc.retry_after)
        return refusal
    if _deadlock(exc):
        # PostgreSQL broke a lock cycle with a concurrent evaluation of the same lot:
        # the transaction rolled back, nothing was recorded; the client may retry.
        problem = Problem("concurrent_update", "the lot changed meanwhile; please try again")
        return Response(
            error_body("nothing was recorded: the lot changed meanwhile", [problem]),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        problems = flatten_errors(exc.detail)
        response.data = error_body(_counted(problems, request), problems)
        return response
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    code = str(getattr(detail, "code", None) or getattr(exc, "default_code", "error"))
    if isinstance(exc, Http404):
        code = "not_found"
    response.data = error_body(str(detail), [Problem(code, str(detail))])
    return response


class JsonErrors:
    """For a view answering something other than JSON (a PDF, the OpenAPI YAML): its
    refusals are still JSON in the one shape, whatever renderer ``Accept`` chose."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
