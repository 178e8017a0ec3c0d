"""Logins, lockout, machine clients and the demo accounts."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from services.accounts.models import ApiClient, User
from services.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db]


def test_anonymous_visit_leads_to_the_login_page() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Client().get(response["Location"]).status_code == 200


def test_login_with_the_right_password(analyst: Any, password: str) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "analyst", "password": password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="user.login").exists()


@pytest.mark.requirement("21CFR11.300d")
def test_five_failed_logins_from_one_address_lock_it_there_and_each_is_audited(
    analyst: Any, password: str
) -> None:
    # The lock is per (user name, client address): tests/platform/test_lockout.py shows
    # that other addresses are unaffected.
    client = Client(REMOTE_ADDR="127.0.0.2")
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "analyst", "password": "nope"})
    assert response.status_code == 403
    response = client.post("/accounts/login/", {"username": "analyst", "password": password})
    assert response.status_code == 403, "a locked pair refuses even the right password"
    assert AuditEvent.objects.filter(action="user.login_failed", object_id="analyst").count() == 6
    assert AuditEvent.objects.filter(action="user.locked").count() == 1
    call_command(
        "unlock_account", "analyst", reason="identity confirmed by phone", stdout=io.StringIO()
    )
    response = client.post("/accounts/login/", {"username": "analyst", "password": password})
    assert response.status_code == 302
    unlocked = AuditEvent.objects.get(action="user.unlocked")
    assert unlocked.reason == "identity confirmed by phone"
    # Attempts refused while locked count too (they feed the slow-down of the user name).
    assert unlocked.old_values["locks"] == [{"client_address": "127.0.0.2", "failures": 6}]


@pytest.mark.requirement("21CFR11.10d")
def test_api_key_authenticates_and_a_revoked_key_gets_401(mes: tuple[ApiClient, str]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {mes[1]}")
    assert client.get("/api/v1/signatures/").status_code == 403  # authenticated, not an auditor
    call_command("revoke_api_client", "MES-1", reason="decommissioned", stdout=io.StringIO())
    response = client.get("/api/v1/signatures/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_wrong_api_key_gets_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key abc.def")
    assert client.get("/api/v1/signatures/").status_code == 401
    assert APIClient().get("/api/v1/signatures/").status_code in {401, 403}


def test_create_api_client_prints_the_key_last_and_stores_only_a_hash() -> None:
    out = io.StringIO()
    call_command("create_api_client", "LIMS", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    client = ApiClient.objects.get(name="LIMS")
    assert key.startswith(client.prefix + ".")
    assert key not in client.hashed_key
    assert ApiClient.objects.get_from_key(key) == client
    assert AuditEvent.objects.filter(action="api_client.created").exists()


def test_seed_demo_is_idempotent_and_sets_passwords() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    usernames = set(User.objects.values_list("username", flat=True))
    assert {"analyst", "reviewer", "qa", "qp", "auditor", "admin"} <= usernames
    assert User.objects.get(username="qp").role == "qualified_person"
    out = io.StringIO()
    call_command("seed_demo", password="another-secret-99", stdout=out)
    assert User.objects.get(username="analyst").check_password("another-secret-99")
    assert User.objects.get(username="admin").is_superuser
    assert "another-secret-99" in out.getvalue()
