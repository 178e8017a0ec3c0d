"""Turning the QC services' refusals into the API's error answers (services/api/errors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied

from qc.services.errors import InvalidInput, NotAllowed, StateConflict
from qc.services.errors import NotFound as DomainNotFound
from services.api.errors import Conflict
from services.esign.services import SignatureRefused


class InvalidItems(APIException):
    """400 with every problem named by item index and field; nothing was stored.

    The body is the platform's error shape, built here directly so that indexes
    stay numbers and nested fields keep their dotted names (``controls.value``).
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, problem: InvalidInput) -> None:
        super().__init__()
        errors: list[dict[str, Any]] = []
        for error in problem.errors:
            item: dict[str, Any] = {"field": error.field, "reason": error.reason}
            if error.index is not None:
                item["index"] = error.index
            errors.append(item)
        count = len(errors)
        body: dict[str, Any] = {
            "detail": f"{count} problem{'s' if count != 1 else ''} in the request; "
            "nothing was stored",
            "errors": errors,
        }
        self.detail = body


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map a service's refusal to its HTTP answer: 400, 403, 404 or 409."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidItems(exc) from exc
    except DomainNotFound as exc:
        raise NotFound(str(exc)) from exc
    except StateConflict as exc:
        raise Conflict(str(exc)) from exc
    except (NotAllowed, SignatureRefused) as exc:
        raise PermissionDenied(str(exc)) from exc
