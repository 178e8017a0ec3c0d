"""An open session ends once its account is locked or deactivated (21 CFR 11.10(d)).

Checked on every request that carries a signed-in session, UI and API alike
(DRF's session authentication reads the same ``request.user``): a session whose
account is locked for the client address it comes from, or deactivated, is
flushed, the end is audited (``user.session_ended``), and the request is refused
(a lock elsewhere, from another address, does not end it: an attacker who locks
the pair he is guessing from must not log the owner out).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from services.accounts import selectors
from services.accounts.addresses import client_address
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.http import api_request, json_error


class SessionGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refused = self._refusal(request)
        return refused if refused is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponseBase | None:
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:
            return None
        user = request.user
        if isinstance(user, User) and user.is_authenticated:
            address = client_address(request)
            if not selectors.account_locked(username=user.username, client_address=address):
                return None
            request.evrelease_session_ended = (  # type: ignore[attr-defined]
                f"account locked for {address}"
            )
            logout(request)  # audited as user.session_ended (receivers.audit_logout)
            return _refused(request, "account_locked", "this account is locked; sign in again")
        # The session names an account that no longer authenticates: deactivated (or its
        # password was reset).  Django already treats the request as anonymous; end it.
        ended = User.objects.filter(pk=session.get(SESSION_KEY)).first()
        session.flush()
        if ended is not None and not ended.is_active:
            with transaction.atomic():
                audit_record(
                    actor=Actor.system("session guard"),
                    action=AuditAction.USER_SESSION_ENDED,
                    object_type="user",
                    object_id=ended.pk,
                    new_values={"why": "account deactivated"},
                    reason="account deactivated",
                )
            return _refused(request, "account_inactive", "this account is deactivated")
        return None


def _refused(request: HttpRequest, code: str, reason: str) -> HttpResponseBase:
    if api_request(request):
        return json_error(401, reason, code=code)
    if code == "account_locked":
        return render(request, "registration/locked_out.html", status=403)
    response: HttpResponse = redirect("login")
    return response
