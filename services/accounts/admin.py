"""Accounts admin: every change goes through ``services.accounts.services``, with a reason.

- People: the role (the one authority: it also sets the admin flags), the active
  flag and the name are edited with a required reason and audited with old and
  new values.  There is no password field and no password page: an administrator
  sends a one-time set-password link (action "Send a set-password link"), and the
  person sets their own password.  Accounts are never deleted (they may have signed).
- Machine clients: created, described, given an expiry and revoked with a reason.
- Lockout records (django-axes): read only, never deleted; "Unlock, with a reason"
  calls the one audited unlock service, as ``manage.py unlock_account`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import axes.admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework_api_key.admin import APIKeyModelAdmin

from services.accounts.models import ApiClient, User
from services.accounts.services import (
    api_client_change,
    api_client_create,
    api_client_revoke,
    user_change_details,
    user_change_role,
    user_create,
    user_password_reset,
    user_set_active,
    user_unlock,
)
from services.audit.actor import Actor
from services.errors import DomainError

REASON_HELP = "Recorded in the audit trail with the old and new values."


def _reason_field(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label="Reason for change",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=required,
        help_text=REASON_HELP,
    )


def _actor(request: HttpRequest) -> Actor:
    return Actor.of(request.user)


def _refusal_to_form(form: forms.Form, exc: DomainError) -> None:
    for problem in exc.problems:
        field = problem.field if problem.field in form.fields else None
        form.add_error(field, problem.reason)


class ReasonForm(forms.Form):
    reason = _reason_field()


def reason_action(
    admin_obj: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    describe: Callable[[Any], str],
    apply: Callable[[Any, str], str],
    items: list[Any] | None = None,
) -> HttpResponse | None:
    """An admin action that asks for a reason on an intermediate page, then applies
    ``apply(item, reason)`` to each item (the selected objects unless ``items`` given)."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        for obj in items if items is not None else queryset:
            try:
                admin_obj.message_user(request, apply(obj, form.cleaned_data["reason"]))
            except DomainError as exc:
                admin_obj.message_user(request, exc.headline, messages.ERROR)
        return None
    return TemplateResponse(
        request,
        "admin/accounts/reason_action.html",
        {
            **admin_obj.admin_site.each_context(request),
            "title": title,
            "opts": admin_obj.model._meta,
            "objects": [describe(obj) for obj in (items if items is not None else queryset)],
            "selected": [obj.pk for obj in queryset],
            "action": request.POST.get("action", ""),
            "form": form,
        },
    )


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------


class UserAddForm(forms.ModelForm):
    reason = _reason_field()
    email = forms.EmailField(help_text="The set-password link is mailed here; nobody else sees it.")

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "role")


