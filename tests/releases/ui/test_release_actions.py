"""The release workflow in the web UI (Django test client, demo world): checklist,
signing forms, refusals with every reason, the signature manifest, certificates,
investigations, notifications and the auditor's release history."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client

from qc.models import Lot, LotStatus, Result
from releases.models import (
    Certificate,
    Decision,
    Disposition,
    Investigation,
    InvestigationPhase,
    Notification,
)
from releases.tasks import certificate_generate
from services.esign.models import Signature
from tests.releases.ui.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True)]

CONFORMING, OOS, INCOMPLETE = "EVX-24-001", "EVX-24-002", "EVX-24-004"


def _act(client: Client, lot: str, key: str, **fields: Any) -> Any:
    """POST one action's form (its fields carry the action's prefix)."""
    data = {f"{key}-{name}": value for name, value in fields.items()}
    return client.post(f"/lots/{lot}/actions/{key}/", data)


def _act_on(client: Client, number: str, key: str, **fields: Any) -> Any:
    data = {f"{key}-{name}": value for name, value in fields.items()}
    return client.post(f"/investigations/{number}/actions/{key}/", data)


def _codes(html: str) -> list[str]:
    """The codes of the refusal's reasons, as the page marks them."""
    return re.findall(r'<li data-code="([^"]*)"', html)


def _text(response: Any) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    import html

    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def _status(lot_number: str) -> str:
    return Lot.objects.get(lot_number=lot_number).status


def _reviewed(lot: str, password: str) -> None:
    ok = _act(
        client_for("reviewer"),
        lot,
        "result-review",
        reason="all raw data checked",
        password=password,
    )
    assert ok.status_code == 302, _text(ok)[-3000:]
    ok = _act(
        client_for("qa"),
        lot,
        "audit-trail-review",
        reason="no unexplained change",
        password=password,
    )
    assert ok.status_code == 302, _text(ok)[-3000:]


def _released(password: str) -> None:
    _reviewed(CONFORMING, password)
    assert (
        _act(
            client_for("qa"),
            CONFORMING,
            "approve",
            reason="conforms; records reviewed",
            password=password,
        ).status_code
        == 302
    )
    assert (
        _act(
            client_for("qp"),
            CONFORMING,
            "release",
            reason="certified per Annex 16",
            password=password,
        ).status_code
        == 302
    )


# --- the checklist and who sees which form -------------------------------------------


def test_qa_sees_the_checklist_of_its_approval_with_what_still_fails(
    evaluated_demo: None,
) -> None:
    page = _text(client_for("qa").get(f"/lots/{CONFORMING}/"))
    assert "Release checklist · approval by QA" in page
    assert "2 of 10 checks fail" in page
    assert "QA has not recorded a review of lot EVX-24-001's audit trail." in page
    assert "have not been reviewed by a second person (QC reviewer)" in page
    assert "✓ The current evaluation conforms" in page
    html = client_for("qa").get(f"/lots/{CONFORMING}/").content.decode()
    for key in ("audit-trail-review", "approve", "hold", "reject"):
        assert f'id="action-{key}"' in html, key
    for key in ("result-review", "release", "conditional-release", "finalise"):
        assert f'id="action-{key}"' not in html, key


@pytest.mark.requirement("21CFR11.10g")
def test_an_analyst_sees_no_approve_form_and_a_post_by_them_is_refused(
    evaluated_demo: None, password: str
) -> None:
    analyst = client_for("analyst")
    html = analyst.get(f"/lots/{CONFORMING}/").content.decode()
    assert "Release checklist" in html
    assert 'id="action-approve"' not in html and "approve-password" not in html
    assert 'type="password"' not in html
    refused = _act(analyst, CONFORMING, "approve", reason="I approve", password=password)
    assert refused.status_code == 403
    assert 'data-codes="role_required"' in refused.content.decode()
    assert "you are signed in as Ana Lyst (QC analyst)" in _text(refused)
    assert not Disposition.objects.exists()
    assert _status(CONFORMING) == LotStatus.READY_FOR_REVIEW


