"""The chain covers the records (21 CFR 11.10(a), 11.10(e); ALCOA+ "original", "enduring").

Every GMP row is bound to the audit event that created it by a content hash that
PostgreSQL computes; a row changed or removed behind the append-only trigger's
back (a database owner disabling it) makes ``audit_verify`` fail naming the table
and the id.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from qc.models import Result
from services.audit.actor import Actor
from services.audit.models import AuditEvent
from services.audit.records import record_hashes, unbound_hashes
from services.audit.selectors import ChainBreak, RecordsChecked, audit_chain_verify
from services.audit.verification import chain_status, chain_verification_run
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db

LAL = {"test": "LAL", "value": "0.80", "unit": "EU/mL"}


def _post(lot: Any, client: Any, *items: dict[str, Any]) -> list[int]:
    response = post_json(client, f"/api/v1/lots/{lot.lot_number}/results/", {"results": items})
    assert response.status_code == 201, response.json()
    return [r["id"] for r in response.json()["results"]]


def behind_the_trigger(sql: str, params: list[Any], table: str = "qc_result") -> None:
    """What a database owner can do: switch the append-only triggers off and write."""
    with connection.cursor() as cursor:
        # The test's transaction still holds deferred foreign-key checks; run them first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


def _outcome() -> ChainBreak | RecordsChecked:
    last = list(audit_chain_verify())[-1]
    assert isinstance(last, ChainBreak | RecordsChecked)
    return last


@pytest.mark.requirement("21CFR11.10e")
def test_one_event_per_request_binds_the_hash_postgresql_computes_of_each_row(
    world: Any, lot: Any, mes_api: Any
) -> None:
    ids = _post(lot, mes_api, LAL, {**LAL, "value": "0.75"}, {**LAL, "value": "< 0.05"})
    event = AuditEvent.objects.get(action="lot.results_recorded")
    assert event.records == record_hashes(Result, ids)
    assert not AuditEvent.objects.filter(object_type="result").exists()
    assert _outcome() == RecordsChecked(len(AuditEvent.objects.get(pk=event.pk).records))


@pytest.mark.requirement("21CFR11.10a")
@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.requirement("ALCOA-original")
def test_a_result_changedbehind_the_trigger_fails_verification_naming_table_and_id(
    world: Any, lot: Any, mes_api: Any
) -> None:
    _post(lot, mes_api, {**LAL, "value": "0.50"})
    (pk,) = _post(lot, mes_api, LAL)
    binding = AuditEvent.objects.filter(action="lot.results_recorded").last()
    assert binding is not None
    call_command("audit_verify")  # intact first
    behind_the_trigger(
        "UPDATE qc_result SET value_as_posted = '0.08', numeric_value = 0.08, "
        "canonical_value = 0.08 WHERE id = %s",
        [pk],
    )
    assert Result.objects.get(pk=pk).value_as_posted == "0.08"  # the trigger did not stop it
    outcome = _outcome()
    assert isinstance(outcome, ChainBreak)
    assert (outcome.sequence, outcome.table, outcome.record_id) == (
        binding.sequence,
        "qc_result",
        pk,
    )
    assert outcome.problem.endswith("(changed)")
    with pytest.raises(CommandError, match=rf"qc_result #{pk} .*event #{binding.sequence}"):
        call_command("audit_verify")


@pytest.mark.requirement("21CFR11.10e")
def test_a_removed_row_is_reported_removed(world: Any, lot: Any, mes_api: Any) -> None:
    _, second = _post(lot, mes_api, LAL, {**LAL, "value": "0.70"})
    behind_the_trigger("DELETE FROM qc_result WHERE id = %s", [second])
    outcome = _outcome()
    assert isinstance(outcome, ChainBreak)
    assert (outcome.table, outcome.record_id) == ("qc_result", second)
    assert outcome.problem.endswith("(removed)")


@pytest.mark.requirement("21CFR11.10e")
def test_the_stored_verification_the_api_and_the_exports_name_the_failing_record(
    world: Any, lot: Any, mes_api: Any, auditor: Any, api_as: Any
) -> None:
    (pk,) = _post(lot, mes_api, LAL)
    behind_the_trigger("UPDATE qc_result SET value_as_posted = '0.08' WHERE id = %s", [pk])
    actor = Actor.system("test")
    verification = chain_verification_run(run_id=str(uuid.uuid4()), actor=actor)
    assert not verification.passed
    assert (verification.failing_table, verification.failing_record_id) == ("qc_result", pk)
    listed = api_as(auditor).get("/api/v1/audit-chain/verifications/").json()["results"][0]
    assert (listed["failing_table"], listed["failing_record_id"]) == ("qc_result", pk)
    page = api_as(auditor).get("/audit/").content.decode()  # the chain status on the trail page
    assert 'data-code="record_changed"' in page and f"?record=qc_result:{pk}" in page
    status = chain_status(actor=actor)
    assert status.as_dict()["verification"]["failing_record_id"] == pk
    assert f"qc_result #{pk}" in status.sentence()


@pytest.mark.requirement("21CFR11.10e")
def test_backfill_binds_earlier_rows_once_with_one_audited_event(
    world: Any, lot: Any, mes_api: Any
) -> None:
    run = world.run("RUN-OLD", method=world.endotoxin)  # written without any binding
    unbound = {(r["table"], r["id"]) for r in unbound_hashes()}
    assert ("qc_assayrun", run.pk) in unbound
    with pytest.raises(CommandError):
        call_command("audit_backfill_records", "--reason", " ")
    call_command("audit_backfill_records", "--reason", "records chained from release 1.4")
    event = AuditEvent.objects.get(action="audit.records_bound")
    assert event.reason == "records chained from release 1.4"
    assert {(r["table"], r["id"]) for r in event.records} == unbound
    assert unbound_hashes() == []
    call_command("audit_backfill_records", "--reason", "again")
    assert AuditEvent.objects.filter(action="audit.records_bound").count() == 1
    assert isinstance(_outcome(), RecordsChecked)
    behind_the_trigger(
        "UPDATE qc_assayrun SET analyst = 'someone else' WHERE id = %s", [run.pk], "qc_assayrun"
    )
    outcome = _outcome()
    assert isinstance(outcome, ChainBreak)
    assert (outcome.table, outcome.record_id) == ("qc_assayrun", run.pk)


@pytest.mark.requirement("21CFR11.10e")
def test_a_result_is_found_by_its_id_in_the_trail_through_its_binding(
    world: Any, lot: Any, mes_api: Any, auditor: Any, api_as: Any
) -> None:
    (pk,) = _post(lot, mes_api, LAL)
    answer = api_as(auditor).get(f"/api/v1/audit-events/?record=qc_result:{pk}")
    assert [e["action"] for e in answer.json()["results"]] == ["lot.results_recorded"]