class UserChangeForm(forms.ModelForm):
    reason = _reason_field(required=False)

    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "role", "is_active")
        help_texts = {
            "role": "Granting QA officer or Qualified Person lets the account sign decisions "
            "and certify lots: the reason is in the audit trail the auditors read.",
            "is_active": "Deactivating ends the account's open sessions on their next request.",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        changed = [name for name in self.changed_data if name != "reason"]
        if changed and not (data.get("reason") or "").strip():
            self.add_error("reason", "a change to an account needs a reason")
        return data


@admin.register(User)
class EvUserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    ordering = ("username",)
    form = UserChangeForm
    add_form = UserAddForm
    readonly_fields = ("username", "password_state", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password_state")}),
        ("Person (printed on signatures)", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active")}),
        ("Why", {"fields": ("reason",)}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "role", "reason")}),
    )
    actions = ["send_password_link", "unlock"]

    @admin.display(description="Password")
    def password_state(self, user: User) -> str:
        if user.has_usable_password():
            return "set by its owner (administrators never see or choose it)"
        return "none: waiting for the owner to use their set-password link"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any
    ) -> Any:
        if obj is None:
            kw["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kw)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts that may have signed records are deactivated, never deleted.
        return False

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        data, actor = form.cleaned_data, _actor(request)
        reason = data.get("reason", "")
        if not change:
            user = user_create(
                actor=actor,
                username=data["username"],
                role=data["role"],
                reason=reason,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
            )
            user_password_reset(
                actor=actor, username=user.username, reason=f"new account: {reason}"
            )
            obj.pk, obj._state.adding = user.pk, False
            obj.refresh_from_db()
            self.message_user(
                request, f"A set-password link was mailed to {user.email}; it works once."
            )
            return
        username = obj.username
        changed = set(form.changed_data)
        if changed & {"first_name", "last_name", "email"}:
            user_change_details(
                actor=actor,
                username=username,
                reason=reason,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
            )
        if "role" in changed:
            user_change_role(actor=actor, username=username, role=data["role"], reason=reason)
        if "is_active" in changed:
            user_set_active(
                actor=actor, username=username, is_active=data["is_active"], reason=reason
            )
        obj.refresh_from_db()

    @admin.action(description="Send a set-password link (removes the current password)")
    def send_password_link(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        def apply(user: User, reason: str) -> str:
            user_password_reset(actor=_actor(request), username=user.username, reason=reason)
            return f"{user.username}: a set-password link was mailed to {user.email}."

        return reason_action(
            self,
            request,
            queryset,
            title="Send a set-password link",
            describe=lambda u: f"{u.username} ({u.printed_name}) <{u.email or 'no e-mail'}>",
            apply=apply,
        )

    @admin.action(description="Unlock, with a reason (every address)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        def apply(user: User, reason: str) -> str:
            cleared = user_unlock(username=user.username, actor=_actor(request), reason=reason)
            return f"{user.username}: {cleared} lockout record(s) cleared."

        return reason_action(
            self,
            request,
            queryset,
            title="Unlock accounts",
            describe=lambda u: f"{u.username} ({u.printed_name})",
            apply=apply,
        )


# ---------------------------------------------------------------------------
# Machine clients
# ---------------------------------------------------------------------------


class ApiClientForm(forms.ModelForm):
    reason = _reason_field(required=False)

    class Meta:
        model = ApiClient
        fields = ("name", "description", "expiry_date", "revoked")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance._state.adding:
            return data
        changed = [name for name in self.changed_data if name != "reason"]
        if changed and not (data.get("reason") or "").strip():
            self.add_error("reason", "a change to a machine client needs a reason")
        return data


@admin.register(ApiClient)
class ApiClientAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "description")  # type: ignore[assignment]
    form = ApiClientForm

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any = None, change: bool = False
    ) -> None:
        data, actor = form.cleaned_data, _actor(request)
        if not change:
            client, key = api_client_create(
                actor=actor,
                name=data["name"],
                description=data.get("description", ""),
                expiry_date=data.get("expiry_date"),
                reason=data.get("reason", ""),
            )
            obj.pk, obj._state.adding = client.pk, False
            obj.refresh_from_db()
            self.message_user(
                request,
                f"The API key for {client.name} is: {key}. Store it somewhere safe: "
                "it is shown once and stored only as a hash.",
                messages.WARNING,
            )
            return
        reason = data.get("reason", "")
        client_id = obj.pk
        if set(form.changed_data) & {"name", "description", "expiry_date"}:
            api_client_change(
                actor=actor,
                client_id=client_id,
                reason=reason,
                name=data["name"],
                description=data.get("description", ""),
                expiry_date=data.get("expiry_date"),
            )
        if "revoked" in form.changed_data and data.get("revoked"):
            api_client_revoke(actor=actor, client_id=client_id, reason=reason)
        obj.refresh_from_db()


# ---------------------------------------------------------------------------
# Lockout records (django-axes): read only, never deleted
# ---------------------------------------------------------------------------


class ReadOnlyLockoutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


for model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ReadOnlyLockoutAdmin, axes.admin.AccessAttemptAdmin):
    """Failed attempts per (user name, address); "Unlock, with a reason" clears a lock."""

    actions = ["unlock"]

    @admin.action(description="Unlock, with a reason (this user name and address)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> Any:
        pairs = sorted(set(queryset.values_list("username", "ip_address")), key=str)

        def apply(pair: tuple[str, str], reason: str) -> str:
            username, address = pair
            cleared = user_unlock(
                username=username or "",
                client_address=address,
                actor=_actor(request),
                reason=reason,
            )
            return f"{username} from {address}: {cleared} record(s) cleared."

        return reason_action(
            self,
            request,
            queryset,
            title="Unlock",
            describe=lambda pair: f"{pair[0]} from {pair[1]}",
            apply=apply,
            items=pairs,
        )


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyLockoutAdmin, axes.admin.AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ReadOnlyLockoutAdmin, axes.admin.AccessFailureLogAdmin):
    pass
