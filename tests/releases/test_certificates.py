"""Certificates of Analysis: PDF and JSON twin, hashes in the audit trail, versions."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from releases.models import Certificate, CertificateCorrection, Decision, Disposition
from releases.services.certificates import certificate_issue
from releases.services.decisions import lot_release
from releases.tasks import certificate_generate, reconcile_certificates
from services.accounts.context import AuthContext
from services.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db(transaction=True)]


def _released(world: Any, reviewer: Any, qa: Any, qp: Any, password: str) -> Disposition:
    lot = world.approved(world.reviewed(world.ready_lot(), reviewer, qa), qa)
    return lot_release(
        lot_number=lot.lot_number,
        auth=AuthContext.of(qp),
        password=password,
        reason="certified per Annex 16",
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.requirement("21CFR11.10e")
def test_the_certificate_hash_matches_the_audit_trail(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str, media_root: Path
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    certificate_id = certificate_generate(release.pk)  # the task's function, synchronously
    certificate = Certificate.objects.get(pk=certificate_id)
    # The documents are stored in PostgreSQL, read back exactly as issued.
    pdf, twin = certificate.document("pdf")[0], certificate.document("json")[0]
    assert pdf.startswith(b"%PDF-")
    assert _sha256(pdf) == certificate.pdf_sha256 and _sha256(twin) == certificate.json_sha256
    event = AuditEvent.objects.get(action="certificate.issued")
    assert event.object_id == release.lot.lot_number
    assert event.new_values["pdf_sha256"] == certificate.pdf_sha256
    assert event.new_values["json_sha256"] == certificate.json_sha256
    content = json.loads(twin.decode("utf-8"))
    assert content == certificate.content
    assert content["lot"]["lot_number"] == release.lot.lot_number
    assert content["specification"]["version"] == 1
    shown = {
        line["display_name"]: line["shown_values"][0]["text"] for line in release.evaluation.lines
    }
    assert [
        (line["attribute"], line["criterion"], line["result"], line["verdict"])
        for line in content["lines"]
    ] == [
        (
            "Particle concentration",
            "8×10^10 to 1.2×10^11 particles/mL",
            shown["Particle concentration"],
            "conforms",
        ),
        ("Bacterial endotoxins", "≤ 0.50 EU/mL", "0.10 EU/mL", "conforms"),
        ("Sterility", '"no growth"', "no growth", "conforms"),
    ]
    manifest = [(s["printed_name"], s["meaning"]) for s in content["signatures"]]
    assert manifest == [
        (reviewer.get_full_name(), "reviewed"),
        (qa.get_full_name(), "reviewed"),
        (qa.get_full_name(), "approved"),
        (qp.get_full_name(), "released"),
    ]
    assert all(s["signed_at_text"].endswith(" UTC") for s in content["signatures"])
    # A redelivered task changes nothing: the certificate is never regenerated in place.
    assert certificate_generate(release.pk) is None
    assert Certificate.objects.count() == 1


def test_a_correction_is_a_new_version_pointing_at_the_old(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str, media_root: Path
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    first = certificate_issue(disposition_id=release.pk)
    assert first is not None
    first_bytes = first.document("pdf")[0]
    second = certificate_issue(
        disposition_id=release.pk,
        supersedes_id=first.pk,
        correction_reason="product name misspelt on version 1",
    )
    assert second is not None
    assert (second.version, second.supersedes_id) == (2, first.pk)
    first.refresh_from_db()
    assert first.document("pdf")[0] == first_bytes
    assert second.content["supersedes_version"] == 1
    assert (
        certificate_issue(
            disposition_id=release.pk, supersedes_id=first.pk, correction_reason="again"
        )
        is None
    )


def test_the_api_serves_the_latest_certificate_or_a_version(
    world: Any,
    reviewer: Any,
    qa: Any,
    qp: Any,
    password: str,
    media_root: Path,
    api_as: Any,
    mes_api: Any,
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    first = certificate_issue(disposition_id=release.pk)
    assert first is not None
    correct = f"/api/v1/lots/{release.lot.lot_number}/certificate/correct/"
    unsigned = api_as(qa).post(correct, {"reason": "expiry date corrected"}, format="json")
    assert unsigned.status_code == 400 and unsigned.json()["errors"][0]["field"] == "password"
    junk = api_as(qa).post(correct, {"reason": "x", "password": password}, format="json")
    assert [e["code"] for e in junk.json()["errors"]] == ["reason_not_meaningful"]
    response = api_as(qa).post(
        correct, {"reason": "expiry date corrected", "password": password}, format="json"
    )
    assert response.status_code == 202, response.content
    correction = CertificateCorrection.objects.get(supersedes=first)
    assert correction.signature.meaning == "correction_approved"
    assert correction.signature.statement  # the words QA confirmed, as the API returned them
    second = certificate_issue(
        disposition_id=release.pk, supersedes_id=first.pk, correction_reason="expiry"
    )
    assert second is not None
    manifest = {entry["signature_id"] for entry in second.content["signatures"]}
    assert correction.signature_id in manifest  # the corrected document shows who approved it
    url = f"/api/v1/lots/{release.lot.lot_number}/certificate"
    pdf = mes_api.get(f"{url}.pdf")  # a manufacturing system may fetch it
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content)
    assert pdf["X-Certificate-Version"] == "2"
    assert hashlib.sha256(body).hexdigest() == pdf["X-Content-SHA256"]
    old = api_as(qa).get(f"{url}.json?version=1")
    assert old.status_code == 200 and old["X-Certificate-Version"] == "1"
    assert json.loads(b"".join(old.streaming_content))["version"] == 1
    assert api_as(qa).get(f"{url}.pdf?version=9").status_code == 404
    listing = api_as(qa).get(f"/api/v1/lots/{release.lot.lot_number}/certificates/").json()
    assert [(c["version"], c["supersedes_version"]) for c in listing] == [(1, None), (2, 1)]


def test_the_reconciler_finds_releases_without_a_certificate(
    world: Any, reviewer: Any, qa: Any, qp: Any, password: str, media_root: Path
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    assert reconcile_certificates() == 1
    certificate_issue(disposition_id=release.pk)
    assert reconcile_certificates() == 0


@pytest.mark.worker
@pytest.mark.requirement("21CFR11.50")
def test_a_real_documents_worker_issues_the_certificate_on_release(
    world: Any,
    reviewer: Any,
    qa: Any,
    qp: Any,
    password: str,
    media_root: Path,
    celery_worker_factory: Any,
) -> None:
    celery_worker_factory("documents", name="test-documents")
    release = _released(world, reviewer, qa, qp, password)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        certificate = Certificate.objects.filter(disposition=release).first()
        if certificate is not None:
            break
        time.sleep(0.25)
    else:
        pytest.fail("the documents worker issued no certificate within 60 s")
    assert _sha256(certificate.document("pdf")[0]) == certificate.pdf_sha256
    event = AuditEvent.objects.get(action="certificate.issued")
    assert event.actor_name == "documents worker"
    assert event.new_values["pdf_sha256"] == certificate.pdf_sha256
    assert certificate.disposition.decision == Decision.RELEASED


def test_the_certificate_files_answer_the_media_types_they_are_asked_for(
    world: Any,
    reviewer: Any,
    qa: Any,
    qp: Any,
    password: str,
    media_root: Path,
    api_as: Any,
) -> None:
    release = _released(world, reviewer, qa, qp, password)
    assert certificate_issue(disposition_id=release.pk) is not None
    url = f"/api/v1/lots/{release.lot.lot_number}/certificate"
    client = api_as(qa)
    for accept in ("application/pdf", "*/*", "application/pdf, application/json;q=0.5"):
        pdf = client.get(f"{url}.pdf", HTTP_ACCEPT=accept)
        assert pdf.status_code == 200, (accept, pdf.status_code)
        assert pdf["Content-Type"] == "application/pdf"
        assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    for accept in ("application/json", "*/*"):
        twin = client.get(f"{url}.json", HTTP_ACCEPT=accept)
        assert twin.status_code == 200, (accept, twin.status_code)
        assert twin["Content-Type"] == "application/json"
    # A refusal is JSON in the one error shape, whatever was asked for.
    missing = client.get(f"{url}.pdf?version=9", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")
    assert missing.json()["errors"][0]["code"] == "certificate_not_found"
