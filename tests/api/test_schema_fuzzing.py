"""The API against its own OpenAPI contract, fuzzed by schemathesis.

Every operation is exercised with generated input, as a machine client and as a
signed-in QA officer (session cookie and CSRF token, as the browser sends them): no
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


@pytest.fixture
def qa_headers(demo_world: None) -> dict[str, str]:
    """A signed-in QA officer's browser session (the demo's ``qa``): cookie and CSRF token."""
    from django.conf import settings as django_settings
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    from services.accounts.models import User

    browser = Client()
    browser.force_login(User.objects.get(username="qa"))
    session = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    token = _get_new_csrf_string()
    return {
        "Cookie": f"{django_settings.SESSION_COOKIE_NAME}={session}; "
        f"{django_settings.CSRF_COOKIE_NAME}={token}",
        "X-CSRFToken": token,
    }


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_a_signed_in_qa_officer_as_documented(
    case: Any, qa_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        headers={**qa_headers, "Idempotency-Key": "fuzz-qa-" + case.operation.label},
        checks=[not_a_server_error, response_schema_conformance],
    )
