"""Part 11 electronic signatures: re-entered password, manifest, link to the record."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.db import transaction

from services.accounts.context import AuthContext
from services.accounts.models import ApiClient
from services.audit.models import AuditEvent
from services.errors import InvalidInput
from services.esign.models import Meaning
from services.esign.services import SignatureRefused, signature_apply, signature_verify

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.requirement("21CFR11.200a")
def test_signature_carries_the_manifest(qa: Any, password: str) -> None:
    signature = signature_apply(
        auth=AuthContext.of(qa),
        password=password,
        meaning=Meaning.APPROVED,
        reason="reviewed batch record",
        record=qa,
    )
    assert signature.printed_name == qa.get_full_name()
    assert signature.meaning == "approved"
    assert signature.signed_at.utcoffset().total_seconds() == 0
    assert len(signature.record_digest) == 64
    assert "Approved" in signature.manifest_line and "UTC" in signature.manifest_line
    assert AuditEvent.objects.filter(action="signature.applied").count() == 1


@pytest.mark.requirement("21CFR11.70")
def test_changing_the_signed_record_breaks_the_signature(
    qa: Any, reviewer: Any, password: str
) -> None:
    signature = signature_apply(
        auth=AuthContext.of(qa),
        password=password,
        meaning=Meaning.REVIEWED,
        reason="ok",
        record=reviewer,
    )
    assert signature_verify(signature).intact
    reviewer.last_name = "Changed"
    reviewer.save()
    check = signature_verify(signature)
    assert not check.intact
    assert check.reason == "the record changed after it was signed"


@pytest.mark.requirement("21CFR11.300d")
def test_wrong_password_is_refused_counted_and_audited(qa: Any) -> None:
    with pytest.raises(SignatureRefused):
        signature_apply(
            auth=AuthContext.of(qa),
            password="wrong",
            meaning=Meaning.APPROVED,
            reason="x",
            record=qa,
        )
    attempt = AccessAttempt.objects.get(username="qa")
    assert attempt.failures_since_start == 1
    assert AuditEvent.objects.filter(action="user.signature_failed", object_id="qa").exists()


@pytest.mark.requirement("21CFR11.300d")
def test_five_wrong_signing_passwords_lock_the_account(qa: Any, password: str) -> None:
    for _ in range(5):
        with pytest.raises(SignatureRefused):
            signature_apply(
                auth=AuthContext.of(qa),
                password="wrong",
                meaning=Meaning.APPROVED,
                reason="x",
                record=qa,
            )
    # Locked: even the right password is refused now, for signing and for login.
    with pytest.raises(SignatureRefused):
        signature_apply(
            auth=AuthContext.of(qa),
            password=password,
            meaning=Meaning.APPROVED,
            reason="x",
            record=qa,
        )
    from django.test import Client

    response = Client().post("/accounts/login/", {"username": "qa", "password": password})
    assert response.status_code == 403


def test_a_machine_client_cannot_sign(mes: tuple[ApiClient, str], qa: Any) -> None:
    with pytest.raises(SignatureRefused) as refused:
        signature_apply(
            auth=AuthContext.of(mes[0]),
            password=mes[1],
            meaning=Meaning.APPROVED,
            reason="x",
            record=qa,
        )
    assert refused.value.code == "machine_client"


def test_a_signature_needs_a_reason(qa: Any, password: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        signature_apply(
            auth=AuthContext.of(qa),
            password=password,
            meaning=Meaning.APPROVED,
            reason="  ",
            record=qa,
        )
    assert refused.value.code == "reason_required"


def test_signer_must_be_authenticated_before_the_transaction(qa: Any, password: str) -> None:
    with pytest.raises(RuntimeError, match="before opening"), transaction.atomic():
        signature_apply(
            auth=AuthContext.of(qa),
            password=password,
            meaning=Meaning.APPROVED,
            reason="x",
            record=qa,
        )
