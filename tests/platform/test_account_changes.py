"""Who may sign, audited on every path (21 CFR 11.10(d),(e),(g), 11.300).

A change to a person (role, active flag, name, password), to a machine client or to
a lock is a typed audit event with old and new values and its reason, whether it
comes from the admin, a command or a service; an administrator never chooses
another person's password.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from services.accounts import notices
from services.accounts.models import ApiClient, User
from services.accounts.services import (
    user_change_role,
    user_create,
    user_password_reset,
    user_password_set,
)
from services.audit.actor import Actor
from services.audit.models import AuditEvent
from services.errors import InvalidInput, Refused
from tests.factories import PASSWORD

pytestmark = [pytest.mark.django_db]


def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def audit_events(auditor: Any, **filters: str) -> list[dict[str, Any]]:
    """What the auditors see: GET /api/v1/audit-events/."""
    api = APIClient()
    api.force_login(auditor)
    response = api.get("/api/v1/audit-events/", filters)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def change_form(user: User, **changes: Any) -> dict[str, Any]:
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
        "reason": "",
        "_save": "Save",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def send_mail_now(monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any) -> Any:
    """Account mail goes through the broker; here the task body runs at publish time."""
    from services.accounts.tasks import account_mail_send

    def send_task(name: str, args: Any = (), **kwargs: Any) -> None:
        assert name == notices.ACCOUNT_MAIL_TASK
        account_mail_send(*args)

    monkeypatch.setattr(notices.celery_app, "send_task", send_task)
    return django_capture_on_commit_callbacks


@pytest.mark.requirement("21CFR11.10d")
@pytest.mark.requirement("21CFR11.10e")
def test_a_role_change_in_the_admin_is_in_the_audit_trail_with_its_reason(
    admin_user: Any, qa: User, auditor: User
) -> None:
    client = admin_client(admin_user)
    url = reverse("admin:accounts_user_change", args=[qa.pk])
    refused = client.post(url, change_form(qa, role="qualified_person"))
    assert refused.status_code == 200, "no reason: the form is shown again"
    assert "needs a reason" in refused.content.decode()
    qa.refresh_from_db()
    assert qa.role == "qa_officer"

    response = client.post(
        url, change_form(qa, role="qualified_person", reason="appointed QP by the board")
    )
    assert response.status_code == 302
    qa.refresh_from_db()
    assert qa.role == "qualified_person"
    [event] = audit_events(auditor, action="user.role_changed", object_id=str(qa.pk))
    assert event["old_values"]["role"] == "qa_officer"
    assert event["new_values"]["role"] == "qualified_person"
    assert event["new_values"]["grants_signing_role"] is True
    assert event["reason"] == "appointed QP by the board"
    assert event["actor_name"].endswith("(admin)")


def test_name_and_active_flag_changes_in_the_admin_are_audited(
    admin_user: Any, reviewer: User, auditor: User
) -> None:
    client = admin_client(admin_user)
    url = reverse("admin:accounts_user_change", args=[reviewer.pk])
    client.post(url, change_form(reviewer, last_name="Married-Name", reason="name change"))
    reviewer.refresh_from_db()
    client.post(url, change_form(reviewer, is_active="", reason="left the company"))
    reviewer.refresh_from_db()
    assert reviewer.last_name == "Married-Name" and not reviewer.is_active
    [details] = audit_events(auditor, action="user.details_changed")
    assert details["new_values"] == {"last_name": "Married-Name"}
    assert details["reason"] == "name change"
    [deactivated] = audit_events(auditor, action="user.deactivated")
    assert deactivated["old_values"] == {"is_active": True}
    assert deactivated["reason"] == "left the company"


def test_the_admin_offers_no_way_to_set_another_persons_password(admin_user: Any, qp: User) -> None:
    client = admin_client(admin_user)
    page = client.get(reverse("admin:accounts_user_change", args=[qp.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="password' not in body and "password/" not in body
    assert client.get(f"/admin/accounts/user/{qp.pk}/password/").status_code in {302, 404}
    add = client.get(reverse("admin:accounts_user_add")).content.decode()
    assert 'name="password1"' not in add and 'name="password"' not in add
    # The form ignores a password smuggled into the POST.
    client.post(
        reverse("admin:accounts_user_change", args=[qp.pk]),
        change_form(qp, reason="x", password="chosen-by-admin-123"),
    )
    qp.refresh_from_db()
    assert qp.check_password(PASSWORD)


@pytest.mark.requirement("21CFR11.300")
def test_a_new_account_gets_a_one_time_link_and_its_owner_sets_the_password(
    admin_user: Any, auditor: User, send_mail_now: Any
) -> None:
    client = admin_client(admin_user)
    with send_mail_now(execute=True):
        response = client.post(
            reverse("admin:accounts_user_add"),
            {
                "username": "newqp",
                "first_name": "New",
                "last_name": "Person",
                "email": "newqp@example.invalid",
                "role": "qualified_person",
                "reason": "second QP for the night shift",
                "_save": "Save",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="newqp")
    assert not user.has_usable_password(), "nobody knows a password yet"
    [created] = audit_events(auditor, action="user.created", object_id=str(user.pk))
    assert created["new_values"]["role"] == "qualified_person"
    assert created["reason"] == "second QP for the night shift"

    [message] = mail.outbox
    assert message.to == ["newqp@example.invalid"]
    link = re.search(r"http://\S+/accounts/set-password/\S+/", message.body)
    assert link is not None
    path = link.group(0).split("8000", 1)[1]

    person = Client()
    shown = person.get(path)
    assert shown.status_code == 302, "the token moves into the session, off the URL"
    form_url = shown["Location"]
    weak = person.post(form_url, {"new_password1": "12345", "new_password2": "12345"})
    assert weak.status_code == 200 and not User.objects.get(pk=user.pk).has_usable_password()
    done = person.post(
        form_url, {"new_password1": "my own secret 42", "new_password2": "my own secret 42"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("my own secret 42")
    [set_event] = audit_events(auditor, action="user.password_set", object_id=str(user.pk))
    assert set_event["actor_name"] == "New Person (newqp)", "the owner set it"
    # The link works once.
    again = Client().get(path)
    assert again.status_code == 200 and b"not valid" in again.content


def test_a_password_reset_from_the_admin_removes_the_password_and_is_audited(
    admin_user: Any, qp: User, auditor: User, send_mail_now: Any
) -> None:
    client = admin_client(admin_user)
    changelist = reverse("admin:accounts_user_changelist")
    selection = {"action": "send_password_link", "_selected_action": [qp.pk]}
    confirm = client.post(changelist, selection)
    assert confirm.status_code == 200 and b"Reason for change" in confirm.content
    with send_mail_now(execute=True):
        done = client.post(changelist, {**selection, "apply": "1", "reason": "forgot it"})
    assert done.status_code == 302
    qp.refresh_from_db()
    assert not qp.check_password(PASSWORD)
    [event] = audit_events(auditor, action="user.password_reset", object_id=str(qp.pk))
    assert event["old_values"] == {"password": "(set)"}
    assert event["reason"] == "forgot it"
    assert mail.outbox[0].to == [qp.email]
    assert PASSWORD not in mail.outbox[0].body


def test_services_refuse_a_change_without_a_reason_and_a_reused_link(qa: User) -> None:
    actor = Actor.system("tests")
    with pytest.raises(InvalidInput) as refused:
        user_change_role(actor=actor, username="qa", role="qualified_person", reason=" ")
    assert refused.value.code == "reason_required"
    with pytest.raises(InvalidInput) as unknown:
        user_change_role(actor=actor, username="qa", role="superhero", reason="x")
    assert unknown.value.code == "unknown_role"
    with pytest.raises(Refused) as taken:
        user_create(actor=actor, username="qa", role="auditor", reason="x")
    assert taken.value.code == "username_taken"

    from django.contrib.auth.tokens import default_token_generator

    user_password_reset(actor=actor, username="qa", reason="reset")
    qa.refresh_from_db()
    token = default_token_generator.make_token(qa)
    user_password_set(user=qa, token=token, password="a brand new secret 7")
    with pytest.raises(Refused) as reused:
        user_password_set(user=qa, token=token, password="another new secret 8")
    assert reused.value.code == "link_invalid"


def test_commands_change_accounts_only_through_the_audited_services(
    qp: User, send_mail_now: Any
) -> None:
    with pytest.raises(CommandError, match="send_password_link"):
        call_command("changepassword", "qp", stdout=io.StringIO())
    with send_mail_now(execute=True):
        call_command("send_password_link", "qp", reason="forgot", stdout=io.StringIO())
    assert AuditEvent.objects.filter(action="user.password_reset", reason="forgot").exists()
    assert len(mail.outbox) == 1


def test_createsuperuser_makes_an_audited_administrator() -> None:
    call_command(
        "createsuperuser",
        interactive=False,
        username="root",
        email="root@example.invalid",
        stdout=io.StringIO(),
    )
    user = User.objects.get(username="root")
    assert user.role == "administrator" and user.is_superuser
    assert AuditEvent.objects.filter(action="user.created", object_id=str(user.pk)).exists()


def test_machine_client_changes_in_the_admin_are_audited(
    admin_user: Any, mes: tuple[ApiClient, str], auditor: User
) -> None:
    client = admin_client(admin_user)
    api_client = mes[0]
    url = reverse("admin:accounts_apiclient_change", args=[api_client.pk])
    form = {"name": "MES-1", "description": "line 1", "expiry_date_0": "", "expiry_date_1": ""}
    refused = client.post(url, {**form, "_save": "Save"})
    assert refused.status_code == 200 and b"needs a reason" in refused.content
    client.post(url, {**form, "reason": "describe it", "_save": "Save"})
    client.post(url, {**form, "revoked": "on", "reason": "decommissioned", "_save": "Save"})
    [changed] = audit_events(auditor, action="api_client.changed")
    assert changed["new_values"] == {"description": "line 1"}
    [revoked] = audit_events(auditor, action="api_client.revoked")
    assert revoked["reason"] == "decommissioned"

    added = client.post(
        reverse("admin:accounts_apiclient_add"),
        {"name": "LIMS-2", "description": "", "reason": "new LIMS", "_save": "Save"},
        follow=True,
    )
    assert b"shown once" in added.content
    [created] = audit_events(auditor, action="api_client.created", actor_type="user")
    assert created["reason"] == "new LIMS"


@pytest.mark.requirement("21CFR11.10e")
def test_lockout_records_are_read_only_and_unlocking_is_audited_with_a_reason(
    admin_user: Any, auditor: User, qp: User
) -> None:
    for _ in range(5):
        Client(REMOTE_ADDR="127.0.0.2").post(
            "/accounts/login/", {"username": "qp", "password": "wrong"}
        )
    attempt = AccessAttempt.objects.get(username="qp")
    request = Client().get("/").wsgi_request
    request.user = admin_user
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_delete_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_add_permission(request), model

    client = admin_client(admin_user)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert client.get(changelist).status_code == 200
    selection = {"action": "unlock", "_selected_action": [attempt.pk]}
    assert client.post(changelist, {**selection, "action": "delete_selected"}).status_code in {
        200,
        302,
    }
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists(), "no delete action"
    no_reason = client.post(changelist, {**selection, "apply": "1", "reason": ""})
    assert no_reason.status_code == 200
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    client.post(changelist, {**selection, "apply": "1", "reason": "it was her, new glasses"})
    assert not AccessAttempt.objects.filter(username="qp").exists()
    [unlocked] = audit_events(auditor, action="user.unlocked")
    assert unlocked["reason"] == "it was her, new glasses"
    assert unlocked["old_values"]["locks"] == [{"client_address": "127.0.0.2", "failures": 5}]


def test_the_admin_signs_in_through_the_one_throttled_login_page(
    admin_user: Any, password: str
) -> None:
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"
    signed_in = client.post(
        "/accounts/login/?next=/admin/",
        {"username": "admin", "password": password, "next": "/admin/"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
