"""Who may read and write QC data through the API (21 CFR 11.10(d),(g))."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from qc.hooks import (
    SPECIFICATION_APPROVE,
    SPECIFICATION_AUTHOR,
    SPECIFICATION_REBIND,
    person_policy,
)
from services.accounts.models import ApiClient, Role
from services.permissions import READ_ALL_ROLES, has_role

MACHINE = "machine_client"


class QcAccess(BasePermission):
    """Reads: machine clients and every role.  Writes: the view's ``writers``.

    ``writers`` lists roles, and :data:`MACHINE` for machine clients (API keys).
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if getattr(view, request.method.lower(), None) is None:
            # Not offered here (PUT, PATCH, DELETE on append-only records): let the
            # view answer 405 Method Not Allowed instead of a misleading 403.
            return user is not None
        if request.method in SAFE_METHODS:
            return isinstance(user, ApiClient) or has_role(user, *READ_ALL_ROLES)
        writers = tuple(getattr(view, "writers", ()))
        if isinstance(user, ApiClient):
            return MACHINE in writers
        return has_role(user, *(w for w in writers if w != MACHINE))


class PolicyRoles:
    """The roles the release policy gives an action, looked up when a request comes
    (the policy is installed at start-up): ``action_writers = {"approve":
    PolicyRoles(SPECIFICATION_APPROVE)}``; never machine clients."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __iter__(self) -> Iterator[str]:
        return iter(person_policy.roles(self.key))


MACHINES_ONLY = (MACHINE,)
MACHINES_AND_ANALYSTS = (MACHINE, Role.QC_ANALYST)
SPECIFICATION_AUTHORS = PolicyRoles(SPECIFICATION_AUTHOR)
SPECIFICATION_APPROVERS = PolicyRoles(SPECIFICATION_APPROVE)
LOT_REBINDERS = PolicyRoles(SPECIFICATION_REBIND)
