"""The API against its own OpenAPI contract, fuzzed by schemathesis.

Every operation is exercised with generated input, as a machine client and as a
signed-in QA officer (session cookie and CSRF token, as the browser sends them): no
answer may be a server error, and every answer's body must match the schema
documented for its status code.
"""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo, seeded once for the whole module and committed (the requests run
    through the WSGI app, outside any test transaction, as in production); flushed
    at the end. Seeding and flushing per operation cost ~5 s each, twice over
    ~70 operations: most of the suite's time."""
    from django.core.management import call_command

    from tests.factories import PASSWORD
    from tests.qc.pipeline.conftest import _demo_world

    with django_db_blocker.unblock():
        _demo_world(PASSWORD)
        yield
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def db_access(fuzz_world: None, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def machine_client_headers(fuzz_world: None, django_db_blocker: Any) -> dict[str, str]:
    from services.accounts.services import api_client_create
    from services.audit.services import Actor

    with django_db_blocker.unblock():
        _, key = api_client_create(name="FUZZ", actor=Actor.system("tests"))
    return {"Authorization": f"Api-Key {key}"}


@pytest.fixture
def headers(db_access: None, machine_client_headers: dict[str, str]) -> dict[str, str]:
    return machine_client_headers


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
def qa_headers(db_access: None) -> dict[str, str]:
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
