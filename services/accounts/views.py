"""Signing in (throttled), the lockout answer, and setting one's own password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from services.accounts.addresses import client_address
from services.accounts.services import user_password_set
from services.accounts.throttle import login_throttle
from services.errors import DomainError, InvalidInput
from services.http import api_request, json_error


def locked_out(
    request: HttpRequest, credentials: dict[str, Any] | None = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """Shown (and answered to the API) once a (user, address) pair is locked (11.300(d))."""
    if api_request(request):
        return json_error(
            403,
            "this account is locked for this client address after repeated failed "
            "attempts; an administrator must unlock it",
            code="account_locked",
        )
    return render(request, "registration/locked_out.html", status=403)


class LoginView(auth_views.LoginView):
    """Django's login, refused with 429 and ``Retry-After`` while a throttle applies
    (``services.accounts.throttle``); no password is checked then, nothing counted."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "failure_limit": settings.AXES_FAILURE_LIMIT}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150]
        throttle = login_throttle(username=username, client_address=client_address(request))
        if throttle is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request)
        context = self.get_context_data(form=form, throttle=throttle)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(throttle.retry_after)
        return response


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The person sets their own password from the one-time link an administrator had
    mailed to them; ``user_password_set`` checks the token again and audits it."""

    form_class = SetPasswordForm
    template_name = "registration/set_password.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form: Any) -> HttpResponse:
        token = self.request.session.get(INTERNAL_RESET_SESSION_TOKEN, "")
        try:
            user_password_set(
                user=self.user, token=token, password=form.cleaned_data["new_password1"]
            )
        except InvalidInput as exc:
            for problem in exc.problems:
                form.add_error("new_password1", problem.reason)
            return self.form_invalid(form)
        except DomainError as exc:
            messages.error(self.request, exc.headline)
            return redirect("login")
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        messages.success(self.request, "Your password is set. Sign in with it.")
        return redirect(self.get_success_url())
