"""Who did it: a person, a machine client or the system itself (ALCOA+ "attributable").

Plain data, so models, services and the pure parts of the code can all name an
actor without importing the audit trail's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models


class ActorType(models.TextChoices):
    USER = "user", "User"
    CLIENT = "client", "Machine client"
    SYSTEM = "system", "System"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a person, a machine client or the system itself."""

    type: str
    id: str
    name: str

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, id="", name=name)

    @classmethod
    def of(cls, principal: Any) -> Actor:
        """The actor for a user or an API client (anything with ``audit_actor()``)."""
        if principal is None:
            return cls.system()
        if isinstance(principal, Actor):
            return principal
        return principal.audit_actor()
