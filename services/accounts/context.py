"""Who is acting, from where: built once at the HTTP edge, handed to the services.

Services never receive an ``HttpRequest``: what they need of it (the person or
machine client, the request id that joins logs to the audit trail, the client
address the lockout counts by, resolved behind trusted proxies by
``services.accounts.addresses``) travels in an :class:`AuthContext`.  Management
commands and tests build one with :meth:`AuthContext.of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.accounts.addresses import LOCAL_ADDRESS, client_address
from services.accounts.models import ApiClient, User
from services.audit.actor import Actor
from services.observability import current_request_id

__all__ = ["LOCAL_ADDRESS", "AuthContext"]


@dataclass(frozen=True, slots=True)
class AuthContext:
    principal: User | ApiClient | None
    request_id: str = ""
    client_address: str = LOCAL_ADDRESS

    @classmethod
    def from_request(cls, request: Any) -> AuthContext:
        """The context of a Django or DRF request (its authenticated user or client)."""
        principal = getattr(request, "user", None)
        if not isinstance(principal, (User, ApiClient)) or not principal.is_authenticated:
            principal = None
        return cls(
            principal=principal,
            request_id=current_request_id(),
            client_address=client_address(request),
        )

    @classmethod
    def of(cls, principal: User | ApiClient | None, *, client_address: str = LOCAL_ADDRESS):
        """A context outside HTTP (a management command, a test, the demo seed)."""
        return cls(
            principal=principal, request_id=current_request_id(), client_address=client_address
        )

    @property
    def person(self) -> User | None:
        """The person acting, or None for a machine client (which can never sign, 11.100)."""
        return self.principal if isinstance(self.principal, User) else None

    @property
    def actor(self) -> Actor:
        return Actor.of(self.principal)
