"""The demo's released lot (``manage.py seed_demo``, after ``qc.demo``): EVX-24-000.

It is posted like the other demo lots (``qc.demo.demo_lot_post``: the demo machine
client's runs and results, all conforming), evaluated, and taken through the real
release workflow with the demo accounts' real signatures: the QC reviewer's
second-person review of the results (21 CFR 211.194(a)(8)), QA's review of the
lot's audit trail and approval, the Qualified Person's certification (EU GMP
Annex 16), then its Certificate of Analysis.  So an auditor finds a release, its
signature manifest and its certificate in a fresh demo.

Idempotent: each step runs only while the lot still needs it, so a second run
(or a run after a changed password stopped the first halfway) finishes the story.
"""

from __future__ import annotations

from typing import TextIO

from qc.demo import DemoLot, demo_lot_post
from qc.models import Lot, LotStatus
from qc.services.evaluation import lot_evaluate
from releases.models import Certificate, Decision, Disposition
from releases.services.certificates import certificate_issue
from releases.services.decisions import lot_approve, lot_release
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.errors import DomainError

RELEASED_LOT = DemoLot(
    "EVX-24-000",
    "released: reviewed, approved by QA, certified by the QP, with its certificate",
)
# Tested the day before EVX-24-001 (``qc.demo``: 20 - index days ago), so it is the oldest.
RELEASED_LOT_INDEX = -1
SIGNERS = ("reviewer", "qa", "qp")


def seed_demo(*, stdout: TextIO, password: str) -> None:
    signers = {user.username: user for user in User.objects.filter(username__in=SIGNERS)}
    if len(signers) < len(SIGNERS) or not Lot.objects.filter(product__code="EVX-MSC-01").exists():
        stdout.write("demo release skipped: the demo accounts or product are missing\n")
        return
    number = RELEASED_LOT.lot_number
    demo_lot_post(RELEASED_LOT, index=RELEASED_LOT_INDEX)
    try:
        _release(number, signers, password)
    except DomainError as exc:  # e.g. the demo accounts' password was changed
        stdout.write(
            f"demo lot {number} not released ({exc}); run seed_demo --password P with "
            "the demo accounts' password to finish it\n"
        )
        return
    release = Disposition.objects.get(lot__lot_number=number, decision=Decision.RELEASED)
    certificate = _certificate(release)
    if certificate is None:
        shown = "its certificate follows from the documents worker"
    else:
        shown = f"certificate v{certificate.version} (PDF SHA-256 {certificate.pdf_sha256[:12]}…)"
    stdout.write(f"Demo release: {number} released by {release.decided_by_name}; {shown}\n")


def _release(number: str, signers: dict[str, User], password: str) -> None:
    """Each step the lot still needs, as its signer would take it in the UI or the API."""

    def auth(username: str) -> AuthContext:
        return AuthContext.of(signers[username])

    lot = Lot.objects.get(lot_number=number)
    if lot.status in {LotStatus.QUARANTINED, LotStatus.IN_TESTING}:
        lot_evaluate(lot_id=lot.pk)  # the worker's job, done here so the story runs at once
        lot.refresh_from_db()
    if lot.status == LotStatus.READY_FOR_REVIEW:
        if not lot.result_reviews.exists():
            lot_record_result_review(
                lot_number=number,
                auth=auth("reviewer"),
                password=password,
                comment="demo: raw data, calculations and runs checked",
            )
        if not lot.audit_trail_reviews.exists():
            lot_record_audit_trail_review(
                lot_number=number,
                auth=auth("qa"),
                password=password,
                comment="demo: no unexplained change or late entry",
            )
        lot_approve(
            lot_number=number,
            auth=auth("qa"),
            password=password,
            reason="demo: conforms to specification v1; batch record reviewed",
        )
        lot.refresh_from_db()
    if lot.status == LotStatus.APPROVED:
        lot_release(
            lot_number=number,
            auth=auth("qp"),
            password=password,
            reason="demo: certified per EU GMP Annex 16",
        )


def _certificate(release: Disposition) -> Certificate | None:
    """The documents worker's task, run here so the demo has it without a worker; without
    WeasyPrint's Pango library the worker (or its reconciler) issues it later (README)."""
    issued = Certificate.objects.filter(disposition=release).order_by("-version").first()
    if issued is not None:
        return issued
    try:
        return certificate_issue(disposition_id=release.pk)
    except OSError:  # WeasyPrint could not load Pango
        return None
