"""Conditional release with a pending 14-day sterility test; failures after release."""

from __future__ import annotations

from typing import Any

import pytest

from qc.models import Lot, LotStatus
from releases.models import Decision, Disposition, Investigation, Notification
from releases.services.decisions import (
    lot_conditionally_release,
    lot_finalise_conditional_release,
    lot_release,
)
from releases.services.errors import NotAllowed, Refused
from releases.services.holds import lot_hold, lot_release_hold
from releases.services.recalls import lot_record_recall_decision
from services.accounts.context import AuthContext
from tests.refusals import refused_with
from tests.releases.factories import ReleaseWorld, release_world

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def short_lived(transactional_db: None) -> ReleaseWorld:
    return release_world(conditional=True)


def _pending_sterility(world: ReleaseWorld, reviewer: Any, qa: Any) -> Lot:
    lot = world.lot()
    world.results(lot, skip=("STERILITY",))
    world.evaluate(lot)
    assert lot.status == LotStatus.IN_TESTING
    return world.reviewed(lot, reviewer, qa)


def _conditionally_release(lot: Lot, qp: Any, password: str) -> Disposition:
    return lot_conditionally_release(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="patient scheduled; 10-day shelf life ends before the 14-day sterility result",
        pending_tests=["STERILITY"],
    )


