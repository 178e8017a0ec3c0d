"""OpenAPI: the machine-client authentication scheme, and the one error schema everywhere."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, and a body that refuses unknown fields says so."""

    def _map_serializer(
        self, serializer: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer(serializer, direction, bypass_extensions)
        strict = getattr(serializer, "refuses_unknown_fields", False)
        if strict and direction == "request" and schema.get("type") == "object":
            schema["additionalProperties"] = False
        return schema


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "services.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Machine clients send `Authorization: Api-Key <key>` "
            "(create one with `python manage.py create_api_client NAME`).",
        }


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx answer: a headline for a person and every problem, each with a "
    "stable `code` (what clients branch on), the reason in words, the field and, in a bulk "
    "request, the item's index.",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "reason": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                    "index": {"type": ["integer", "null"]},
                },
                "required": ["code", "reason", "field", "index"],
            },
        },
    },
    "required": ["detail", "errors"],
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_DESCRIPTIONS = {
    "400": "Malformed request: `errors` names each field (and item index) and why.",
    "401": "Not authenticated.",
    "403": "Not allowed: wrong role, a machine client where a person must act, or a wrong "
    "password (counted toward the lockout).",
    "404": "The record named in the path does not exist.",
    "409": "Refused in the current state: `errors` lists every reason, each with its code.",
}


def error_responses_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Declare the one error schema on every operation's 4xx answers (drf-spectacular hook)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = ["400", "401", "403"]
            if "{" in path:
                wanted.append("404")
            if method == "post":
                wanted.append("409")
            for code in wanted:
                responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith("4"):
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
                    response.setdefault("description", _DESCRIPTIONS.get(code, "Refused."))
    return result


def _null_allowed(schema: dict[str, Any]) -> dict[str, Any]:
    """One OpenAPI 3.0 ``nullable`` schema in its OpenAPI 3.1 (JSON Schema) spelling."""
    schema = {key: value for key, value in schema.items() if key != "nullable"}
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return {**schema, "type": [*kind, *(["null"] if "null" not in kind else [])]}
    if not {"$ref", "allOf", "oneOf", "anyOf", "enum", "const"} & set(schema):
        return schema  # no type: any value, null included (a oneOf would match it twice)
    # A reference or a composition: null is one more alternative.
    outer = ("readOnly", "writeOnly", "description")
    annotations = {key: schema.pop(key) for key in outer if key in schema}
    return {"oneOf": [schema, {"type": "null"}], **annotations}


def _walk(node: Any) -> Any:
    if isinstance(node, list):
        return [_walk(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _walk(value) for key, value in node.items()}
    if any(alternative == {} for alternative in node.get("oneOf", [])):
        # drf-spectacular's nullable JSONField, oneOf [{}, null]: null would match twice.
        node.pop("oneOf")
    if node.get("nullable") is True:
        return _null_allowed(node)
    node.pop("nullable", None)
    return node


def nullable_31_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Spell every ``nullable`` as OpenAPI 3.1 does (drf-spectacular hook, runs last).

    The schema is OpenAPI 3.1.0 (``SPECTACULAR_SETTINGS["OAS_VERSION"]``): a nullable
    reference is ``oneOf: [$ref, {type: 'null'}]``, which strict validators and
    generated clients read alike (3.0's ``allOf`` + ``nullable`` without a ``type``
    does not admit null under 3.0.3's rules).  DRF's pagination schemas and
    hand-written field schemas still say ``nullable: true``: this rewrites them.
    """
    if not str(result.get("openapi", "")).startswith("3.1"):
        return result
    result["components"] = _walk(result.get("components", {}))
    result["paths"] = _walk(result.get("paths", {}))
    return result
