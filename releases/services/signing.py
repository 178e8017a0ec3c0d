"""Small helpers shared by the signing services."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.http import HttpRequest

from releases.services.errors import InvalidRequest, NotAllowed
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.esign.models import Signature
from services.esign.services import signature_record, signer_authenticate

M = TypeVar("M", bound=Model)


def require_person(principal: Any, roles: tuple[str, ...], what: str) -> User:
    """The acting person, if they hold one of ``roles`` (checked again behind the API)."""
    if not isinstance(principal, User):
        # 21 CFR 11.100: signatures and decisions belong to identified people.
        raise NotAllowed(f"only a person may {what}; machine clients never can")
    if not principal.has_role(*roles):
        from services.accounts.models import Role

        names = " or ".join(Role(role).label for role in roles)
        raise NotAllowed(f"only a {names} may {what}; {principal.username} is {principal.role}")
    return principal


def require_reason(reason: str | None, field: str = "reason") -> str:
    if not reason or not reason.strip():
        raise InvalidRequest(field, "a reason is required (EU GMP Annex 11 §9, §14)")
    return reason.strip()


def authenticate(by: User, password: str | None, request: HttpRequest | None) -> User:
    """Re-enter the password outside any transaction (21 CFR 11.200(a)); failures count."""
    if not password:
        raise InvalidRequest("password", "the password must be re-entered to sign")
    return signer_authenticate(auth=_auth_context(by, request), password=password)


def next_id(model: type[Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [model._meta.db_table])
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def create_signed(
    record: M, *, signer: User, meaning: str, reason: str, label: str
) -> tuple[M, Signature]:
    """Sign an append-only record, then store it once, holding its own signature.

    The id is drawn from the table's sequence first, so the signature names the
    row that will carry it, and the row is written in one INSERT (append-only
    tables refuse the UPDATE that signing after inserting would need).
    """
    record.pk = next_id(type(record))
    signature = signature_record(
        signer=signer,
        meaning=meaning,
        reason=reason,
        record=record,  # type: ignore[arg-type]
        record_label=label,
    )
    record.signature = signature  # type: ignore[attr-defined]
    record.save(force_insert=True)
    return record, signature


def _auth_context(by: object, request: HttpRequest | None) -> AuthContext:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return AuthContext.of(by, client_address=address or "127.0.0.1")  # type: ignore[arg-type]
