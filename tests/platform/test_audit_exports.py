"""The auditor's tools on the platform: filters, exports (CSV, JSON Lines, PDF) stating the
chain's head and verification, exports audited, and chain verification stored and shown."""

from __future__ import annotations

import csv
import json
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from services.audit.actions import AuditAction
from services.audit.actor import Actor
from services.audit.models import AuditEvent, ChainVerification
from services.audit.services import audit_record
from services.audit.verification import chain_verification_run

pytestmark = [pytest.mark.django_db(transaction=True)]


def _record(n: int, *, object_type: str = "thing", actor: Actor | None = None) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_record(
                actor=actor or Actor.system("tests"),
                action=AuditAction.PRODUCT_CHANGED,
                object_type=object_type,
                object_id=i,
                old_values={"v": i},
                new_values={"v": i + 1},
                reason="because",
            )


def _tamper(sql: str, params: list[object]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def _browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.requirement("21CFR11.10e")
def test_audit_api_filters_by_person_action_and_time(api_as: Any, auditor: Any, qa: Any) -> None:
    _record(3)
    _record(2, actor=qa.audit_actor())
    api = api_as(auditor)
    rows = api.get("/api/v1/audit-events/?actor=Q&action=product.changed").json()["results"]
    assert {r["actor_name"] for r in rows} == {qa.audit_actor().name}
    assert len(rows) == 2
    assert api.get("/api/v1/audit-events/?actor_type=system").json()["results"]
    assert api.get("/api/v1/audit-events/?since=2999-01-01T00:00:00Z").json()["results"] == []
    bad = api.get("/api/v1/audit-events/?action=no.such")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "action"
    paged = api.get("/api/v1/audit-events/?page_size=2").json()
    assert paged["next"] and "cursor=" in paged["next"]


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_streams_every_event_states_the_chain_and_is_audited(
    api_as: Any, auditor: Any, fmt: str
) -> None:
    _record(7)
    response = api_as(auditor).get(f"/api/v1/audit-events/?object_type=thing&format={fmt}")
    assert response.status_code == 200
    assert response.streaming
    assert "attachment" in response["Content-Disposition"]
    assert response["X-Audit-Chain-Verified"] == "passed"  # short trail: verified on the spot
    head = AuditEvent.objects.filter(action=AuditAction.AUDIT_EXPORTED).get()
    body = _body(response)
    if fmt == "csv":
        lines = body.splitlines()
        assert any("verification passed" in line for line in lines if line.startswith("#"))
        rows = list(csv.reader(line for line in lines if not line.startswith("#")))
        assert rows[0][0] == "sequence"
        assert len(rows) == 1 + 7
        assert json.loads(rows[1][rows[0].index("new_values")]) == {"v": 1}
    else:
        lines = [json.loads(line) for line in body.splitlines()]
        assert lines[0]["_export"]["chain"]["verification"]["passed"] is True
        assert lines[0]["_export"]["filters"] == {"object_type": "thing"}
        assert [e["new_values"] for e in lines[1:]] == [{"v": i + 1} for i in range(7)]
    # Who exported what, with which filters.
    assert head.actor_name == auditor.audit_actor().name
    assert head.object_id == "audit-events"
    assert head.new_values["format"] == fmt
    assert head.new_values["filters"] == {"object_type": "thing"}


def test_a_pdf_export_renders(api_as: Any, auditor: Any) -> None:
    _record(3)
    response = api_as(auditor).get("/api/v1/audit-events/?format=pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


@pytest.mark.requirement("21CFR11.10e")
def test_a_broken_chain_is_shown_loudly_with_the_first_failing_event(auditor: Any) -> None:
    _record(5)
    _tamper("UPDATE audit_auditevent SET reason = 'edited' WHERE sequence = %s", [3])
    verification = chain_verification_run(run_id="run-1", actor=auditor.audit_actor())
    assert not verification.passed
    assert verification.first_failing_sequence == 3
    assert AuditEvent.objects.filter(action=AuditAction.AUDIT_CHAIN_VERIFIED).exists()
    page = _browser(auditor).get("/audit/").content.decode()
    assert 'data-code="chain_broken"' in page
    assert "#3" in page
    # An export made now says so.
    export = _browser(auditor).get("/audit/?format=csv")
    assert export["X-Audit-Chain-Verified"] == "failed"
    assert "VERIFICATION FAILED" in _body(export)


@pytest.mark.requirement("21CFR11.10e")
def test_verification_runs_on_the_documents_queue_and_is_stored(
    api_as: Any, auditor: Any, analyst: Any, celery_worker_factory: Any
) -> None:
    _record(4)
    celery_worker_factory(queues="documents", name="documents")
    api = api_as(auditor)
    assert api_as(analyst).post("/api/v1/audit-chain/verifications/").status_code == 403
    started = api.post("/api/v1/audit-chain/verifications/")
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 30
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/audit-chain/verifications/{run_id}/").json()
        if run["state"] == "done":
            break
        time.sleep(0.3)
    assert run["state"] == "done", run
    assert run["result"]["passed"] is True
    assert ChainVerification.objects.get(run_id=run_id).checked >= 4
    listed = api.get("/api/v1/audit-chain/verifications/").json()["results"]
    assert listed[0]["run_id"] == run_id


def test_the_audit_page_filters_and_shows_values_side_by_side(auditor: Any, qa: Any) -> None:
    _record(2, actor=qa.audit_actor())
    page = _browser(auditor).get("/audit/?actor=qa&action=product.changed").content.decode()
    assert "Product changed" in page  # the action's label, for people
    assert 'class="old-value">0<' in page and 'class="new-value">1<' in page
    assert "{&#x27;v&#x27;" not in page and "{'v'" not in page  # no raw Python dicts
    assert "format=csv" in page
