"""Shared fixtures: personas (analyst, reviewer, qa, qp, auditor, admin, mes) and the
requirement-traceability report printed at the end of every run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

pytest_plugins = ["tests.fixtures.celery_worker", "tests.validation.plugin"]


def _allow_test_flush() -> None:
    """Let pytest-django empty the test database between transactional tests.

    GMP tables refuse TRUNCATE by trigger.  Only here, in the test process, the
    flush runs with ``session_replication_role = replica`` (superuser only, and
    LOCAL to the flush transaction), which PostgreSQL uses to skip triggers.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self: DatabaseOperations, *args: Any, **kwargs: Any) -> list[str]:
        statements = original(self, *args, **kwargs)
        if not statements:
            return statements
        return ["SET LOCAL session_replication_role = replica", *statements]

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _allow_test_flush()


_requirements: dict[str, list[tuple[str, str]]] = defaultdict(list)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for clause in getattr(report, "requirements", ()):
        _requirements[clause].append((report.nodeid, report.outcome))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    report.requirements = [m.args[0] for m in item.iter_markers("requirement")]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _requirements:
        return
    terminalreporter.section("requirements traceability (clause: tests passed/total)")
    for clause in sorted(_requirements):
        runs = _requirements[clause]
        passed = sum(1 for _, outcome in runs if outcome == "passed")
        terminalreporter.write_line(f"{clause:<24} {passed}/{len(runs)}")


@pytest.fixture
def password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


def _persona(role: str, username: str) -> Any:
    from tests.factories import UserFactory

    return UserFactory(username=username, role=role)


@pytest.fixture
def analyst(db: None) -> Any:
    return _persona("qc_analyst", "analyst")


@pytest.fixture
def reviewer(db: None) -> Any:
    return _persona("qc_reviewer", "reviewer")


@pytest.fixture
def qa(db: None) -> Any:
    return _persona("qa_officer", "qa")


@pytest.fixture
def qp(db: None) -> Any:
    return _persona("qualified_person", "qp")


@pytest.fixture
def auditor(db: None) -> Any:
    return _persona("auditor", "auditor")


@pytest.fixture
def admin_user(db: None) -> Any:
    from tests.factories import UserFactory

    return UserFactory(username="admin", role="administrator", is_staff=True, is_superuser=True)


@pytest.fixture
def mes(db: None) -> tuple[Any, str]:
    """A manufacturing-system machine client and its API key."""
    from services.accounts.services import api_client_create
    from services.audit.services import Actor

    return api_client_create(name="MES-1", actor=Actor.system("tests"))


@pytest.fixture
def mes_api(mes: tuple[Any, str]) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {mes[1]}")
    return client


@pytest.fixture
def api_as() -> Any:
    """``api_as(user)``: an API client logged in as a person (session auth)."""
    from rest_framework.test import APIClient

    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make