@pytest.mark.requirement("21CFR11.200a")
@pytest.mark.requirement("21CFR11.50")
def test_a_signing_form_shows_its_meaning_the_printed_name_and_asks_for_the_password(
    evaluated_demo: None,
) -> None:
    html = client_for("qa").get(f"/lots/{CONFORMING}/").content.decode()
    form = html[html.index('id="action-approve"') :]
    form = form[: form.index("</section>")]
    assert "By signing, I approve lot EVX-24-001 of EVX-MSC-01" in form
    assert "Quinn Assure" in form and "meaning: <strong>Approved</strong>" in form
    assert re.search(
        r'<input type="password" name="approve-password"[^>]*'
        r'autocomplete="current-password"',
        form,
    )
    assert 'name="approve-reason"' in form


# --- happy paths: the full release through the forms ------------------------------


@pytest.mark.requirement("EU-GMP-Annex16")
@pytest.mark.requirement("21CFR11.50")
def test_reviews_approval_and_certification_through_the_forms(
    evaluated_demo: None, password: str, media_root: Path
) -> None:
    reviewer = client_for("reviewer")
    done = _act(
        reviewer, CONFORMING, "result-review", reason="all raw data checked", password=password
    )
    assert done.status_code == 302 and done["Location"] == f"/lots/{CONFORMING}/#top"
    shown = _text(reviewer.get(done["Location"]))
    assert "The results of lot EVX-24-001 are reviewed. Signed by Rene Viewer on" in shown
    assert "UTC, meaning: Reviewed." in shown

    qa = client_for("qa")
    assert (
        _act(
            qa, CONFORMING, "audit-trail-review", reason="no unexplained change", password=password
        ).status_code
        == 302
    )
    page = _text(qa.get(f"/lots/{CONFORMING}/"))
    assert "all 10 checks pass" in page
    assert (
        _act(
            qa, CONFORMING, "approve", reason="conforms; records reviewed", password=password
        ).status_code
        == 302
    )
    assert _status(CONFORMING) == LotStatus.APPROVED
    # QA now sees the QP's checklist, read-only; the QP sees it with their own checks.
    assert "certification and release" in _text(qa.get(f"/lots/{CONFORMING}/"))
    qp = client_for("qp")
    qp_page = qp.get(f"/lots/{CONFORMING}/").content.decode()
    assert 'id="action-release"' in qp_page and "I certify as Qualified Person" in qp_page
    assert (
        _act(
            qp, CONFORMING, "release", reason="certified per Annex 16", password=password
        ).status_code
        == 302
    )
    assert _status(CONFORMING) == LotStatus.RELEASED

    page = _text(qp.get(f"/lots/{CONFORMING}/"))
    assert "no release decision is open" in page
    manifest = page[page.index("Signature manifest") : page.index("Dispositions")]
    for name, meaning in [
        ("Rene Viewer", "Reviewed"),
        ("Quinn Assure", "Reviewed"),
        ("Quinn Assure", "Approved"),
        ("Quentin Person", "Released"),
    ]:
        assert re.search(rf"{name} \w+ [^|]*?{re.escape(meaning)}", manifest), (name, meaning)
    rows = manifest[manifest.index("Verifies") :]
    assert rows.count(" intact ") == 4 and "broken " not in rows
    assert "Signature manifest all intact" in manifest
    assert "certified per Annex 16" in manifest
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", manifest)
    assert "being generated by the documents worker" in page

    # The documents worker's task, run here synchronously.
    release = Disposition.objects.get(decision=Decision.RELEASED)
    certificate = Certificate.objects.get(pk=certificate_generate(release.pk))
    html = qp.get(f"/lots/{CONFORMING}/").content.decode()
    assert certificate.pdf_sha256 in html and certificate.json_sha256 in html
    pdf = qp.get(f"/lots/{CONFORMING}/certificates/v1.pdf")
    body = b"".join(pdf.streaming_content)
    assert pdf.status_code == 200 and body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == certificate.pdf_sha256
    assert pdf["X-Content-SHA256"] == certificate.pdf_sha256
    twin = qp.get(f"/lots/{CONFORMING}/certificates/v1.json")
    assert hashlib.sha256(b"".join(twin.streaming_content)).hexdigest() == (certificate.json_sha256)
    assert qp.get(f"/lots/{CONFORMING}/certificates/v2.pdf").status_code == 404


