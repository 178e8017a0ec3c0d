"""Query parameters are strictly typed: a malformed one is a 400 naming it, never ignored."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def _refused(response: Any, parameter: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert [problem["field"] for problem in body["errors"]] == [parameter]


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/test-methods/?active=0.9", "active"),
        ("/api/v1/instruments/?active=yes-ish", "active"),
        ("/api/v1/lots/?page_size=false", "page_size"),
        ("/api/v1/lots/?page_size=0", "page_size"),
        ("/api/v1/lots/?page=abc", "page"),
        ("/api/v1/results/?page_size=-3", "page_size"),
        ("/api/v1/results/?cursor=not-a-cursor", "cursor"),
        ("/api/v1/results/?received_after=", "received_after"),
        ("/api/v1/results/?received_after=yesterday", "received_after"),
        ("/api/v1/results/?current=maybe", "current"),
        ("/api/v1/lots/?product=", "product"),
        ("/api/v1/lots/?status=nonsense", "status"),
    ],
)
def test_a_malformed_query_parameter_is_a_400_naming_it(
    mes_api: Any, url: str, parameter: str
) -> None:
    _refused(mes_api.get(url), parameter)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/test-methods/?active=true",
        "/api/v1/test-methods/?active=0",
        "/api/v1/lots/?page_size=5&page=1",
        "/api/v1/results/?received_after=2026-01-01T00:00:00Z&current=false",
    ],
)
def test_well_formed_query_parameters_are_answered(mes_api: Any, url: str) -> None:
    assert mes_api.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/investigations/?open=0.9", "open"),
        ("/api/v1/investigations/?kind=unknown", "kind"),
        ("/api/v1/investigations/?lot=", "lot"),
        ("/api/v1/notifications/?unread=2", "unread"),
    ],
)
def test_the_release_queries_are_strict_too(api_as: Any, qa: Any, url: str, parameter: str) -> None:
    _refused(api_as(qa).get(url), parameter)


def test_read_all_answers_the_count_and_an_unknown_notification_the_error_shape(
    api_as: Any, qa: Any
) -> None:
    client = api_as(qa)
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked_read": 0}
    missing = client.post("/api/v1/notifications/999999/read/")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "notification_not_found"
