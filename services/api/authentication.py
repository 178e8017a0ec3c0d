"""Machine clients authenticate with ``Authorization: Api-Key <key>``."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from services.accounts.models import ApiClient
from services.audit.actor import Actor


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword:
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("the Api-Key header carries no key")
        prefix, _, _ = key.partition(".")
        client = ApiClient.objects.filter(prefix=prefix).first()
        if client is None or not client.is_valid(key):
            raise exceptions.AuthenticationFailed("invalid API key")
        if client.revoked or client.has_expired:
            raise exceptions.AuthenticationFailed("this API key has been revoked")
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def actor_of(request: Any) -> Actor:
    """The user or machine client behind a request, for audit and attribution."""
    return Actor.of(getattr(request, "user", None))
