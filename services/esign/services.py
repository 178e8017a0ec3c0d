"""Signing records (21 CFR 11.50, 11.70, 11.200, 11.300).

Signing happens in two steps so a refused attempt is never lost:

1. :func:`signer_authenticate`, outside any transaction: the signer re-enters
   the password (11.200(a)(1)); a failure is committed to the audit trail and
   counts toward the account lockout (11.300(d)) even though the signing that
   asked for it will not happen.
2. :func:`signature_record`, inside the transaction that makes the signed
   change (a release, say), so the signature and the change commit together.

:func:`signature_apply` does both for callers with nothing else to lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from services.accounts.context import AuthContext
from services.accounts.models import User
from services.accounts.throttle import login_throttle
from services.audit.actions import AuditAction
from services.audit.services import audit_record
from services.errors import InvalidInput, NotAllowed
from services.esign.canonical import Signable, content_digest, record_content
from services.esign.models import Meaning, Signature


class SignatureRefused(NotAllowed):
    """The signer could not be authenticated, or may not sign this (403; counts toward lockout)."""

    default_code = "signature_refused"


@dataclass(frozen=True)
class SignatureCheck:
    signature: Signature
    intact: bool
    reason: str


def _auth_request(auth: AuthContext, signing_for: Mapping[str, str]) -> HttpRequest:
    """The request django-axes counts the attempt against: the signer's client address
    (already resolved behind any trusted proxy, so it is carried as is), and what the
    signature was for, which the audit event of a failed attempt names."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = auth.client_address
    request.evrelease_client_address = auth.client_address  # type: ignore[attr-defined]
    request.auth_purpose = "signature"  # type: ignore[attr-defined]
    request.auth_signing_for = dict(signing_for)  # type: ignore[attr-defined]
    return request


def signer_authenticate(
    *, auth: AuthContext, password: str, signing_for: Mapping[str, str] | None = None
) -> User:
    """Re-authenticate the signer with both components: user id and password (11.200(a)).

    ``signing_for`` names what would be signed (``{"lot": ..., "action": ...}``): a
    failed attempt's audit event carries it, so the attempt shows in that lot's
    audit trail for the reviewer (EU GMP Annex 11 §9, PIC/S PI 041 §9).
    """
    signer = auth.person
    if signer is None:
        # Machine clients hold API keys, not identities that can sign (11.100).
        raise SignatureRefused(
            "only a person can sign; machine clients cannot", code="machine_client"
        )
    if not password:
        raise InvalidInput.single(
            "password", "the password must be re-entered to sign", code="password_required"
        )
    if connection.in_atomic_block:
        raise RuntimeError("authenticate the signer before opening the signing transaction")
    throttle = login_throttle(username=signer.username, client_address=auth.client_address)
    if throttle is not None:
        raise throttle.error()  # 429: no password checked, nothing counted
    attempt = _auth_request(auth, signing_for or {})
    user = authenticate(attempt, username=signer.username, password=password)
    if getattr(attempt, "axes_locked_out", False):
        raise SignatureRefused(
            "this account is locked for this client address after repeated failed "
            "attempts; an administrator must unlock it",
            code="account_locked",
        )
    if user is None or user.pk != signer.pk:
        raise SignatureRefused(
            "signature refused: the password is wrong or the account is locked; "
            "repeated failures lock the account"
        )
    return user  # type: ignore[return-value]


def signature_record(
    *,
    signer: User,
    meaning: str,
    reason: str,
    record: Signable,
    record_label: str = "",
    statement: str = "",
) -> Signature:
    """Store the signature of ``record`` in the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("signature_record must run inside the signing transaction")
    if meaning not in Meaning.values:
        raise ValueError(f"unknown signature meaning {meaning!r}")
    if not reason.strip():
        raise InvalidInput.single(
            "reason", "a signature needs a reason (EU GMP Annex 11 §14)", code="reason_required"
        )
    content = record_content(record)
    signature = Signature.objects.create(
        signer=signer,
        printed_name=signer.printed_name,
        username=signer.username,
        signer_role=signer.role,
        signed_at=timezone.now(),
        meaning=meaning,
        reason=reason.strip(),
        statement=statement,
        content_type=ContentType.objects.get_for_model(record),  # type: ignore[arg-type]
        object_id=str(record.pk),
        record_label=record_label or str(record)[:200],
        record_digest=content_digest(content),
        record_content=content,
    )
    audit_record(
        actor=signer.audit_actor(),
        action=AuditAction.SIGNATURE_APPLIED,
        object_type=signature.content_type.model,
        object_id=record.pk,
        new_values={
            "signature_id": signature.pk,
            "meaning": meaning,
            "printed_name": signature.printed_name,
            "record_digest": signature.record_digest,
            "statement": statement,
        },
        reason=signature.reason,
        records=[signature],
    )
    return signature


def signature_apply(
    *,
    auth: AuthContext,
    password: str,
    meaning: str,
    reason: str,
    record: Signable,
    statement: str = "",
) -> Signature:
    user = signer_authenticate(auth=auth, password=password)
    with transaction.atomic():
        return signature_record(
            signer=user, meaning=meaning, reason=reason, record=record, statement=statement
        )


def signature_verify(signature: Signature) -> SignatureCheck:
    """Does the signed record still match what was signed (11.70)?"""
    model = signature.content_type.model_class()
    record = model._default_manager.filter(pk=signature.object_id).first() if model else None
    if record is None:
        return SignatureCheck(signature, False, "the signed record no longer exists")
    if content_digest(record_content(record)) != signature.record_digest:  # type: ignore[arg-type]
        return SignatureCheck(signature, False, "the record changed after it was signed")
    if content_digest(signature.record_content) != signature.record_digest:
        return SignatureCheck(signature, False, "the signature's stored copy was altered")
    return SignatureCheck(signature, True, "the record matches what was signed")


def next_id(model: type[Model]) -> int:
    """The id the next row of ``model`` will carry, drawn before its INSERT: a
    signature names the record it signs, and signed GMP tables are append-only, so
    the row goes in once, already signed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [model._meta.db_table])
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])
