"""The audit trail: append-only in the database, hash-chained, verifiable."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from services.audit.models import AuditEvent
from services.audit.selectors import ChainBreak, audit_chain_verify
from services.audit.services import Actor, audit_record

pytestmark = [pytest.mark.django_db]


def _record(n: int) -> list[AuditEvent]:
    events = []
    with transaction.atomic():
        for i in range(n):
            events.append(
                audit_record(
                    actor=Actor.system("tests"),
                    action="thing.changed",
                    object_type="thing",
                    object_id=i,
                    old_values={"v": i},
                    new_values={"v": i + 1},
                    reason="because",
                )
            )
    return events


@pytest.mark.requirement("21CFR11.10e")
def test_events_are_chained_and_verify() -> None:
    events = _record(3)
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[1].previous_hash == events[0].hash
    assert events[2].previous_hash == events[1].hash
    call_command("audit_verify")


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_database_refuses_rewriting_history(statement: str) -> None:
    _record(1)
    with (
        pytest.raises(DatabaseError, match="pgtrigger"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.get().reason == "because"


@pytest.mark.requirement("21CFR11.10e")
def test_orm_refuses_update_and_delete() -> None:
    event = _record(1)[0]
    event.reason = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        event.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()


def _tamper(sql: str, params: list[object]) -> None:
    """Rewrite history behind the trigger's back, as only a superuser could."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.mark.requirement("21CFR11.10e")
def test_verify_names_the_first_tampered_event() -> None:
    _record(5)
    _tamper("UPDATE audit_auditevent SET new_values = %s WHERE sequence = 3", ['{"v": 99}'])
    outcomes = list(audit_chain_verify())
    assert outcomes[-1] == ChainBreak(3, "content does not match its hash")
    with pytest.raises(CommandError, match="#3"):
        call_command("audit_verify")


@pytest.mark.requirement("21CFR11.10e")
def test_verify_detects_a_deleted_event() -> None:
    _record(4)
    _tamper("DELETE FROM audit_auditevent WHERE sequence = %s", [2])
    with pytest.raises(CommandError, match=r"#2.*missing"):
        call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=Actor.system(), action="x", object_type="y", object_id=1)


def test_event_rolls_back_with_its_change() -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_record(actor=Actor.system(), action="x", object_type="y", object_id=1)
        _ = 1 / 0
    assert not AuditEvent.objects.exists()


@pytest.mark.requirement("21CFR11.10e")
def test_audit_api_is_for_auditors_only(api_as, auditor, analyst) -> None:  # type: ignore[no-untyped-def]
    _record(2)
    response = api_as(auditor).get("/api/v1/audit-events/?object_type=thing")
    assert response.status_code == 200
    assert [e["sequence"] for e in response.json()["results"]] == [1, 2]
    assert response.json()["results"][0]["old_values"] == {"v": 0}
    assert api_as(analyst).get("/api/v1/audit-events/").status_code == 403
