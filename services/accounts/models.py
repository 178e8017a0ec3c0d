"""People (with one role each) and machine clients (API keys stored hashed)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from services.audit.actor import Actor, ActorType


class Role(models.TextChoices):
    """21 CFR 11.10(d),(g): access limited to authorised people, by role."""

    QC_ANALYST = "qc_analyst", "QC analyst"
    QC_REVIEWER = "qc_reviewer", "QC reviewer"
    QA_OFFICER = "qa_officer", "QA officer"
    QUALIFIED_PERSON = "qualified_person", "Qualified Person"
    AUDITOR = "auditor", "Auditor"
    ADMINISTRATOR = "administrator", "Administrator"


class User(AbstractUser):
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.QC_ANALYST)

    @property
    def printed_name(self) -> str:
        """The name printed on signatures (21 CFR 11.50(a)(1))."""
        return self.get_full_name() or self.username

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles

    def signature_content(self) -> dict[str, object]:
        """What an administrator attests to when approving an account's access."""
        return {
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
            "is_active": self.is_active,
        }

    def audit_actor(self) -> Actor:
        return Actor(
            type=ActorType.USER, id=str(self.pk), name=f"{self.printed_name} ({self.username})"
        )


class ApiClient(AbstractAPIKey):
    """A manufacturing system (MES, LIMS, instrument software) posting over REST.

    The key itself is shown once, at creation; only its SHA-512 is stored
    (djangorestframework-api-key).  Machine clients can never sign.
    """

    objects = BaseAPIKeyManager()  # type: ignore[misc,assignment]
    description = models.TextField(blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "machine client"
        verbose_name_plural = "machine clients"

    # Attributes DRF's IsAuthenticated expects of request.user.
    is_authenticated = True
    is_active = True
    role = ""

    def has_role(self, *roles: str) -> bool:
        return False

    def audit_actor(self) -> Actor:
        # The prefix identifies the key (unique, 8 characters); the primary key embeds
        # the key's hash and is longer than an audit event's actor_id.
        return Actor(type=ActorType.CLIENT, id=self.prefix, name=self.name)
