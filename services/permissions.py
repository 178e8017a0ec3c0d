"""Role checks shared by the API and the web UI (21 CFR 11.10(d),(g))."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission

from services.accounts.models import Role

READ_ALL_ROLES = tuple(Role.values)


def has_role(principal: Any, *roles: str) -> bool:
    checker = getattr(principal, "has_role", None)
    return bool(checker and checker(*roles))


class HasRole(BasePermission):
    """``HasRole.of(Role.QA_OFFICER, ...)`` — a person holding one of these roles."""

    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, *roles: str) -> type[HasRole]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": roles})

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, *self.roles)


class CanReadAuditTrail(HasRole):
    roles = (Role.AUDITOR, Role.QA_OFFICER, Role.QUALIFIED_PERSON, Role.ADMINISTRATOR)


class DocsAccess(BasePermission):
    """The OpenAPI schema: any signed-in person or machine client, or anyone when
    ``API_DOCS_PUBLIC`` (read per request)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated)