@pytest.mark.requirement("21CFR11.70")
def test_the_manifest_shows_a_signature_whose_record_changed_as_broken(
    evaluated_demo: None, password: str
) -> None:
    _reviewed(CONFORMING, password)
    signature = Signature.objects.get(meaning="reviewed", username="reviewer")
    # Simulate tampering with the stored copy (the trigger forbids UPDATE: bypass it).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE esign_signature SET record_content = '{}'::jsonb WHERE id = %s",
            [signature.pk],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    page = _text(client_for("auditor").get(f"/lots/{CONFORMING}/"))
    assert "Signature manifest 1 broken" in page
    assert "the signature's stored copy was altered" in page


# --- refusals ----------------------------------------------------------------------


@pytest.mark.requirement("21CFR211.165a")
def test_approving_the_oos_lot_is_refused_with_every_reason_and_the_reason_kept(
    evaluated_demo: None, password: str
) -> None:
    refused = _act(
        client_for("qa"), OOS, "approve", reason="my typed justification", password=password
    )
    assert refused.status_code == 409
    text = _text(refused)
    assert "Lot EVX-24-002 cannot be approved" in text
    html = refused.content.decode()
    assert _codes(html) == [
        "wrong_state",
        "line_out_of_specification",
        "investigation_open",
        "audit_trail_not_reviewed",
        "results_not_reviewed",
    ]
    assert "0.80 EU/mL" in text  # the reasons name the value found
    assert re.search(r">\s*my typed justification</textarea>", html)
    assert password not in html  # the password is never sent back
    assert _status(OOS) == LotStatus.IN_TESTING and not Disposition.objects.exists()


@pytest.mark.requirement("21CFR11.200a")
@pytest.mark.requirement("21CFR11.300d")
def test_a_wrong_password_warns_of_the_lockout_and_counts_toward_it(
    evaluated_demo: None, password: str
) -> None:
    qa = client_for("qa")
    refused = _act(qa, CONFORMING, "audit-trail-review", reason="reviewed", password="wrong!")
    assert refused.status_code == 403
    text = _text(refused)
    assert "Signature refused" in text
    assert "The password was wrong: nothing was signed. Failed attempt 1 of 5" in text
    assert "the account is locked until an administrator unlocks it" in text
    assert re.search(r">\s*reviewed</textarea>", refused.content.decode())
    assert AccessAttempt.objects.get(username="qa").failures_since_start == 1
    assert not Signature.objects.filter(username="qa", meaning="reviewed").exists()
    for _ in range(3):
        _act(qa, CONFORMING, "audit-trail-review", reason="reviewed", password="wrong!")
    locked = _act(qa, CONFORMING, "audit-trail-review", reason="reviewed", password="wrong!")
    assert locked.status_code == 403 and "Account locked" in _text(locked)
    # Locked: even the right password is refused now.
    again = _act(qa, CONFORMING, "audit-trail-review", reason="reviewed", password=password)
    assert again.status_code == 403
    assert not Signature.objects.filter(username="qa", meaning="reviewed").exists()


def test_a_rejection_needs_a_reason_then_is_signed(evaluated_demo: None, password: str) -> None:
    qa = client_for("qa")
    blank = _act(qa, OOS, "reject", reason="  ", password=password)
    assert blank.status_code == 400 and "This field is required." in _text(blank)
    assert _status(OOS) == LotStatus.IN_TESTING
    done = _act(qa, OOS, "reject", reason="endotoxin failure confirmed by QA", password=password)
    assert done.status_code == 302 and _status(OOS) == LotStatus.REJECTED
    page = _text(qa.get(f"/lots/{OOS}/"))
    assert "Lot EVX-24-002 is rejected. Signed by Quinn Assure" in page
    assert "meaning: Rejected" in page
    again = _act(qa, OOS, "reject", reason="twice", password=password)
    assert again.status_code == 409 and _codes(again.content.decode()) == ["already_decided"]


