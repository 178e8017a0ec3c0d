"""Hostile input gets a 4xx, never a 500; API errors are JSON in the one shape, whatever
DEBUG says; the web UI has its own 400, 403, 404 and 500 pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from qc.models import Specification
from services.accounts.models import User
from services.audit.api import AuditEventViewSet
from tests.qc.factories import qc_world

pytestmark = [pytest.mark.django_db]


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["errors"], body
    for problem in body["errors"]:
        assert set(problem) == {"code", "reason", "field", "index"}
    if code is not None:
        assert code in [problem["code"] for problem in body["errors"]], body
    return body


@pytest.fixture
def qa_api(qa: User) -> APIClient:
    client = APIClient()
    client.force_login(qa)
    return client


@pytest.fixture
def qa_ui(qa: User) -> Client:
    client = Client()
    client.force_login(qa)
    return client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lots/%00/",
        "/api/v1/lots/?q=%00",
        "/api/v1/lots/?lot_number=a%00b",
        "/api/v1/audit-events/?object_id=%00",
        "/api/v1/lots/LOT%00-1/evaluation/",
        "/api/v1/products/%00/",
    ],
)
def test_a_nul_byte_in_an_api_path_or_query_is_a_400(qa_api: APIClient, path: str) -> None:
    assert_error_shape(qa_api.get(path), 400, "nul_byte")


@pytest.mark.parametrize("path", ["/lots/?q=%00", "/audit/?object_id=%00", "/lots/%00/"])
def test_a_nul_byte_in_a_page_address_is_the_uis_400_page(qa_ui: Client, path: str) -> None:
    response = qa_ui.get(path)
    assert response.status_code == 400
    assert b"Bad request" in response.content and b"NUL" in response.content
    assert b'href="/lots/"' in response.content, "the page keeps the site's navigation"


def test_nul_bytes_in_form_fields_and_json_bodies_are_a_400(qa_api: APIClient) -> None:
    form = Client().post("/accounts/login/", {"username": "qa\x00", "password": "x"})
    assert form.status_code == 400
    escaped = qa_api.post(
        "/api/v1/lots/LOT-1/hold/",
        data='{"reason": "a\\u0000b", "password": "x"}',
        content_type="application/json",
    )
    assert_error_shape(escaped, 400, "nul_byte")
    raw = qa_api.post(
        "/api/v1/lots/LOT-1/hold/", data=b'{"reason": "a\x00b"}', content_type="application/json"
    )
    assert_error_shape(raw, 400, "nul_byte")
    # An escaped backslash followed by "u0000" is six ordinary characters.
    harmless = qa_api.post(
        "/api/v1/lots/NO-SUCH-LOT/hold/",
        data='{"reason": "path C:\\\\u0000", "password": "x"}',
        content_type="application/json",
    )
    assert harmless.status_code != 400 or "nul_byte" not in harmless.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/api/v1/lots/LOT-1/hold/", "/api/v1/lots/LOT-1/results/", "/api/v1/specifications/1/lines/"],
)
def test_a_json_body_nested_5000_deep_is_a_400(qa_api: APIClient, url: str) -> None:
    response = qa_api.post(url, data=nested(5000), content_type="application/json")
    assert_error_shape(response, 400, "too_deep")


def test_a_json_body_within_the_depth_limit_is_parsed(qa_api: APIClient) -> None:
    response = qa_api.post(
        "/api/v1/lots/NO-SUCH-LOT/hold/", data=nested(20), content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert "too_deep" not in response.content.decode()


def test_invalid_utf8_is_a_400(qa_api: APIClient, mes_api: APIClient) -> None:
    body = b'{"reason": "caf\xe9"}'
    response = qa_api.post("/api/v1/lots/LOT-1/hold/", data=body, content_type="application/json")
    assert_error_shape(response, 400, "invalid_utf8")
    for path in ("/api/v1/lots/%FF%FE/", "/api/v1/lots/?q=%FF"):
        assert qa_api.get(path).status_code in {200, 404}
    assert Client().get("/accounts/login/?next=%FF").status_code == 200


def test_over_long_strings_get_a_4xx(qa_api: APIClient, mes_api: APIClient) -> None:
    long = "A" * 20_000
    assert_error_shape(qa_api.get(f"/api/v1/lots/{long}/"), 404, "not_found")
    assert qa_api.get(f"/api/v1/lots/?q={long}").status_code == 200
    assert qa_api.get(f"/api/v1/audit-events/?object_id={long}").status_code == 200
    created = mes_api.post(
        "/api/v1/lots/",
        data=json.dumps(
            {"lot_number": long, "product": long, "manufactured_on": "2026-01-01", "site": long}
        ),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="long-strings-1",
    )
    assert_error_shape(created, 400)
    results = mes_api.post(
        f"/api/v1/lots/{long[:200]}/results/",
        data=json.dumps({"results": [{"test": long, "value": 1, "unit": long}]}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="long-strings-2",
    )
    assert 400 <= results.status_code < 500


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/v1/specifications/abc/approve/", 404),
        ("post", "/api/v1/specifications/1.5/lines/", 404),
        ("get", "/api/v1/specifications/abc/", 404),
        ("get", "/api/v1/results/abc/", 404),
        ("get", "/api/v1/reference-materials/-1/", 404),
        ("post", "/api/v1/specifications/99999999999999999999999/approve/", 404),
        ("get", "/api/v1/signatures/99999999999999999999999/", 404),
        ("get", "/api/v1/products/X/specifications/99999999999999999999999/impact/", 404),
        ("get", "/api/v1/lots/LOT-1/certificate.pdf?version=abc", 404),
        ("get", "/api/v1/no-such-thing/", 404),
        ("get", "/api/v1/lots", 404),
        ("get", "/api/nothing-here", 404),
    ],
)
def test_non_integer_or_out_of_range_ids_and_unknown_paths_get_a_json_4xx(
    qa_api: APIClient, method: str, path: str, status: int
) -> None:
    body = {"password": "not checked", "reason": "x"} if method == "post" else {}
    response = getattr(qa_api, method)(path, data=body, format="json")
    assert_error_shape(response, status)


def test_unknown_api_paths_are_json_even_with_debug_on(qa_api: APIClient) -> None:
    with override_settings(DEBUG=True):
        body = assert_error_shape(qa_api.get("/api/v1/no-such-thing/"), 404, "not_found")
        assert "Traceback" not in json.dumps(body)
        assert_error_shape(qa_api.get("/api/v1/lots/%00/"), 400, "nul_byte")


def test_a_server_error_under_the_api_is_json_whatever_debug_says(
    auditor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(AuditEventViewSet, "list", boom)
    client = APIClient(raise_request_exception=False)
    client.force_login(auditor)
    for debug in (False, True):
        with override_settings(DEBUG=debug):
            response = client.get("/api/v1/audit-events/")
        body = assert_error_shape(response, 500, "server_error")
        assert "secret internals" not in json.dumps(body)


def test_the_impact_preview_of_an_empty_draft_is_refused_not_a_crash(qa_api: APIClient) -> None:
    world = qc_world()
    draft = Specification.objects.create(product=world.product, version=2, title="draft")
    response = qa_api.get(f"/api/v1/products/{world.product.code}/specifications/2/impact/")
    assert_error_shape(response, 409, "specification_empty")
    assert draft.status == "draft"


def test_the_ui_error_pages_are_styled_with_navigation_and_the_403_says_why(
    analyst: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert b"Not found" in missing.content and b'href="/lots/"' in missing.content
    denied = client.get("/audit/")
    assert denied.status_code == 403
    assert b"Not allowed" in denied.content
    assert b"open to auditors, QA and Qualified Persons" in denied.content


def test_the_ui_500_page_hides_the_internals(
    analyst: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("releases.ui.views.status_counts", boom)
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    response = client.get("/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
    assert b'href="/lots/"' in response.content, "with the site's navigation"
