"""Template context of every page: the signed-in person's unread notifications (the bell)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from releases.selectors import notifications_for
from services.accounts.models import User


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}

    def unread() -> int:
        return notifications_for(user=user, unread_only=True).count()

    return {"unread_notifications": unread}
