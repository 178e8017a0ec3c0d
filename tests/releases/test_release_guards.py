"""Release guards and the two-signature release (21 CFR 211.165(a), 211.194(a)(8); Annex 16)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.db import DatabaseError, transaction
from django.utils import timezone

from qc.models import Lot, LotStatus
from releases.models import Decision, Disposition
from releases.services.decisions import lot_approve, lot_reject, lot_release
from releases.services.errors import NotAllowed, Refused
from releases.services.guards import Action, lot_readiness
from releases.services.reviews import lot_record_result_review
from services.accounts.context import AuthContext
from services.audit.models import AuditEvent
from services.errors import InvalidInput
from services.esign.models import Signature
from services.esign.services import SignatureRefused, signature_verify
from tests.factories import UserFactory
from tests.releases.factories import release_world

pytestmark = [pytest.mark.django_db(transaction=True)]


def _refusal(call: Any, **kwargs: Any) -> list[str]:
    """The codes of every reason the refusal gives (tests branch on codes, not words)."""
    with pytest.raises(Refused) as refused:
        call(**kwargs)
    return refused.value.codes


@pytest.mark.requirement("EU-GMP-Annex16")
@pytest.mark.requirement("21CFR211.165a")
@pytest.mark.requirement("21CFR11.50")
def test_qa_approves_then_a_qualified_person_certifies(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    approval = lot_approve(
        lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="ok"
    )
    lot.refresh_from_db()
    assert lot.status == LotStatus.APPROVED
    release = lot_release(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="certified per Annex 16",
    )
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED
    assert [d.decision for d in Disposition.objects.filter(lot=lot)] == ["approved", "released"]
    assert approval.signature.meaning == "approved" and approval.signature.signer == qa
    assert release.signature.meaning == "released" and release.signature.signer == qp
    # The disposition stores the evaluation it was based on, and the signature covers it.
    assert release.evaluation_id == approval.evaluation_id
    content = release.signature.record_content
    assert content["evaluation"]["inputs_digest"] == release.evaluation.inputs_digest
    assert content["lot"] == lot.lot_number and content["specification_version"] == 1
    assert content["decision"] == "released" and content["evaluation"]["verdict"] == "conforms"
    assert "UTC" in release.signature.manifest_line
    assert signature_verify(release.signature).intact


@pytest.mark.requirement("21CFR211.165a")
def test_a_stale_evaluation_cannot_support_a_release(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    world.approved(lot, qa)
    # A new result is stored and the data version bumped, but not yet evaluated.
    world.result(lot, "LAL", "0.45", performed_by="analyst2")
    lot.__class__.objects.filter(pk=lot.pk).update(data_version=lot.data_version + 1)
    reasons = _refusal(
        lot_release,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="x",
    )
    assert {"evaluation_data_changed", "evaluation_inputs_changed"} <= set(reasons), reasons
    assert not Disposition.objects.filter(lot=lot, decision=Decision.RELEASED).exists()


@pytest.mark.requirement("21CFR211.165a")
def test_the_inputs_digest_is_recomputed_even_when_the_version_was_not_bumped(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    world.result(lot, "NTA-CONC", "1.1E+11", performed_by="analyst2")  # no bump: a bug elsewhere
    reasons = _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    )
    assert "evaluation_inputs_changed" in reasons


@pytest.mark.requirement("21CFR211.165a")
@pytest.mark.requirement("21CFR211.192")
@pytest.mark.requirement("EU-GMP-Annex16")
def test_a_refused_release_names_every_reason(world: Any, qa: Any, password: str) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")  # OOS: opens an investigation
    world.evaluate(lot)
    reasons = _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    )
    assert reasons == [
        "wrong_state",
        "line_out_of_specification",
        "investigation_open",
        "audit_trail_not_reviewed",
        "results_not_reviewed",
    ]


@pytest.mark.requirement("21CFR211.194a8")
def test_the_analyst_who_performed_a_test_cannot_approve_even_as_qa(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot = world.lot()
    world.results(lot, skip=("LAL",))
    world.result(lot, "LAL", "0.10", performed_by="QA")  # the QA officer ran the LAL test
    world.evaluate(lot)
    world.reviewed(lot, reviewer, qa)
    reasons = _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    )
    assert reasons == ["signer_performed_tests"]
    lot.refresh_from_db()
    assert lot.status == LotStatus.READY_FOR_REVIEW


@pytest.mark.requirement("21CFR211.194a8")
def test_the_second_person_review_is_refused_to_the_performer(world: Any, password: str) -> None:
    lot = world.lot()
    world.results(lot, performed_by="rev2")
    rev2 = UserFactory(username="rev2", role="qc_reviewer")
    reasons = _refusal(
        lot_record_result_review,
        lot_number=lot.lot_number,
        auth=AuthContext.of(rev2),
        password=password,
        comment="reviewed",
    )
    assert reasons == ["reviewer_performed_results"]


@pytest.mark.requirement("21CFR211.194a8")
def test_the_certifier_may_not_be_the_results_reviewer(world: Any, qa: Any, password: str) -> None:
    lot = world.ready_lot()
    # An account that reviewed the results cannot approve, whatever its role now.
    reviewer_then_qa = UserFactory(username="rq", role="qc_reviewer")
    world.reviewed(lot, reviewer_then_qa, qa)
    reviewer_then_qa.role = "qa_officer"
    reviewer_then_qa.save()
    reasons = _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(reviewer_then_qa),
        password=password,
        reason="x",
    )
    assert "signer_reviewed_results" in reasons


@pytest.mark.requirement("21CFR11.300d")
@pytest.mark.requirement("21CFR11.200a")
def test_a_wrong_password_is_refused_and_counted_toward_lockout(
    world: Any, reviewer: Any, qa: Any
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    with pytest.raises(SignatureRefused) as refused:
        lot_approve(
            lot_number=lot.lot_number, auth=AuthContext.of(qa), password="wrong", reason="x"
        )
    assert refused.value.code == "signature_refused"
    assert AccessAttempt.objects.get(username="qa").failures_since_start == 1
    assert AuditEvent.objects.filter(action="user.signature_failed", object_id="qa").exists()
    assert not Disposition.objects.filter(lot=lot).exists()
    assert not Signature.objects.filter(meaning="approved").exists()


@pytest.mark.requirement("21CFR11.10g")
def test_each_signature_needs_its_role(
    world: Any, reviewer: Any, analyst: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    for decide, person in ((lot_approve, analyst), (lot_approve, qp), (lot_release, qa)):
        with pytest.raises(NotAllowed) as refused:
            decide(
                lot_number=lot.lot_number,
                auth=AuthContext.of(person),
                password=password,
                reason="x",
            )
        assert refused.value.code == "role_required"
    assert not AccessAttempt.objects.exists()  # refused before any password was checked


@pytest.mark.requirement("EU-GMP-Annex16")
def test_a_qp_cannot_certify_without_qa_approval_on_the_current_evaluation(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    reasons = _refusal(
        lot_release,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="x",
    )
    assert {"approval_missing", "wrong_state"} <= set(reasons)


def test_qa_releases_directly_when_the_product_needs_no_qp(
    transactional_db: None, reviewer: Any, qa: Any, password: str
) -> None:
    world = release_world(requires_qp=False)
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    assert _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    ) == ["not_applicable"]  # the product needs no QP, hence no separate approval
    release = lot_release(
        lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="ok"
    )
    assert release.signature.meaning == "released"
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED


def test_the_specification_must_be_approved(
    transactional_db: None, reviewer: Any, qa: Any, password: str
) -> None:
    world = release_world(approved_spec=False)
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    reasons = _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    )
    assert reasons == ["specification_not_approved"]


def test_a_new_result_needs_a_new_review_and_a_new_audit_trail_review(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    world.result(lot, "LAL", "0.20", performed_by="analyst2")
    world.evaluate(lot)
    readiness = lot_readiness(lot=lot, action=Action.APPROVE, signer=qa)
    failed = {check.key for check in readiness.checks if not check.passed}
    assert failed == {"result_review", "audit_trail_review"}


@pytest.mark.requirement("21CFR211.165f")
def test_rejection_needs_a_qa_signature_and_a_reason(world: Any, qa: Any, password: str) -> None:
    lot = world.lot()
    world.results(lot, NTA_CONC="2.0E+11")
    world.evaluate(lot)
    with pytest.raises(InvalidInput) as blank:
        lot_reject(
            lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="  "
        )
    assert blank.value.codes == ["reason_required"]
    rejection = lot_reject(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="concentration far above",
    )
    assert rejection.signature.meaning == "rejected"
    lot.refresh_from_db()
    assert lot.status == LotStatus.REJECTED


@pytest.mark.requirement("21CFR11.70")
@pytest.mark.requirement("21CFR11.10e")
def test_dispositions_are_append_only_and_stay_linked_to_their_signature(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    approval = lot_approve(
        lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="ok"
    )
    approval.reason = "something else"
    with pytest.raises(DatabaseError), transaction.atomic():
        approval.save()
    assert signature_verify(approval.signature).intact
    # A signature copied onto another record does not verify (11.70).
    other = Disposition.objects.create(
        lot=lot,
        decision=Decision.HOLD,
        status_before="approved",
        status_after="approved",
        specification=lot.specification,
        reason="copy",
        decided_at=approval.decided_at,
        decided_by_name="x",
    )
    forged = Signature.objects.get(pk=approval.signature_id)
    forged.pk, forged.object_id = None, str(other.pk)
    forged.save()
    assert not signature_verify(forged).intact


@pytest.mark.requirement("21CFR211.137")
def test_an_expired_lot_is_never_approved_or_released_and_the_checklist_names_the_date(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str, api_as: Any
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    Lot.objects.filter(pk=lot.pk).update(expires_on=yesterday)
    checklist = api_as(qa).get(f"/api/v1/lots/{lot.lot_number}/release-checklist/?action=approve")
    (expiry,) = [check for check in checklist.json()["checks"] if check["key"] == "expiry"]
    assert [p["code"] for p in expiry["problems"]] == ["lot_expired"]
    assert f"{yesterday:%Y-%m-%d}" in expiry["problems"][0]["reason"]
    assert _refusal(
        lot_approve,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qa),
        password=password,
        reason="x",
    ) == ["lot_expired"]
    # Expiring today is still in date: the lot may be decided until the day is over.
    Lot.objects.filter(pk=lot.pk).update(expires_on=timezone.now().date())
    lot_approve(lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="ok")
    Lot.objects.filter(pk=lot.pk).update(expires_on=yesterday)
    assert _refusal(
        lot_release,
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="x",
    ) == ["lot_expired"]
    page = api_as(qa).get(f"/lots/{lot.lot_number}/").content.decode()
    assert f"expired on {yesterday:%Y-%m-%d}" in page
