"""The impact preview on the demo: draft v2 (a tighter endotoxin limit) against its lots."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from rest_framework.test import APIClient

from qc.management.commands.spec_impact import Command
from qc.models import Specification
from services.accounts.models import User
from services.accounts.services import api_client_create
from services.audit.services import Actor

IMPACT = "/api/v1/products/EVX-MSC-01/specifications/2/impact/"


def test_the_demo_ships_a_draft_v2_with_a_tighter_endotoxin_limit(demo_world: None) -> None:
    draft = Specification.objects.get(product__code="EVX-MSC-01", version=2)
    effective = Specification.objects.get(product__code="EVX-MSC-01", version=1)
    assert (draft.status, effective.status) == ("draft", "effective")
    changed = {
        line.test.code: line.params
        for line in draft.lines.select_related("test")
        if line.params != effective.lines.get(position=line.position).params
    }
    assert changed == {"LAL": {"max": "0.10", "requires_run": True}}


def test_spec_impact_takes_spec_version(evaluated_demo: None) -> None:
    out = io.StringIO()
    call_command("spec_impact", "EVX-MSC-01", "--spec-version", "2", "--processes", "1", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["EVX-24-001", "conforms", "->", "does_not_conform", "CHANGES"]
    assert lines[-1].startswith("1 of 4 lots would change verdict under EVX-MSC-01 v2 (draft)")


def test_spec_impact_help_does_not_clash_with_djangos_version_option() -> None:
    help_text = Command().create_parser("manage.py", "spec_impact").format_help()
    assert "--spec-version N" in help_text and "--version" in help_text


def test_the_impact_endpoint_answers_a_qa_session_and_refuses_machines(
    evaluated_demo: None, api_as: Any
) -> None:
    answer = api_as(User.objects.get(username="qa")).get(IMPACT)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["lots_evaluated"] == 4
    assert [(c["lot_number"], c["current_verdict"], c["new_verdict"]) for c in body["changes"]] == [
        ("EVX-24-001", "conforms", "does_not_conform")
    ]
    assert api_as(User.objects.get(username="analyst")).get(IMPACT).status_code == 403

    _, key = api_client_create(name="MES-IMPACT", actor=Actor.system("tests"))
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert machine.get(IMPACT).status_code == 403
