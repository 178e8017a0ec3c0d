"""The OOS workflow: Phase I, second-person invalidation, retests, Phase II, rejection."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from qc.models import Lot, LotStatus
from releases.models import Investigation, InvestigationPhase, Notification, ResultInvalidation
from releases.services.decisions import lot_approve
from releases.services.errors import Refused
from releases.services.guards import Action, lot_readiness
from releases.services.investigations import investigation_add_entry
from releases.services.oos import (
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from services.esign.models import Signature
from services.esign.services import signature_verify
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def _oos_lot(world: Any, value: str = "0.80") -> tuple[Lot, Investigation]:
    lot = world.lot()
    world.results(lot, LAL=value)
    world.evaluate(lot)
    return lot, Investigation.objects.get(lot=lot, kind="oos")


def _check(investigation: Investigation, by: Any) -> None:
    investigation_add_entry(
        number=investigation.number,
        by=by,
        entry_type="check",
        text="calculations, dilution, LAL reagent lot and pipette calibration checked",
    )


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_opens_an_investigation_that_alerts_qa_and_snapshots_the_budget(
    world: Any, qa: Any
) -> None:
    lot, investigation = _oos_lot(world)
    assert investigation.phase == InvestigationPhase.PHASE_1
    assert investigation.retest_budget == world.endotoxin.retest_budget == 1
    note = Notification.objects.get(recipient=qa, kind="oos_opened")
    assert investigation.number in note.text and lot.lot_number in note.text


@pytest.mark.requirement("FDA-OOS")
def test_the_retest_budget_cannot_be_raised_after_the_fact(world: Any) -> None:
    _, investigation = _oos_lot(world)
    world.endotoxin.retest_budget = 5
    world.endotoxin.save()  # the method changes later ...
    investigation.refresh_from_db()
    assert investigation.retest_budget == 1  # ... the investigation keeps its snapshot
    investigation.retest_budget = 5
    with pytest.raises(DatabaseError), transaction.atomic():
        investigation.save()


@pytest.mark.requirement("FDA-OOS")
def test_phase_one_records_its_checks_before_concluding(world: Any, reviewer: Any) -> None:
    _, investigation = _oos_lot(world)
    with pytest.raises(Refused, match="No laboratory check is recorded"):
        investigation_conclude_phase_one(
            number=investigation.number, by=reviewer, assignable_cause=True, reason="pipette"
        )


@pytest.mark.requirement("21CFR610.1")
@pytest.mark.requirement("FDA-OOS")
def test_invalidation_needs_a_second_persons_signature(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _oos_lot(world)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number,
        by=reviewer,
        assignable_cause=True,
        reason="pipette out of calibration: 10-fold dilution error",
    )
    # The proposer cannot sign their own proposal.
    with pytest.raises(Refused, match="a second person must sign it"):
        investigation_invalidate_result(
            number=investigation.number, by=reviewer, password=password, reason="agree"
        )
    assert not ResultInvalidation.objects.exists()
    version = Lot.objects.get(pk=lot.pk).data_version
    invalidation = investigation_invalidate_result(
        number=investigation.number,
        by=qa,
        password=password,
        reason="calibration record confirms the pipette error",
    )
    assert invalidation.proposed_by == reviewer
    assert invalidation.signature.signer == qa and invalidation.signature.meaning == "invalidated"
    assert signature_verify(invalidation.signature).intact
    assert invalidation.reason == "pipette out of calibration: 10-fold dilution error"
    assert Lot.objects.get(pk=lot.pk).data_version == version + 1
    investigation.refresh_from_db()
    assert investigation.phase == "closed" and investigation.conclusion == "invalidated"
    assert investigation.retest_allowed_at is not None
    # The original stays, visible, and no longer counts.
    world.evaluate(lot)
    lal = next(line for line in lot.evaluations.latest().lines if line["test_code"] == "LAL")
    assert lal["verdict"] == "missing"
    assert any("invalidated" in note for note in lal["notes"])


@pytest.mark.requirement("FDA-OOS")
def test_a_retest_by_the_same_analyst_or_beyond_the_budget_is_refused_at_release(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _oos_lot(world)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number, by=reviewer, assignable_cause=True, reason="pipette"
    )
    investigation_invalidate_result(
        number=investigation.number, by=qa, password=password, reason="confirmed"
    )
    world.result(lot, "LAL", "0.10", performed_by="analyst")  # the same analyst
    world.evaluate(lot)
    assert lot.status == LotStatus.READY_FOR_REVIEW  # the engine counts the valid retest ...
    world.reviewed(lot, reviewer, qa)
    problems = lot_readiness(lot=lot, action=Action.APPROVE, signer=qa).problems
    assert problems == [  # ... the guard refuses it
        f"LAL retest result #{lot.results.last().pk} was performed by analyst, the analyst of "
        f"OOS result #{investigation.result_id}; a retest needs a different analyst."
    ]
    world.result(lot, "LAL", "0.11", performed_by="analyst2")  # a second retest: over budget
    world.evaluate(lot)
    world.reviewed(lot, reviewer, qa)
    problems = lot_readiness(lot=lot, action=Action.APPROVE, signer=qa).problems
    assert any(
        "retested 2 time(s)" in p and "budget, fixed in advance, is 1" in p for p in problems
    ), problems


@pytest.mark.requirement("FDA-OOS")
def test_a_retest_by_another_analyst_within_budget_lets_the_lot_be_approved(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _oos_lot(world)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number, by=reviewer, assignable_cause=True, reason="pipette"
    )
    investigation_invalidate_result(
        number=investigation.number, by=qa, password=password, reason="confirmed"
    )
    world.result(lot, "LAL", "0.10", performed_by="analyst2")
    world.evaluate(lot)
    world.reviewed(lot, reviewer, qa)
    lot_approve(lot_number=lot.lot_number, by=qa, password=password, reason="OOS invalidated")
    lot.refresh_from_db()
    assert lot.status == LotStatus.APPROVED
    assert lot.results.count() == 4  # every individual result is kept


@pytest.mark.requirement("FDA-OOS")
def test_an_oos_is_never_averaged_away_by_passing_retests(world: Any) -> None:
    lot, _ = _oos_lot(world, "0.60")
    for value in ("0.10", "0.12", "0.11"):
        world.result(lot, "LAL", value, performed_by="analyst2")
    world.evaluate(lot)
    assert lot.evaluations.latest().verdict == "does_not_conform"
    assert lot.status == LotStatus.IN_TESTING


@pytest.mark.requirement("21CFR211.192")
@pytest.mark.requirement("21CFR211.165f")
@pytest.mark.requirement("FDA-OOS")
def test_phase_two_checks_other_lots_and_a_confirmed_oos_rejects_the_lot(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _oos_lot(world)
    other = world.ready_lot()
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number,
        by=reviewer,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    investigation.refresh_from_db()
    assert investigation.phase == InvestigationPhase.PHASE_2
    with pytest.raises(Refused, match="which other lots were checked"):
        investigation_conclude(
            number=investigation.number,
            by=qa,
            password=password,
            conclusion="confirmed_oos",
            reason="x",
        )
    investigation_record_phase_two(
        number=investigation.number,
        by=qa,
        lots_checked=[other.lot_number],
        findings="same WFI lot used; other lot's endotoxin within limits",
    )
    investigation_conclude(
        number=investigation.number,
        by=qa,
        password=password,
        conclusion="confirmed_oos",
        reason="endotoxin OOS confirmed; root cause: depyrogenation cycle",
    )
    investigation.refresh_from_db()
    lot.refresh_from_db()
    assert investigation.phase == "closed" and investigation.conclusion == "confirmed_oos"
    assert lot.status == LotStatus.REJECTED
    meanings = set(Signature.objects.filter(signer=qa).values_list("meaning", flat=True))
    assert {"concluded", "rejected"} <= meanings
    lots_checked = investigation.entries.get(entry_type="lots_checked").data["lots"]
    assert lots_checked == [
        {
            "lot_number": other.lot_number,
            "product": world.product.code,
            "status": "ready_for_review",
        }
    ]


@pytest.mark.requirement("21CFR610.1")
def test_the_analyst_cannot_invalidate_their_own_result(
    world: Any, reviewer: Any, password: str
) -> None:
    _, investigation = _oos_lot(world)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number, by=reviewer, assignable_cause=True, reason="pipette"
    )
    analyst_reviewer = UserFactory(username="analyst", role="qc_reviewer")
    with pytest.raises(Refused, match="the analyst cannot invalidate their own result"):
        investigation_invalidate_result(
            number=investigation.number, by=analyst_reviewer, password=password, reason="x"
        )
