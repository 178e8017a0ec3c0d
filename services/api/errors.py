"""One error shape for the whole API.

Every 4xx answers ``{"detail": "...", "errors": [{"field": ..., "index": ..., "reason": ...}]}``
so an integrator's code can point at the offending item of a bulk request.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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


def flatten_errors(detail: Any, path: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Turn DRF's nested error structure into a flat list naming index and field."""
    if isinstance(detail, dict):
        items: list[dict[str, Any]] = []
        for key, value in detail.items():
            items.extend(flatten_errors(value, (*path, key)))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, (str, ErrorDetail)) for item in detail):
            return [_error(path, str(item)) for item in detail]
        items = []
        for index, value in enumerate(detail):
            if value:
                items.extend(flatten_errors(value, (*path, index)))
        return items
    return [_error(path, str(detail))]


def _error(path: tuple[Any, ...], reason: str) -> dict[str, Any]:
    index = next((part for part in path if isinstance(part, int)), None)
    names = [str(part) for part in path if not isinstance(part, int)]
    field = ".".join(n for n in names if n not in {"non_field_errors"}) or None
    error: dict[str, Any] = {"field": field, "reason": reason}
    if index is not None:
        error["index"] = index
    return error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = flatten_errors(exc.detail)
        count = len(errors)
        plural = "s" if count != 1 else ""
        request = context.get("request")
        stored = (
            ""
            if request is not None and request.method in {"GET", "HEAD"}
            else ("; nothing was stored")
        )
        response.data = {
            "detail": f"{count} problem{plural} in the request{stored}",
            "errors": errors,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        extra = {k: v for k, v in response.data.items() if k != "detail"}
        response.data = {"detail": str(response.data["detail"]), **extra}
    return response
