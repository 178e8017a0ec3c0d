"""Worklists per persona, self-resolving notifications, notification links, and raw data
attached from the investigation page."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qc.models import Lot
from releases.models import Investigation, Notification
from releases.selectors import notifications_for
from releases.services.decisions import lot_approve, lot_release
from releases.services.investigations import investigation_add_entry
from releases.services.oos import investigation_conclude_phase_one, investigation_invalidate_result
from releases.services.reviews import lot_record_result_review
from releases.worklists import worklist_for
from services.accounts.context import AuthContext
from services.accounts.models import User
from tests.factories import UserFactory
from tests.qc.pipeline.conftest import demo_world, evaluated_demo  # noqa: F401 - shared fixtures
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]

CONFORMING, OOS = "EVX-24-001", "EVX-24-002"


def _work(user: Any) -> set[tuple[str, str]]:
    return {(item.key, item.lot.lot_number) for item in worklist_for(user=user)}


@pytest.mark.requirement("21CFR211.194a")
@pytest.mark.usefixtures("evaluated_demo")
def test_the_demo_reviewer_sees_the_result_review_that_blocks_a_release(password: str) -> None:
    reviewer = User.objects.get(username="reviewer")
    assert ("result-review", CONFORMING) in _work(reviewer)
    assert ("phase-one", OOS) in _work(reviewer)  # the laboratory investigation waits too
    assert not {key for key, _ in _work(reviewer)} & {"approve", "release", "conclude"}
    qa = User.objects.get(username="qa")
    assert ("audit-trail-review", CONFORMING) in _work(qa)
    assert ("result-review", CONFORMING) not in _work(qa)
    for name in ("auditor", "analyst", "qp"):
        assert _work(User.objects.get(username=name)) == set(), name
    page = client_for("reviewer").get("/").content.decode()
    assert 'data-key="result-review"' in page and CONFORMING in page
    # The reviewers were told, and the notice resolves itself once the review is signed.
    notice = Notification.objects.get(
        recipient=reviewer, kind="result_review_needed", lot__lot_number=CONFORMING
    )
    assert notice in notifications_for(user=reviewer, unread_only=True)
    lot_record_result_review(
        lot_number=CONFORMING,
        auth=AuthContext.of(reviewer),
        password=password,
        comment="all results reviewed against the methods",
    )
    notice.refresh_from_db()
    assert notice.resolved_at is not None and notice.read_at is None
    assert notice not in notifications_for(user=reviewer, unread_only=True)
    assert ("result-review", CONFORMING) not in _work(reviewer)


@pytest.mark.requirement("EU-GMP-Annex16")
def test_approval_puts_the_certification_on_the_qps_list_and_release_resolves_it(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    assert ("approve", lot.lot_number) in _work(qa) and _work(qp) == set()
    lot_approve(
        lot_number=lot.lot_number, auth=AuthContext.of(qa), password=password, reason="reviewed"
    )
    assert _work(qp) == {("release", lot.lot_number)}
    assert ("approve", lot.lot_number) not in _work(qa)
    ready = Notification.objects.get(recipient=qa, kind="ready_for_review", lot=lot)
    assert ready.resolved_at is not None  # the approval did that work
    lot_release(
        lot_number=lot.lot_number, auth=AuthContext.of(qp), password=password, reason="certified"
    )
    assert _work(qp) == set()
    assert not notifications_for(user=qp, unread_only=True).filter(lot=lot).exists()
    assert not Notification.objects.filter(lot=lot, resolved_at__isnull=True).exists()


@pytest.mark.requirement("FDA-OOS")
def test_an_allowed_retest_waits_for_another_analyst_and_the_closed_oos_resolves(
    world: Any, reviewer: Any, qa: Any, analyst: Any, password: str, client: Any
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")  # performed by "analyst"
    world.evaluate(lot)
    investigation = Investigation.objects.get(lot=lot, kind="oos")
    number = investigation.number
    opened = Notification.objects.get(recipient=qa, kind="oos_opened", investigation=investigation)
    assert ("phase-one", lot.lot_number) in _work(qa)
    investigation_add_entry(
        number=number, auth=AuthContext.of(reviewer), entry_type="check", text="dilution checked"
    )
    investigation_conclude_phase_one(
        number=number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=True,
        reason="tenfold dilution error in the LAL run",
    )
    assert ("invalidate", lot.lot_number) in _work(qa)  # the second person
    assert ("invalidate", lot.lot_number) not in _work(reviewer)  # the proposer
    investigation_invalidate_result(
        number=number, auth=AuthContext.of(qa), password=password, reason="run record confirms"
    )
    opened.refresh_from_db()
    assert opened.resolved_at is not None  # the OOS closed: nothing asks QA any more
    other = UserFactory(username="analyst2", role="qc_analyst")
    assert _work(analyst) == set()  # the analyst of the OOS result never retests it
    assert _work(other) == {("retest", lot.lot_number)}
    world.result(lot, "LAL", "0.10", performed_by="analyst2")
    assert _work(other) == set()
    # A notification's link marks it read and leads to what it is about.
    client.force_login(qa)
    followed = client.get(f"/notifications/{opened.pk}/")
    assert followed.status_code == 302 and followed["Location"] == f"/investigations/{number}/"
    opened.refresh_from_db()
    assert opened.read_at is not None
    assert client.get("/notifications/999999/").status_code == 404


@pytest.mark.requirement("21CFR211.194a")
def test_raw_data_is_attached_from_the_investigation_page(
    world: Any, reviewer: Any, client: Any
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    number = Investigation.objects.get(lot=lot, kind="oos").number
    client.force_login(reviewer)
    page = client.get(f"/investigations/{number}/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'id="action-attach"' in page
    data = b"%PDF-1.4 chromatogram"
    done = client.post(
        f"/investigations/{number}/actions/attach/",
        {
            "attach-file": SimpleUploadedFile("run.pdf", data, content_type="application/pdf"),
            "attach-description": "chromatogram of the OOS run",
        },
    )
    assert done.status_code == 302, done.content.decode()[-2000:]
    page = client.get(f"/investigations/{number}/").content.decode()
    digest = hashlib.sha256(data).hexdigest()
    assert digest in page and "run.pdf" in page
    attachment = Lot.objects.get(pk=lot.pk).investigations.get().attachments.get()
    served = client.get(f"/investigations/{number}/attachments/{attachment.pk}/")
    assert b"".join(served.streaming_content) == data
    assert served["Content-Disposition"].startswith("attachment")