def test_hold_and_release_hold(evaluated_demo: None) -> None:
    qa = client_for("qa")
    assert _act(qa, INCOMPLETE, "hold", reason="deviation in filling").status_code == 302
    assert _status(INCOMPLETE) == LotStatus.ON_HOLD
    html = qa.get(f"/lots/{INCOMPLETE}/").content.decode()
    assert 'id="action-release-hold"' in html and 'id="action-hold"' not in html
    assert "returns to the state it left: in testing" in _text(qa.get(f"/lots/{INCOMPLETE}/"))
    twice = _act(qa, INCOMPLETE, "hold", reason="again")
    assert twice.status_code == 409 and _codes(twice.content.decode()) == ["wrong_state"]
    assert _act(qa, INCOMPLETE, "release-hold", reason="deviation closed").status_code == 302
    assert _status(INCOMPLETE) == LotStatus.IN_TESTING
    page = _text(qa.get(f"/lots/{INCOMPLETE}/"))
    assert "Put on hold" in page and "Hold released" in page and "not signed (hold)" in page


@pytest.mark.requirement("EU-GMP-Annex16")
def test_conditional_release_with_pending_tests_then_finalise_refused(
    evaluated_demo: None, password: str
) -> None:
    _reviewed(INCOMPLETE, password)
    qp = client_for("qp")
    html = qp.get(f"/lots/{INCOMPLETE}/").content.decode()
    assert "Release checklist" in html and "conditional release" in html
    boxes = re.findall(r'name="conditional-release-pending_tests" value="([^"]+)"', html)
    assert "STERILITY" in boxes
    done = qp.post(
        f"/lots/{INCOMPLETE}/actions/conditional-release/",
        {
            "conditional-release-reason": "short shelf life; sterility pending",
            "conditional-release-password": password,
            "conditional-release-pending_tests": boxes,
        },
    )
    assert done.status_code == 302, _text(done)[-2000:]
    assert _status(INCOMPLETE) == LotStatus.CONDITIONALLY_RELEASED
    refused = _act(qp, INCOMPLETE, "finalise", reason="final", password=password)
    assert refused.status_code == 409
    assert "line_missing" in _codes(refused.content.decode())


def test_qa_records_a_recall_decision_on_a_released_lot(
    evaluated_demo: None, password: str
) -> None:
    _released(password)
    qa = client_for("qa")
    assert 'id="action-recall-decision"' in qa.get(f"/lots/{CONFORMING}/").content.decode()
    done = _act(
        qa,
        CONFORMING,
        "recall-decision",
        recall="yes",
        investigation="",
        reason="complaint: particulates",
        password=password,
    )
    assert done.status_code == 302, _text(done)[-2000:]
    assert _status(CONFORMING) == LotStatus.REJECTED
    assert "Recall: complaint: particulates" in _text(qa.get(f"/lots/{CONFORMING}/"))


# --- investigations ---------------------------------------------------------------


