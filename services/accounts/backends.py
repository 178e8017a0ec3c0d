"""The lockout check in the authentication chain (django-axes), first of the backends."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check of the (user name, client address) pair, remembering on the
    request that the pair was locked *before* this attempt, so the ``user.locked``
    event is written once, when the lock happens, not for every later refusal."""

    def authenticate(  # type: ignore[override]
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            if request is not None:
                request.evrelease_was_locked = True
            raise
