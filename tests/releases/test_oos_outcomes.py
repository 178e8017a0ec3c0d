"""The OOS outcomes after Phase II, the signed Phase I conclusion, CAPA references and
raw-data attachments (FDA "Investigating OOS Test Results", 2006 rev. 2022)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction

from qc.models import Lot, LotStatus
from releases.models import (
    Investigation,
    InvestigationAttachment,
    InvestigationPhase,
    ResultInvalidation,
)
from releases.policy import ACTIONS, ActionKey
from releases.services.investigations import investigation_add_entry
from releases.services.oos import (
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from services.accounts.context import AuthContext
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.services import signature_verify
from tests.refusals import refused_with

pytestmark = [pytest.mark.django_db(transaction=True)]


def _phase_two(world: Any, reviewer: Any, qa: Any, password: str) -> tuple[Lot, Investigation]:
    """An OOS lot whose Phase I found no laboratory cause, with the Phase II findings."""
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    investigation = Investigation.objects.get(lot=lot, kind="oos")
    number = investigation.number
    investigation_add_entry(
        number=number,
        auth=AuthContext.of(reviewer),
        entry_type="check",
        text="calculations, dilution and reagent lot checked",
    )
    investigation_conclude_phase_one(
        number=number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    investigation_record_phase_two(
        number=number,
        auth=AuthContext.of(qa),
        lots_checked=[],
        findings="no other lot used the same depyrogenation cycle",
    )
    investigation.refresh_from_db()
    return lot, investigation


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("21CFR11.50")
def test_the_phase_one_conclusion_is_signed_with_the_meaning_of_the_policy(
    world: Any, reviewer: Any, password: str
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    investigation = Investigation.objects.get(lot=lot, kind="oos")
    investigation_add_entry(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        entry_type="check",
        text="pipette calibration record checked",
    )
    with refused_with("signature_refused"):
        investigation_conclude_phase_one(
            number=investigation.number,
            auth=AuthContext.of(reviewer),
            password="wrong",
            assignable_cause=False,
            reason="no laboratory error found",
        )
    assert not investigation.entries.filter(entry_type="phase_one_concluded").exists()
    investigation_conclude_phase_one(
        number=investigation.number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    entry = investigation.entries.get(entry_type="phase_one_concluded")
    assert entry.signature is not None and signature_verify(entry.signature).intact
    assert entry.signature.meaning == ACTIONS[ActionKey.PHASE_ONE].meaning == "concluded"
    assert investigation.number in entry.signature.statement
    event = AuditEvent.objects.get(action="investigation.phase_one_concluded")
    assert event.new_values["signature_id"] == entry.signature_id


@pytest.mark.requirement("FDA-OOS")
def test_conclude_is_refused_until_the_phase_two_findings_are_recorded(
    world: Any, reviewer: Any, qa: Any, password: str, client: Any
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    investigation = Investigation.objects.get(lot=lot, kind="oos")
    number = investigation.number
    investigation_add_entry(
        number=number, auth=AuthContext.of(reviewer), entry_type="check", text="all checked"
    )
    investigation_conclude_phase_one(
        number=number,
        auth=AuthContext.of(reviewer),
        password=password,
        assignable_cause=False,
        reason="no laboratory error found",
    )
    client.force_login(qa)
    assert 'id="action-conclude"' not in client.get(f"/investigations/{number}/").content.decode()
    for conclusion in ("confirmed_oos", "not_confirmed"):
        with refused_with("phase_two_not_recorded"):
            investigation_conclude(
                number=number,
                auth=AuthContext.of(qa),
                password=password,
                conclusion=conclusion,
                reason="OOS confirmed",
            )
    investigation_record_phase_two(
        number=number, auth=AuthContext.of(qa), lots_checked=[], findings="no other lot"
    )
    assert 'id="action-conclude"' in client.get(f"/investigations/{number}/").content.decode()


@pytest.mark.requirement("21CFR610.1")
@pytest.mark.requirement("FDA-OOS")
def test_not_confirmed_proposes_the_invalidation_a_second_person_signs(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _phase_two(world, reviewer, qa, password)
    number = investigation.number
    investigation_conclude(
        number=number,
        auth=AuthContext.of(qa),
        password=password,
        conclusion="not_confirmed",
        reason="the LAL reader's lamp failed its check the same day",
        capa_reference="CAPA-2024-017",
    )
    investigation.refresh_from_db()
    assert investigation.phase == InvestigationPhase.PHASE_2  # until the second person signs
    assert investigation.capa_reference == "CAPA-2024-017"
    with refused_with("invalidation_already_proposed"):
        investigation_conclude(
            number=number,
            auth=AuthContext.of(qa),
            password=password,
            conclusion="confirmed_oos",
            reason="changed my mind",
        )
    with refused_with("signer_proposed_invalidation"):
        investigation_invalidate_result(
            number=number, auth=AuthContext.of(qa), password=password, reason="agree"
        )
    invalidation = investigation_invalidate_result(
        number=number,
        auth=AuthContext.of(reviewer),
        password=password,
        reason="instrument log confirms the lamp failure",
    )
    assert invalidation.signature.signer == reviewer
    investigation.refresh_from_db()
    assert investigation.phase == "closed" and investigation.conclusion == "not_confirmed"
    assert Lot.objects.get(pk=lot.pk).status != LotStatus.REJECTED
    # One signature per act: the conclusion (QA) and the invalidation (reviewer).
    assert Signature.objects.filter(signer=qa, meaning="concluded").count() == 1
    assert ResultInvalidation.objects.filter(result_id=investigation.result_id).exists()


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("21CFR211.165f")
def test_inconclusive_asks_qa_to_decide_with_a_justification(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _phase_two(world, reviewer, qa, password)
    signed = {"number": investigation.number, "auth": AuthContext.of(qa), "password": password}
    with refused_with("decision_required"):
        investigation_conclude(**signed, conclusion="inconclusive", reason="no cause was found")
    with refused_with("reason_not_meaningful"):
        investigation_conclude(**signed, conclusion="inconclusive", reason="ok", reject_lot=True)
    with refused_with("not_applicable"):
        investigation_conclude(
            **signed, conclusion="confirmed_oos", reason="confirmed", reject_lot=False
        )
    with refused_with("invalid"):
        investigation_conclude(
            **signed, conclusion="confirmed_oos", reason="confirmed", capa_reference="C" * 65
        )
    investigation_conclude(
        **signed,
        conclusion="inconclusive",
        reason="no cause found; the OOS result is given full consideration, so reject",
        reject_lot=True,
    )
    investigation.refresh_from_db()
    lot.refresh_from_db()
    assert investigation.conclusion == "inconclusive" and lot.status == LotStatus.REJECTED
    rejection = lot.dispositions.get(decision="rejected")
    conclusion = investigation.entries.get(entry_type="concluded")
    assert rejection.signature_id == conclusion.signature_id  # one password, one signature
    assert Signature.objects.filter(signer=qa).count() == 1


@pytest.mark.requirement("FDA-OOS")
def test_an_inconclusive_investigation_may_leave_the_lot_unrejected(
    world: Any, reviewer: Any, qa: Any, password: str
) -> None:
    lot, investigation = _phase_two(world, reviewer, qa, password)
    investigation_conclude(
        number=investigation.number,
        auth=AuthContext.of(qa),
        password=password,
        conclusion="inconclusive",
        reason="no cause found; the lot stays judged by its evaluation",
        reject_lot=False,
    )
    investigation.refresh_from_db()
    assert investigation.phase == "closed" and investigation.conclusion == "inconclusive"
    assert Lot.objects.get(pk=lot.pk).status == LotStatus.IN_TESTING  # the OOS result stands
    assert not lot.dispositions.exists()


@pytest.mark.requirement("21CFR211.194a")
@pytest.mark.requirement("21CFR11.10e")
def test_raw_data_is_attached_in_the_database_with_its_sha256_audited(
    world: Any, reviewer: Any, qa: Any, api_as: Any, settings: Any
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    number = Investigation.objects.get(lot=lot, kind="oos").number
    url = f"/api/v1/investigations/{number}/attachments/"
    data = b"well,od\nA1,0.812\nA2,0.799\n"
    posted = api_as(reviewer).post(
        url,
        {"file": _upload("plate.csv", data), "description": "LAL plate reader export"},
        format="multipart",
    )
    assert posted.status_code == 201, posted.content
    digest = hashlib.sha256(data).hexdigest()
    assert posted.json()["sha256"] == digest and posted.json()["size"] == len(data)
    event = AuditEvent.objects.get(action="investigation.attachment_added")
    assert event.new_values["data"]["sha256"] == digest
    served = api_as(qa).get(f"{url}{posted.json()['id']}/")
    assert served.status_code == 200 and b"".join(served.streaming_content) == data
    assert served["X-Content-SHA256"] == digest
    detail = api_as(qa).get(f"/api/v1/investigations/{number}/").json()
    assert [a["sha256"] for a in detail["attachments"]] == [digest]
    # JSON is refused here; multipart is refused everywhere else.
    as_json = api_as(reviewer).post(url, {"description": "x"}, format="json")
    assert as_json.status_code == 415
    elsewhere = api_as(reviewer).post(
        f"/api/v1/investigations/{number}/entries/",
        {"entry_type": "note", "text": "multipart"},
        format="multipart",
    )
    assert elsewhere.status_code == 415
    settings.INVESTIGATION_ATTACHMENT_MAX_BYTES = 8
    too_large = api_as(reviewer).post(
        url, {"file": _upload("big.csv", data), "description": "too big"}, format="multipart"
    )
    assert too_large.status_code == 400
    assert [e["code"] for e in too_large.json()["errors"]] == ["file_too_large"]
    attachment = InvestigationAttachment.objects.get()
    attachment.description = "changed"
    with pytest.raises(DatabaseError), transaction.atomic():
        attachment.save()


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")
