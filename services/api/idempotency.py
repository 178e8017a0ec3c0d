"""Idempotent POSTs: a retry returns the first answer and stores nothing new.

The rules (DESIGN.md "Rules that keep records safe"; docs/api.md for integrators):

* Every POST from a machine client carries ``Idempotency-Key`` (1-255 printable
  ASCII characters); without it the answer is 400.  People may send one too.
* Keys belong to their caller (``client:<id>`` or ``user:<id>``) and live for
  ``settings.IDEMPOTENCY_KEY_TTL``.  The request is fingerprinted by SHA-256 over
  method, path and the raw body bytes.
* Same key, same fingerprint, first request completed: the stored status and body
  are returned again, with ``Idempotent-Replayed: true``; nothing is written.
* Same key, other fingerprint: 422.
* Same key while the first request is still being processed: 409.
* Only a successful (2xx) answer is stored.  A refused request (4xx) or a failure
  (5xx) rolls back everything it did and releases the key, so the key never pins
  an answer that did not happen: the same body sent again is judged again (and
  gets the same 4xx if nothing changed), a corrected body may reuse the key.

How: the claim is an ``INSERT ... ON CONFLICT DO NOTHING`` committed on its own
before the work starts, so a concurrent duplicate sees it.  The work then runs in
one transaction that first locks the claim row (``FOR UPDATE NOWAIT``) and ends
by writing the answer into it; a duplicate that finds the row locked gets 409.
A claim left ``in_flight`` and unlocked belongs to a request that died between
its two transactions (the database released its lock): the next retry takes it
over, which is safe because the dead request's work was rolled back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from services.accounts.models import ApiClient
from services.api.errors import Conflict, Unprocessable
from services.api.models import IdempotencyRecord, IdempotencyStatus

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_LOCK_NOT_AVAILABLE = "55P03"
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    status: str
    request_hash: str
    response_status: int | None
    response_body: str | None


def principal_of(user: Any) -> str:
    if isinstance(user, ApiClient):
        return f"client:{user.prefix}"
    return f"user:{user.pk}"


def request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)  # raises RequestDataTooBig (413) past the size limit
    return digest.hexdigest()


def idempotent(request: Request, handler: Callable[[], Response]) -> HttpResponseBase:
    """Run ``handler`` (a POST's work) once per idempotency key; see the module rules.

    ``handler`` runs inside a transaction: anything it writes commits only with a
    2xx answer.  It may raise DRF exceptions; they roll its work back.
    """
    key = request.headers.get(HEADER)
    if key is None:
        if isinstance(request.user, ApiClient):
            raise ValidationError(
                {HEADER: [f"machine clients must send an {HEADER} header with every POST"]}
            )
        return _run_once(handler)
    if not _VALID_KEY.match(key):
        raise ValidationError({HEADER: ["must be 1 to 255 printable ASCII characters"]})
    fingerprint = request_fingerprint(request)
    principal = principal_of(request.user)
    for _ in range(_CLAIM_ATTEMPTS):
        stored = _claim(principal, key, request, fingerprint)
        if stored is None:
            continue
        if stored.request_hash != fingerprint:
            raise Unprocessable(
                f"{HEADER} {key!r} was used for a different request; "
                "use a new key for a new request",
                code="idempotency_key_reused",
            )
        if stored.status == IdempotencyStatus.COMPLETED:
            return _replay(stored)
        response = _work(stored.id, fingerprint, handler)
        if response is not None:
            return response
    raise Conflict(
        f"the request with {HEADER} {key!r} is still in flight; retry later", code="in_flight"
    )


def _run_once(handler: Callable[[], Response]) -> Response:
    with transaction.atomic():
        response = handler()
        if response.status_code >= 400:
            transaction.set_rollback(True)
        return response


def _claim(principal: str, key: str, request: Request, fingerprint: str) -> _Stored | None:
    """Insert the in-flight claim in its own committed transaction, or read the one there.

    ``None``: the claim there a moment ago was released by its failed owner; claim again.
    """
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM api_idempotencyrecord WHERE principal = %s AND key = %s "
            "AND expires_at < %s",
            [principal, key, now],
        )
        cursor.execute(
            "INSERT INTO api_idempotencyrecord "
            "(principal, key, method, path, request_hash, status, response_body, "
            "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s) "
            "ON CONFLICT (principal, key) DO NOTHING RETURNING id",
            [
                principal,
                key,
                request.method,
                request.path[:500],
                fingerprint,
                IdempotencyStatus.IN_FLIGHT,
                now,
                now + settings.IDEMPOTENCY_KEY_TTL,
            ],
        )
        row = cursor.fetchone()
    if row is not None:
        return _Stored(row[0], IdempotencyStatus.IN_FLIGHT, fingerprint, None, None)
    record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
    return None if record is None else _stored(record)


def _stored(record: IdempotencyRecord) -> _Stored:
    return _Stored(
        record.pk,
        record.status,
        record.request_hash,
        record.response_status,
        record.response_body,
    )


def _work(
    record_id: int, fingerprint: str, handler: Callable[[], Response]
) -> HttpResponseBase | None:
    """Lock the claim, do the work, store the answer; ``None`` if the claim vanished."""
    owned = stored_ok = False
    try:
        with transaction.atomic():
            record = _lock(record_id)
            if record is None:
                return None
            if record.status == IdempotencyStatus.COMPLETED:
                return _replay(_stored(record))
            owned = True
            response = handler()
            if response.status_code >= 400:
                transaction.set_rollback(True)
                return response
            # Rendered once, stored, and sent: a replay is the same bytes.
            body = JSONRenderer().render(response.data).decode()
            IdempotencyRecord.objects.filter(pk=record_id).update(
                status=IdempotencyStatus.COMPLETED,
                response_status=response.status_code,
                response_body=body,
                completed_at=timezone.now(),
            )
            stored_ok = True
            return _answer(response.status_code, body)
    finally:
        if owned and not stored_ok:
            _release(record_id)


def _lock(record_id: int) -> IdempotencyRecord | None:
    try:
        return IdempotencyRecord.objects.select_for_update(nowait=True).filter(pk=record_id).first()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise Conflict(
                f"a request with this {HEADER} is still in flight; retry later to get its answer",
                code="in_flight",
            ) from exc
        raise


def _release(record_id: int) -> None:
    """Free the key of a request whose work did not commit (nothing to replay)."""
    if connection.in_atomic_block and connection.needs_rollback:
        return  # an enclosing transaction is broken; its rollback undoes the claim too
    IdempotencyRecord.objects.filter(pk=record_id, status=IdempotencyStatus.IN_FLIGHT).delete()


def _answer(status: int | None, body: str | None) -> HttpResponse:
    return HttpResponse(body or "", status=status, content_type="application/json")


def _replay(stored: _Stored) -> HttpResponse:
    response = _answer(stored.response_status, stored.response_body)
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_purge(*, now: Any = None, grace: timedelta | None = None) -> int:
    """Delete expired keys; return how many went."""
    cutoff = (now or timezone.now()) - (grace or timedelta(0))
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