def _oos_number() -> str:
    return Investigation.objects.get(lot__lot_number=OOS, kind="oos").number


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("21CFR211.165f")
def test_oos_phase_one_no_cause_phase_two_then_confirmed_rejects_the_lot(
    evaluated_demo: None, password: str
) -> None:
    number = _oos_number()
    lots = _text(client_for("qa").get("/investigations/"))
    assert number in lots
    assert (
        f'href="/investigations/{number}/"'
        in client_for("qa").get(f"/lots/{OOS}/").content.decode()
    )
    reviewer = client_for("reviewer")
    page = reviewer.get(f"/investigations/{number}/").content.decode()
    assert 'id="action-entry"' in page and 'id="action-phase-one"' in page
    assert 'id="action-conclude"' not in page  # QA's
    early = _act_on(
        reviewer,
        number,
        "phase-one",
        assignable_cause="no",
        reason="none found",
        password=password,
    )
    assert early.status_code == 409 and _codes(early.content.decode()) == ["no_laboratory_check"]
    assert (
        _act_on(
            reviewer,
            number,
            "entry",
            entry_type="check",
            text="calculations, LAL reagent lot and standards checked",
        ).status_code
        == 302
    )
    assert (
        _act_on(
            reviewer,
            number,
            "phase-one",
            assignable_cause="no",
            reason="no laboratory error found",
            password=password,
        ).status_code
        == 302
    )
    assert Investigation.objects.get(number=number).phase == InvestigationPhase.PHASE_2

    qa = client_for("qa")
    page = _text(qa.get(f"/investigations/{number}/"))
    assert "Retest budget of LAL, fixed when the investigation opened: 1; used so far: 0." in page
    premature = _act_on(
        qa, number, "conclude", conclusion="confirmed_oos", reason="confirmed", password=password
    )
    assert premature.status_code == 409
    assert _codes(premature.content.decode()) == ["phase_two_not_recorded"]
    done = qa.post(
        f"/investigations/{number}/actions/phase-two/",
        {
            "phase-two-lots_checked": ["EVX-24-001", "EVX-24-003"],
            "phase-two-findings": "same endotoxin reagent lot; other lots conform",
        },
    )
    assert done.status_code == 302, _text(done)[-2000:]
    concluded = _act_on(
        qa,
        number,
        "conclude",
        conclusion="confirmed_oos",
        reason="OOS confirmed: no laboratory cause",
        password=password,
    )
    assert concluded.status_code == 302
    assert _status(OOS) == LotStatus.REJECTED
    page = _text(qa.get(f"/investigations/{number}/"))
    assert "Out of specification confirmed" in page
    assert re.search(
        r"Signed by Quinn Assure \(QA officer\) · [\d-]+ [\d:]+ UTC · meaning: "
        r"Concluded",
        page,
    )
    assert "Lots checked: EVX-24-001 (Ready for review), EVX-24-003 (In testing)" in page
    lot_page = _text(qa.get(f"/lots/{OOS}/"))
    assert "Out of specification confirmed by" in lot_page  # the rejection's reason


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("21CFR610.1")
def test_the_proposer_cannot_sign_the_invalidation_a_second_person_does(
    evaluated_demo: None, password: str
) -> None:
    number = _oos_number()
    reviewer = client_for("reviewer")
    _act_on(reviewer, number, "entry", entry_type="check", text="dilution factor checked")
    assert (
        _act_on(
            reviewer,
            number,
            "phase-one",
            assignable_cause="yes",
            reason="wrong dilution factor in the LAL run",
            password=password,
        ).status_code
        == 302
    )
    page = reviewer.get(f"/investigations/{number}/").content.decode()
    assert 'data-codes="signer_proposed_invalidation"' in page
    assert (
        'name="invalidate-password"'
        not in reviewer.get(f"/investigations/{number}/").content.decode()
    )
    refused = _act_on(reviewer, number, "invalidate", reason="agree", password=password)
    assert refused.status_code == 409
    assert _codes(refused.content.decode()) == ["signer_proposed_invalidation"]

    qa = client_for("qa")
    page = _text(qa.get(f"/investigations/{number}/"))
    assert "proposed by Rene Viewer (reviewer): “wrong dilution factor in the LAL run”" in page
    done = _act_on(
        qa, number, "invalidate", reason="calculation error confirmed", password=password
    )
    assert done.status_code == 302
    result = Result.objects.get(pk=Investigation.objects.get(number=number).result_id)
    assert result.invalidation.signature.printed_name == "Quinn Assure"
    page = _text(qa.get(f"/investigations/{number}/"))
    assert "invalidated" in page and "meaning: Invalidated" in page
    manifest = _text(qa.get(f"/lots/{OOS}/"))
    assert "Invalidated" in manifest[manifest.index("Signature manifest") :]


# --- notifications and the auditor's history ---------------------------------------


