"""Who may call the release API (21 CFR 11.10(d),(g)), as the policy table says.

Commands admit the people holding one of the action's roles (``releases.policy``),
never a machine client (11.100: signatures belong to identified individuals);
the service checks the role once more for the lot's product.  Reads of
dispositions and certificates: every person, and machine clients (an MES fetches
the certificate); other reads: people only.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from releases.policy import ACTIONS, ActionKey
from services.accounts.models import ApiClient
from services.permissions import READ_ALL_ROLES, has_role


class PersonWithRole(BasePermission):
    roles: tuple[str, ...] = READ_ALL_ROLES
    message = "this needs a person holding the right role; machine clients can never sign"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return not isinstance(user, ApiClient) and has_role(user, *self.roles)


class PolicyPermission(PersonWithRole):
    """``PolicyPermission.of(ActionKey.APPROVE)``: the people the policy lets take it."""

    key: ActionKey

    @classmethod
    def of(cls, key: ActionKey) -> type[PolicyPermission]:
        return type(
            f"PolicyPermission_{key.name}", (cls,), {"key": key, "roles": ACTIONS[key].all_roles}
        )


class ReadersAndMachines(BasePermission):
    """Every person, and machine clients, may read (GET)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, ApiClient) or has_role(request.user, *READ_ALL_ROLES)
