"""The committed openapi.yaml is the API's contract: it must match what the code serves."""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_the_committed_openapi_schema_matches_the_code(tmp_path: Path) -> None:
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate", stdout=io.StringIO())
    expected = SCHEMA.read_text(encoding="utf-8") if SCHEMA.exists() else ""
    actual = generated.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    "openapi.yaml (committed)",
                    "openapi.yaml (generated from the code)",
                )
            )[:80]
        )
        raise AssertionError(
            "The API changed but openapi.yaml did not: run `make schema` and commit "
            f"openapi.yaml (review the diff: it is the contract integrators code against).\n{diff}"
        )


@pytest.mark.django_db
def test_the_docs_are_served_with_local_assets(qa: Any) -> None:
    from django.test import Client

    client = Client()
    client.force_login(qa)  # the docs need a signed-in person (unless API_DOCS_PUBLIC)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/" in page.content.decode()
