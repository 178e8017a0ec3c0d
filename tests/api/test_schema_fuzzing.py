"""The API against its own OpenAPI contract, fuzzed by schemathesis.

Every operation is exercised with generated input, as a machine client: no
answer may be a server error, and every answer's body must match the schema
documented for its status code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.wsgi import application

# The committed contract (tests/qc/test_openapi_contract.py proves it is what the code
# serves); /api/schema/ itself needs a signed-in client since it is no longer public.
schema = schemathesis.openapi.from_path(Path(__file__).resolve().parents[2] / "openapi.yaml")
schema.app = application

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def headers(demo_world: None) -> dict[str, str]:
    from services.accounts.services import api_client_create
    from services.audit.services import Actor

    _, key = api_client_create(name="FUZZ", actor=Actor.system("tests"))
    return {"Authorization": f"Api-Key {key}"}


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_as_documented(
    case: Any, headers: dict[str, str]
) -> None:
    case.call_and_validate(
        headers={**headers, "Idempotency-Key": "fuzz-" + case.operation.label},
        checks=[not_a_server_error, response_schema_conformance],
    )
