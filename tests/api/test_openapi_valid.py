"""openapi.yaml passes a strict OpenAPI validator, and says what off-the-shelf clients need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

SCHEMA = Path(__file__).resolve().parents[2] / "openapi.yaml"


def _schema() -> dict[str, Any]:
    return dict(yaml.safe_load(SCHEMA.read_text()))


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_openapi_yaml_is_a_valid_openapi_document() -> None:
    schema = _schema()
    assert schema["openapi"] == "3.1.0"
    validate(schema)  # raises on the first violation


# The one endpoint that takes files: an investigation's raw data (multipart, nothing else).
MULTIPART = {"POST /api/v1/investigations/{number}/attachments/"}


def test_every_request_body_has_one_media_type_json() -> None:
    bodies = {
        f"{method.upper()} {path}": sorted(operation["requestBody"]["content"])
        for method, path, operation in _operations(_schema())
        if "requestBody" in operation
    }
    assert (
        bodies
        and {
            key: media
            for key, media in bodies.items()
            if media != (["multipart/form-data"] if key in MULTIPART else ["application/json"])
        }
        == {}
    )


def test_no_nullable_keyword_survives_in_a_3_1_document() -> None:
    text = SCHEMA.read_text()
    assert "nullable" not in text
    # oneOf [{}, null] admits null twice, so refuses it: "any value" is just {}.
    assert "- {}" not in text


def test_every_operation_declares_its_refusals_in_the_one_error_shape() -> None:
    for method, path, operation in _operations(_schema()):
        responses = operation["responses"]
        wanted = {"400", "401", "403"} | ({"404"} if "{" in path else set())
        assert wanted <= set(responses), f"{method.upper()} {path}: {sorted(responses)}"
        for code, response in responses.items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, f"{method.upper()} {path} {code}"


# Every POST that runs under the idempotency rules (services.api.idempotency): the
# machine clients' writes, and the QC writes people make through the API.
IDEMPOTENT_POSTS = {
    "/api/v1/lots/",
    "/api/v1/lots/{lot_number}/results/",
    "/api/v1/lots/{lot_number}/specification/",
    "/api/v1/assay-runs/",
    "/api/v1/products/{code}/specifications/",
    "/api/v1/specifications/{id}/lines/",
    "/api/v1/specifications/{id}/new-draft/",
    "/api/v1/specifications/{id}/withdraw/",
}


def test_every_idempotent_post_declares_the_idempotency_key_header() -> None:
    declared = {
        path
        for method, path, operation in _operations(_schema())
        if method == "post"
        and any(
            parameter["in"] == "header" and parameter["name"] == "Idempotency-Key"
            for parameter in operation.get("parameters", [])
        )
    }
    assert declared == IDEMPOTENT_POSTS
