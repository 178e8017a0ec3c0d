"""The lot's whole audit trail (EU GMP Annex 11 §9, PIC/S PI 041 §9): the review signs
every event that touches the lot (its assay runs and controls included) and the
review page shows them all, the exceptions first."""

from __future__ import annotations

import pytest

from qc.models import AssayRun, Lot, Result
from releases.selectors import audit_exceptions, lot_audit_trail
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.audit.actions import AuditAction
from services.audit.models import AuditEvent
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]

INVALID = "EVX-24-003"


def _nta_run(lot: Lot) -> AssayRun:
    run = AssayRun.objects.filter(results__lot=lot, method__code="NTA-CONC").distinct().get()
    assert run.controls.exists()  # the bead control that makes the run invalid
    return run


@pytest.mark.requirement("EU-GMP-Annex11-9")
@pytest.mark.requirement("PICS-PI041-9")
@pytest.mark.requirement("21CFR11.10e")
def test_the_trail_of_a_lot_holds_its_runs_controls_results_and_signatures(
    evaluated_demo: None, password: str
) -> None:
    lot = Lot.objects.get(lot_number=INVALID)
    run = _nta_run(lot)
    trail = lot_audit_trail(lot=lot)
    kinds = {(e.object_type, e.action) for e in trail}
    assert ("lot", AuditAction.LOT_CREATED) in kinds
    assert ("lot", AuditAction.LOT_EVALUATED) in kinds
    # One event per results request, on the lot, binding each result it stored.
    assert ("lot", AuditAction.LOT_RESULTS_RECORDED) in kinds
    run_events = [e for e in trail if e.object_type == "assay_run"]
    assert [e.object_id for e in run_events if e.object_id == run.external_run_id]
    nta = next(e for e in run_events if e.object_id == run.external_run_id)
    assert nta.new_values["controls"]  # the bead control is part of the run's event
    result_ids = set(Result.objects.filter(lot=lot).values_list("pk", flat=True))
    recorded = [e for e in trail if e.action == AuditAction.LOT_RESULTS_RECORDED]
    assert result_ids == {r["id"] for e in recorded for r in e.records}
    # Nothing of another lot leaks in.
    other_runs = set(
        AssayRun.objects.exclude(results__lot=lot).values_list("external_run_id", flat=True)
    )
    assert not other_runs & {e.object_id for e in run_events}

    review = lot_record_audit_trail_review(
        lot_number=INVALID,
        auth=AuthContext.of(User.objects.get(username="qa")),
        password=password,
        comment="trail read, runs and controls included",
    )
    covered = lot_audit_trail(lot=lot).filter(sequence__lte=review.up_to_sequence)
    assert review.up_to_sequence == covered.last().sequence  # type: ignore[union-attr]
    assert covered.count() == len(list(trail))
    statement = review.signature.statement
    assert f"up to event #{review.up_to_sequence} ({covered.count()} events" in statement
    signed = lot_audit_trail(lot=lot).filter(action=AuditAction.SIGNATURE_APPLIED)
    assert signed.filter(object_type="audittrailreview", object_id=str(review.pk)).exists()
    event = AuditEvent.objects.get(action=AuditAction.LOT_AUDIT_TRAIL_REVIEWED)
    assert event.new_values["events"] == covered.count()


@pytest.mark.requirement("PICS-PI041-9")
@pytest.mark.requirement("review-by-exception")
def test_the_review_page_shows_the_run_and_control_events_exceptions_first(
    evaluated_demo: None,
) -> None:
    lot = Lot.objects.get(lot_number=INVALID)
    run = _nta_run(lot)
    page = client_for("qa").get(f"/lots/{INVALID}/").content.decode()
    count = lot_audit_trail(lot=lot).count()
    assert f"({count} events" in page
    assert f"assay_run {run.external_run_id}" in page
    assert "NIST-PS100" in page  # the bead control's reference material, in the run's event
    history = client_for("auditor").get(f"/lots/{INVALID}/history/").content.decode()
    assert f"assay_run {run.external_run_id}" in history
    assert f"({count} events)" in history
    # Review by exception: the flagged events come before the full list.
    flagged = list(audit_exceptions(lot_audit_trail(lot=lot)))
    if flagged:
        first = page.index(f'id="event-{flagged[0].sequence}"')
        assert first < page.index("Every event")


def test_status_changes_are_not_flagged_but_changes_of_values_are(evaluated_demo: None) -> None:
    trail = AuditEvent.objects.all()
    flagged = audit_exceptions(trail)
    assert not flagged.filter(action=AuditAction.LOT_STATUS_CHANGED).exists()
    changed = trail.filter(old_values__isnull=False).exclude(action=AuditAction.LOT_STATUS_CHANGED)
    assert set(changed.values_list("pk", flat=True)) <= set(flagged.values_list("pk", flat=True))


@pytest.mark.parametrize("who", ["analyst", "reviewer"])
def test_people_outside_the_audit_readers_do_not_see_the_lot_history(
    evaluated_demo: None, who: str
) -> None:
    client = client_for(who)
    assert client.get(f"/lots/{INVALID}/history/").status_code == 403
    page = client.get(f"/lots/{INVALID}/").content.decode()
    assert 'id="audit-trail"' not in page


@pytest.mark.requirement("21CFR11.300d")
@pytest.mark.requirement("PICS-PI041-9")
def test_a_failed_signature_attempt_is_in_the_trail_of_the_lot_it_was_for(
    evaluated_demo: None,
) -> None:
    from services.esign.services import SignatureRefused

    reviewer = User.objects.get(username="reviewer")
    with pytest.raises(SignatureRefused):
        lot_record_result_review(
            lot_number="EVX-24-001",
            auth=AuthContext.of(reviewer),
            password="not the password",
            comment="raw data checked",
        )
    failed = AuditEvent.objects.get(action=AuditAction.USER_SIGNATURE_FAILED)
    assert (failed.object_type, failed.object_id) == ("user", "reviewer")
    assert failed.new_values == {
        "purpose": "signature",
        "lot": "EVX-24-001",
        "action": "result-review",
    }
    trail = lot_audit_trail(lot=Lot.objects.get(lot_number="EVX-24-001"))
    assert trail.filter(pk=failed.pk).exists()
    assert audit_exceptions(trail).filter(pk=failed.pk).exists()  # read first
    assert not lot_audit_trail(lot=Lot.objects.get(lot_number=INVALID)).filter(pk=failed.pk)


@pytest.mark.requirement("PICS-PI041-9")
def test_the_notifications_sent_about_a_lot_are_in_its_trail(evaluated_demo: None) -> None:
    from releases.models import Notification

    lot = Lot.objects.get(lot_number="EVX-24-001")
    told = Notification.objects.filter(lot=lot)
    assert told.exists()  # QA was told the lot is ready for review
    sent = lot_audit_trail(lot=lot).filter(action=AuditAction.NOTIFICATION_SENT)
    ids = {pk for event in sent for pk in event.new_values["notification_ids"]}
    assert ids == set(told.values_list("pk", flat=True))
    ready = sent.get(new_values__kind="ready_for_review")
    assert ready.new_values["recipients"] == ["qa"]
    assert (ready.object_type, ready.object_id) == ("lot", "EVX-24-001")
