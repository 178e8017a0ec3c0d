"""The lot lifecycle: the transition table, the PostgreSQL trigger, and following evaluations."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError, IntegrityError, connection, transaction

from qc.models import Lot, LotStatus
from releases.lifecycle import TRANSITIONS, lot_mark_in_testing, transition_allowed
from releases.models import Notification
from releases.tasks import notification_mail_send
from services.audit.models import AuditEvent
from services.audit.services import Actor

pytestmark = [pytest.mark.django_db(transaction=True)]

STATES = list(LotStatus.values)


def _force_status(lot: Lot, status: str, before_hold: str = "") -> None:
    """Put a lot in a state directly, with triggers off (test setup only)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE qc_lot SET status = %s, status_before_hold = %s WHERE id = %s",
            [status, before_hold, lot.pk],
        )


def _database_accepts(lot: Lot, new: str) -> bool:
    """Would PostgreSQL take this step?  (A hold records the state it leaves.)"""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE qc_lot SET status = %s, status_before_hold = CASE WHEN %s = 'on_hold' "
                "THEN status ELSE '' END WHERE id = %s",
                [new, new, lot.pk],
            )
            transaction.set_rollback(True)
    except IntegrityError:
        return False
    return True


@pytest.mark.requirement("21CFR11.10f")
def test_the_database_enforces_exactly_the_transition_table(world: Any) -> None:
    lot = world.lot()
    for old, new in itertools.product(STATES, STATES):
        if old == new:
            continue
        before = LotStatus.IN_TESTING if old == LotStatus.ON_HOLD else ""
        _force_status(lot, old, before)
        expected = transition_allowed(old, new, before_hold=before)
        assert _database_accepts(lot, new) is expected, (old, new)
    assert set(TRANSITIONS) == set(STATES)


@pytest.mark.requirement("21CFR11.10f")
def test_raw_sql_cannot_skip_a_step(world: Any) -> None:
    lot = world.lot()
    _force_status(lot, LotStatus.IN_TESTING)
    with (
        pytest.raises(DatabaseError, match="cannot go from in_testing to released"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE qc_lot SET status='released' WHERE status='in_testing'")
    lot.refresh_from_db()
    assert lot.status == LotStatus.IN_TESTING


@pytest.mark.requirement("21CFR11.10f")
def test_a_lot_is_created_quarantined_and_the_orm_cannot_skip_either(world: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        world.lot(status=LotStatus.RELEASED)
    lot = world.lot()
    assert lot.status == LotStatus.QUARANTINED
    lot.status = LotStatus.APPROVED
    with pytest.raises(IntegrityError), transaction.atomic():
        lot.save()


@pytest.mark.requirement("21CFR11.10f")
def test_a_hold_returns_only_to_the_state_it_left(world: Any) -> None:
    lot = world.lot()
    _force_status(lot, LotStatus.IN_TESTING)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # A hold must record where it came from.
        cursor.execute("UPDATE qc_lot SET status='on_hold' WHERE id=%s", [lot.pk])
    _force_status(lot, LotStatus.ON_HOLD, LotStatus.IN_TESTING)
    assert not _database_accepts(lot, LotStatus.APPROVED)
    assert _database_accepts(lot, LotStatus.IN_TESTING)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE qc_lot SET status_before_hold='approved' WHERE id=%s", [lot.pk])


def test_first_result_marks_the_lot_in_testing_once(world: Any) -> None:
    lot = world.lot()
    with transaction.atomic():
        assert lot_mark_in_testing(lot=lot, actor=Actor.system("tests")) is True
        assert lot_mark_in_testing(lot=lot, actor=Actor.system("tests")) is False
    lot.refresh_from_db()
    assert lot.status == LotStatus.IN_TESTING
    assert (
        AuditEvent.objects.filter(action="lot.status_changed", object_id=lot.lot_number).count()
        == 1
    )


@pytest.mark.requirement("21CFR211.165a")
def test_the_lot_follows_its_evaluations(world: Any, qa: Any) -> None:
    lot = world.lot()
    world.results(lot, skip=("STERILITY",))
    world.evaluate(lot)
    assert lot.status == LotStatus.IN_TESTING  # incomplete: sterility missing
    world.result(lot, "STERILITY", "no growth")
    world.evaluate(lot)
    assert lot.status == LotStatus.READY_FOR_REVIEW
    note = Notification.objects.get(recipient=qa)
    assert note.kind == "ready_for_review" and lot.lot_number in note.text
    # ... and by mail: not from the deciding transaction, but by the retrying mail task
    # queued on commit (here its body runs in the test process), exactly once.
    assert mail.outbox == [] and note.mailed_at is None
    assert notification_mail_send([note.pk]) == 1
    assert [message.to for message in mail.outbox] == [[qa.email]]
    assert lot.lot_number in mail.outbox[0].subject
    assert notification_mail_send([note.pk]) == 0  # a redelivered task sends nothing twice
    world.result(lot, "NTA-CONC", "5.0E+10")  # a second, failing result
    world.evaluate(lot)
    assert lot.status == LotStatus.IN_TESTING


def test_a_new_evaluation_voids_the_qa_approval(world: Any, reviewer: Any, qa: Any) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    world.approved(lot, qa)
    assert lot.status == LotStatus.APPROVED
    world.result(lot, "LAL", "0.12", performed_by="analyst2")  # new data, still conforming
    world.evaluate(lot)
    assert lot.status == LotStatus.READY_FOR_REVIEW
    assert AuditEvent.objects.filter(
        action="lot.status_changed", object_id=lot.lot_number, reason__contains="approval void"
    ).exists()
