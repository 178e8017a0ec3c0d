"""The OOS workflow: Phase I, second-person invalidation, retests, Phase II, rejection."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from qc.models import Lot, LotStatus
from releases.models import Investigation, InvestigationPhase, Notification, ResultInvalidation
from releases.services.decisions import lot_approve
from releases.services.guards import Action, lot_readiness
from releases.services.investigations import investigation_add_entry
from releases.services.oos import (
    investigation_allow_retest,
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from services.accounts.context import AuthContext
from services.esign.models import Signature
from services.esign.services import signature_verify
from tests.factories import UserFactory
from tests.refusals import refused_with

pytestmark = [pytest.mark.django_db(transaction=True)]


def _oos_lot(world: Any, value: str = "0.80") -> tuple[Lot, Investigation]:
    lot = world.lot()
    world.results(lot, LAL=value)
    world.evaluate(lot)
    return lot, Investigation.objects.get(lot=lot, kind="oos")


def _check(investigation: Investigation, by: Any) -> None:
    investigation_add_entry(
        number=investigation.number,
        auth=AuthContext.of(by),
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
def test_phase_one_records_its_checks_before_concluding(
    world: Any, reviewer: Any, password: str
) -> None:
    _, investigation = _oos_lot(world)
    with refused_with("no_laboratory_check"):
        investigation_conclude_phase_one(
            number=investigation.number,
            auth=AuthContext.of(reviewer),
            password=password,
            assignable_cause=True,
            reason="pipette",
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
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="pipette out of calibration: 10-fold dilution error",
    )
    # The proposer cannot sign their own proposal.
    with refused_with("signer_proposed_invalidation"):
        investigation_invalidate_result(
            number=investigation.number,
            auth=AuthContext.of(reviewer),
            password=password,
            reason="agree",
        )
    assert not ResultInvalidation.objects.exists()
    version = Lot.objects.get(pk=lot.pk).data_version
    invalidation = investigation_invalidate_result(
        number=investigation.number,
        auth=AuthContext.of(qa),
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
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="pipette",
    )
    investigation_invalidate_result(
        number=investigation.number, auth=AuthContext.of(qa), password=password, reason="confirmed"
    )
    world.result(lot, "LAL", "0.10", performed_by="analyst")  # the same analyst
    world.evaluate(lot)
    assert lot.status == LotStatus.READY_FOR_REVIEW  # the engine counts the valid retest ...
    world.reviewed(lot, reviewer, qa)
    problems = lot_readiness(lot=lot, action=Action.APPROVE, signer=qa).problems
    assert [p.code for p in problems] == ["retest_same_analyst"]  # ... the guard refuses it
    assert f"#{lot.results.last().pk}" in problems[0].reason
    world.result(lot, "LAL", "0.11", performed_by="analyst2")  # a second retest: over budget
    world.evaluate(lot)
    world.reviewed(lot, reviewer, qa)
    problems = lot_readiness(lot=lot, action=Action.APPROVE, signer=qa).problems
    assert "retest_budget_exceeded" in [p.code for p in problems], problems


@pytest.mark.requirement("FDA-OOS")
def test_a_retest_by_another_analyst_within_budget_lets_the_lot_be_approved(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _oos_lot(world)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="pipette",
    )
    investigation_invalidate_result(
        number=investigation.number, auth=AuthContext.of(qa), password=password, reason="confirmed"
    )
    world.result(lot, "LAL", "0.10", performed_by="analyst2")
    world.evaluate(lot)
    world.reviewed(lot, reviewer, qa)
    lot_approve(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="OOS invalidated",
    )
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
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    investigation.refresh_from_db()
    assert investigation.phase == InvestigationPhase.PHASE_2
    with refused_with("phase_two_not_recorded"):
        investigation_conclude(
            number=investigation.number,
            auth=AuthContext.of(qa),
            password=password,
            conclusion="confirmed_oos",
            reason="x",
        )
    investigation_record_phase_two(
        number=investigation.number,
        auth=AuthContext.of(qa),
        lots_checked=[other.lot_number],
        findings="same WFI lot used; other lot's endotoxin within limits",
    )
    investigation_conclude(
        number=investigation.number,
        auth=AuthContext.of(qa),
        password=password,
        conclusion="confirmed_oos",
        reason="endotoxin OOS confirmed; root cause: depyrogenation cycle",
    )
    investigation.refresh_from_db()
    lot.refresh_from_db()
    assert investigation.phase == "closed" and investigation.conclusion == "confirmed_oos"
    assert lot.status == LotStatus.REJECTED
    # One act, one signature: the conclusion's signature also carries the rejection.
    conclusion = investigation.entries.get(entry_type="concluded")
    rejection = lot.dispositions.get(decision="rejected")
    assert rejection.signature_id == conclusion.signature_id
    assert conclusion.data["rejection_disposition_id"] == rejection.pk
    assert conclusion.signature.meaning == "concluded"
    assert signature_verify(conclusion.signature).intact
    assert not Signature.objects.filter(signer=qa, meaning="rejected").exists()
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
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="pipette",
    )
    analyst_reviewer = UserFactory(username="analyst", role="qc_reviewer")
    with refused_with("signer_performed_result"):
        investigation_invalidate_result(
            number=investigation.number,
            auth=AuthContext.of(analyst_reviewer),
            password=password,
            reason="x",
        )


@pytest.mark.requirement("FDA-OOS")
def test_a_retest_is_allowed_only_in_phase_two_and_only_once(
    world: Any, reviewer: Any, qa: Any, analyst: Any, password: str
) -> None:
    _, investigation = _oos_lot(world)
    allow = {"number": investigation.number, "reason": "sample retained; retest justified"}
    with refused_with("wrong_phase"):  # no retest before the laboratory investigation
        investigation_allow_retest(auth=AuthContext.of(reviewer), **allow)
    _check(investigation, reviewer)
    investigation_conclude_phase_one(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    with refused_with("role_required"):
        investigation_allow_retest(auth=AuthContext.of(analyst), **allow)
    investigation_allow_retest(auth=AuthContext.of(reviewer), **allow)
    investigation.refresh_from_db()
    assert investigation.retest_allowed_at is not None
    assert investigation.retest_allowed_by == reviewer.printed_name
    with refused_with("retest_already_allowed"):
        investigation_allow_retest(auth=AuthContext.of(qa), **allow)
