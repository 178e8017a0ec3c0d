"""Small helpers shared by the QC services: who is acting, and on whose behalf."""

from __future__ import annotations

from typing import TypeAlias

from services.accounts.models import ApiClient, User
from services.audit.services import Actor

# Who posts QC data: a machine client (MES, LIMS, instrument software) or a person.
Principal: TypeAlias = ApiClient | User


def actor_of(*, principal: Principal) -> Actor:
    return Actor.of(principal)


def posted_by(*, principal: Principal) -> tuple[ApiClient | None, User | None]:
    """(machine client, person): exactly one is set, for the ``*_by_client/_user`` columns."""
    if isinstance(principal, ApiClient):
        return principal, None
    return None, principal
