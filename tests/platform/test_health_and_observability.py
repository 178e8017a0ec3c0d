from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

pytestmark = [pytest.mark.django_db]


def test_live_needs_nothing() -> None:
    response = Client().get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_database_and_broker_answer() -> None:
    response = Client().get("/healthz/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_ready_answers_503_naming_the_database_when_it_is_down() -> None:
    original = dict(connection.settings_dict)
    connection.close()
    # Point the live connection at a port where no PostgreSQL listens: a real refusal.
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1", OPTIONS={"connect_timeout": 1})
    try:
        response = Client().get("/healthz/ready")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("database unreachable")
    assert body["checks"]["broker"] == "ok"


def test_ready_answers_503_naming_the_broker_when_it_is_down() -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = Client().get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("broker unreachable")


def test_request_id_is_echoed_and_generated() -> None:
    response = Client().get("/healthz/live", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"
    generated = Client().get("/healthz/live", HTTP_X_REQUEST_ID="bad id with spaces")
    assert len(generated["X-Request-ID"]) == 32


def test_prometheus_metrics_endpoint_when_declared_public() -> None:
    with override_settings(METRICS_PUBLIC=True):
        response = Client().get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_metrics_are_off_without_a_token_in_production_settings() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_metrics_require_the_bearer_token() -> None:
    with override_settings(METRICS_TOKEN="s3cret-token"):
        assert Client().get("/metrics").status_code == 401
        wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
        response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert wrong.status_code == 401
    assert response.status_code == 200


def test_openapi_schema_and_local_docs_need_a_signed_in_person(auditor: Any) -> None:
    anonymous = Client()
    schema = anonymous.get("/api/schema/")
    assert schema.status_code in {401, 403}
    assert schema.json()["errors"][0]["code"] == "not_authenticated"
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/accounts/login/")
    assert anonymous.get("/api/redoc/").status_code == 302

    client = Client()
    client.force_login(auditor)
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"<style" not in docs.content and b"<script>" not in docs.content
    script = client.get("/api/docs/?script=")  # the init script: a file, not inline
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200
    assert b"googleapis" not in redoc.content


def test_a_machine_client_may_read_the_schema(mes_api: Any) -> None:
    assert mes_api.get("/api/schema/").status_code == 200


def test_api_docs_can_be_declared_public() -> None:
    with override_settings(API_DOCS_PUBLIC=True):
        assert Client().get("/api/schema/").status_code == 200
        assert Client().get("/api/docs/").status_code == 200
