"""Who may call the release API (21 CFR 11.10(d),(g)).

Decisions, reviews and signatures: people holding the action's role, never a
machine client (11.100: signatures belong to identified individuals).  Reads
of dispositions and certificates: every person, and machine clients (an MES
fetches the certificate); other reads: people only.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from services.accounts.models import ApiClient, Role
from services.permissions import READ_ALL_ROLES, has_role


class PersonWithRole(BasePermission):
    roles: tuple[str, ...] = READ_ALL_ROLES
    message = "this needs a person holding the right role; machine clients can never sign"

    @classmethod
    def of(cls, *roles: str) -> type[PersonWithRole]:
        return type(f"PersonWithRole_{'_'.join(roles)}", (cls,), {"roles": roles})

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return not isinstance(user, ApiClient) and has_role(user, *self.roles)


class ReadersAndMachines(BasePermission):
    """Every person, and machine clients, may read (GET)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, ApiClient) or has_role(request.user, *READ_ALL_ROLES)


QA = (Role.QA_OFFICER,)
QP = (Role.QUALIFIED_PERSON,)
QA_OR_QP = (Role.QA_OFFICER, Role.QUALIFIED_PERSON)
QC_REVIEWER = (Role.QC_REVIEWER,)
LAB_SUPERVISORS = (Role.QC_REVIEWER, Role.QA_OFFICER)
CONTRIBUTORS = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA_OFFICER, Role.QUALIFIED_PERSON)