@pytest.mark.requirement("EU-GMP-Annex16")
@pytest.mark.requirement("21CFR610.1")
def test_only_a_qp_conditionally_releases_and_only_with_the_pending_tests_listed(
    short_lived: ReleaseWorld, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = _pending_sterility(short_lived, reviewer, qa)
    with pytest.raises(NotAllowed):
        _conditionally_release(lot, qa, password)
    with pytest.raises(Refused) as refused:
        lot_conditionally_release(
            lot_number=lot.lot_number,
            auth=AuthContext.of(qp),
            password=password,
            reason="x",
            pending_tests=["LAL"],
        )
    assert refused.value.codes == ["pending_test_not_listed", "pending_test_not_missing"]
    assert [p.field for p in refused.value.problems] == ["pending_tests", "pending_tests"]
    disposition = _conditionally_release(lot, qp, password)
    lot.refresh_from_db()
    assert lot.status == LotStatus.CONDITIONALLY_RELEASED
    assert disposition.pending_tests == ["STERILITY"]
    assert disposition.signature.meaning == "conditionally_released"
    assert disposition.signature.record_content["pending_tests"] == ["STERILITY"]


def test_no_conditional_release_when_another_line_fails_or_the_product_forbids_it(
    world: ReleaseWorld,
    short_lived: ReleaseWorld,
    reviewer: Any,
    qa: Any,
    qp: Any,
    password: str,
) -> None:
    lot = short_lived.lot()
    short_lived.results(lot, skip=("STERILITY",), NTA_CONC="5E+10")
    short_lived.evaluate(lot)
    short_lived.reviewed(lot, reviewer, qa)
    with pytest.raises(Refused) as refused:
        _conditionally_release(lot, qp, password)
    assert "line_out_of_specification" in refused.value.codes
    other = _pending_sterility(world, reviewer, qa)  # a product without conditional release
    with refused_with("not_applicable"):
        _conditionally_release(other, qp, password)


@pytest.mark.requirement("EU-GMP-Annex16")
def test_pending_results_that_conform_let_the_qp_finalise(
    short_lived: ReleaseWorld, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = _pending_sterility(short_lived, reviewer, qa)
    _conditionally_release(lot, qp, password)
    short_lived.result(lot, "STERILITY", "no growth", performed_by="micro1")
    short_lived.evaluate(lot)
    assert lot.status == LotStatus.CONDITIONALLY_RELEASED
    assert Notification.objects.filter(recipient=qp, kind="pending_tests_conform").exists()
    with pytest.raises(Refused) as refused:  # the new result needs its reviews first
        lot_finalise_conditional_release(
            lot_number=lot.lot_number,
            auth=AuthContext.of(qp),
            password=password,
            reason="sterility conforms",
        )
    assert refused.value.codes == ["audit_trail_review_outdated", "results_not_reviewed"]
    short_lived.reviewed(lot, reviewer, qa)
    final = lot_finalise_conditional_release(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="sterility: no growth",
    )
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED and final.decision == Decision.FINALISED


@pytest.mark.requirement("21CFR211.192")
@pytest.mark.requirement("21CFR610.1")
def test_a_failing_sterility_after_conditional_release_flags_the_lot_and_alerts_qa(
    short_lived: ReleaseWorld, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = _pending_sterility(short_lived, reviewer, qa)
    release = _conditionally_release(lot, qp, password)
    short_lived.result(lot, "STERILITY", "growth", performed_by="micro1")
    short_lived.evaluate(lot)
    # Flagged: distribution stopped (on hold), a post-release investigation, QA alerted.
    assert lot.status == LotStatus.ON_HOLD
    assert lot.status_before_hold == LotStatus.CONDITIONALLY_RELEASED
    investigation = Investigation.objects.get(lot=lot)
    assert investigation.kind == "post_release" and investigation.line_name == "Sterility"
    kinds = set(Notification.objects.filter(recipient=qa).values_list("kind", flat=True))
    assert {"conditional_release_failure", "post_release_failure"} <= kinds
    hold = Disposition.objects.get(lot=lot, decision=Decision.HOLD)
    assert hold.decided_by is None and "Sterility failed" in hold.reason
    # Nothing about the past decision is rewritten.
    assert Disposition.objects.get(pk=release.pk).status_after == "conditionally_released"
    # QA records the recall decision, signed; a recall rejects the lot.
    decision = lot_record_recall_decision(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        recall=True,
        reason="sterility failure: recall all distributed units",
        investigation_number=investigation.number,
    )
    lot.refresh_from_db()
    assert lot.status == LotStatus.REJECTED
    assert decision.signature.meaning == "approved" and decision.recall is True
    assert decision.disposition is not None and decision.disposition.signature.meaning == "rejected"


@pytest.mark.requirement("21CFR211.192")
def test_a_failure_after_release_opens_an_investigation_and_rewrites_nothing(
    world: ReleaseWorld, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.approved(world.reviewed(world.ready_lot(), reviewer, qa), qa)
    lot_release(
        lot_number=lot.lot_number, auth=AuthContext.of(qp), password=password, reason="certified"
    )
    before = list(Disposition.objects.filter(lot=lot).values())
    world.result(lot, "LAL", "0.90", performed_by="stability1")  # a retained-sample test
    world.evaluate(lot)
    assert lot.status == LotStatus.RELEASED
    assert lot.evaluations.latest().verdict == "does_not_conform"
    investigation = Investigation.objects.get(lot=lot)
    assert investigation.kind == "post_release"
    assert Notification.objects.filter(recipient=qa, kind="post_release_failure").exists()
    assert list(Disposition.objects.filter(lot=lot).values()) == before


def test_a_hold_stops_the_lot_and_returns_it_where_it_was(
    world: ReleaseWorld, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.approved(world.reviewed(world.ready_lot(), reviewer, qa), qa)
    lot_hold(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        reason="deviation in filling line under review",
    )
    with refused_with("wrong_state"):
        lot_release(
            lot_number=lot.lot_number, auth=AuthContext.of(qp), password=password, reason="x"
        )
    lot_release_hold(
        lot_number=lot.lot_number, auth=AuthContext.of(qa), reason="deviation closed: no impact"
    )
    lot.refresh_from_db()
    assert lot.status == LotStatus.APPROVED
    decisions = list(Disposition.objects.filter(lot=lot).values_list("decision", "signature"))
    assert [d for d, _ in decisions] == ["approved", "hold", "hold_released"]
    assert decisions[1][1] is None and decisions[2][1] is None