def test_the_bell_counts_unread_notifications_and_htmx_marks_them_read(
    evaluated_demo: None,
) -> None:
    qa = client_for("qa")
    unread = Notification.objects.filter(recipient__username="qa", read_at=None).count()
    assert unread >= 2  # the lot ready for review, the OOS investigation
    assert f'<span class="count">{unread}</span>' in qa.get("/").content.decode()
    listing = qa.get("/notifications/").content.decode()
    assert "Lot EVX-24-001 is ready for QA review" in listing
    first = Notification.objects.filter(recipient__username="qa").order_by("pk").first()
    assert first is not None
    row = qa.post(f"/notifications/{first.pk}/read/", HTTP_HX_REQUEST="true").content.decode()
    assert "read " in row and "Mark read" not in row.split('id="bell"')[0]
    assert 'hx-swap-oob="true"' in row and f'<span class="count">{unread - 1}</span>' in row
    assert "<html" not in row
    everything = qa.post("/notifications/read-all/")
    assert everything.status_code == 302
    assert '<span class="count">' not in qa.get("/").content.decode()
    # Someone else's notification is not yours to read.
    assert (
        client_for("qp")
        .post(f"/notifications/{first.pk}/read/", HTTP_HX_REQUEST="true")
        .status_code
        == 404
    )


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.requirement("21CFR11.10e")
def test_the_release_history_is_printable_and_complete(
    evaluated_demo: None, password: str, media_root: Path
) -> None:
    _released(password)
    release = Disposition.objects.get(decision=Decision.RELEASED)
    certificate = Certificate.objects.get(pk=certificate_generate(release.pk))
    auditor = client_for("auditor")
    lot = auditor.get(f"/lots/{CONFORMING}/").content.decode()
    assert f'href="/lots/{CONFORMING}/history/"' in lot
    assert 'type="password"' not in lot  # nothing to sign for an auditor
    response = auditor.get(f"/lots/{CONFORMING}/history/")
    page = _text(response)
    assert "Release history · lot EVX-24-001" in page
    assert "Printed " in page and "by Audrey Tor (auditor, Auditor)" in page
    for heading in (
        "Dispositions",
        "Signature manifest",
        "Evaluations the decisions used",
        "Certificates of Analysis",
        "Audit trail of the lot",
    ):
        assert heading in page, heading
    assert "Approved by QA" in page and "Released" in page
    assert release.evaluation.inputs_digest in page
    assert certificate.pdf_sha256 in page
    assert "lot.released" in page and "certificate.issued" in page
    assert Signature.objects.get(meaning="released").record_digest in page
    css = Path("services/static/evrelease/app.css").read_text()
    assert "@media print" in css


@pytest.mark.requirement("EU-GMP-Annex16")
def test_qa_opens_a_deviation_from_the_lot_page_and_it_blocks_the_approval(
    evaluated_demo: None, password: str
) -> None:
    qa = client_for("qa")
    assert 'id="action-open-deviation"' in qa.get(f"/lots/{CONFORMING}/").content.decode()
    blank = _act(qa, CONFORMING, "open-deviation", summary="  ")
    assert blank.status_code == 400
    done = _act(qa, CONFORMING, "open-deviation", summary="filling line stopped for 2 h")
    assert done.status_code == 302
    deviation = Investigation.objects.get(lot__lot_number=CONFORMING, kind="deviation")
    assert deviation.summary == "filling line stopped for 2 h"
    refused = _act(qa, CONFORMING, "approve", reason="x", password=password)
    assert "investigation_open" in _codes(refused.content.decode())
    analyst = client_for("analyst")
    denied = _act(analyst, CONFORMING, "open-deviation", summary="not mine to open")
    assert denied.status_code == 403


def test_a_corrected_certificate_is_offered_only_once_a_lot_is_released(
    evaluated_demo: None, password: str
) -> None:
    qa = client_for("qa")
    assert 'id="action-certificate-correction"' not in qa.get(f"/lots/{OOS}/").content.decode()
    refused = _act(
        qa, OOS, "certificate-correction", reason="typo in the address", password=password
    )
    assert refused.status_code == 409 and _codes(refused.content.decode()) == ["wrong_state"]
