"""Holds: stopping a lot where it stands, with a reason, and letting it go back.

A hold records the state the lot left; releasing the hold returns it there
(PostgreSQL refuses any other exit but rejection).  Holds carry no signature
(they stop product, they never release it); when the person re-enters the
password anyway it is checked, and a wrong one counts toward the lockout.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from qc.models import Evaluation, Lot, LotStatus
from releases.lifecycle import HOLDABLE_STATES, lot_lock, status_text
from releases.models import Decision, Disposition, NotificationKind
from releases.services.dispositions import disposition_record
from releases.services.errors import NotFound, Refused
from releases.services.guards import current_evaluation
from releases.services.notifications import notify_qa
from releases.services.signing import authenticate, require_person, require_reason
from services.accounts.models import Role
from services.audit.services import Actor

S = LotStatus
_HOLDERS = (Role.QA_OFFICER, Role.QUALIFIED_PERSON)


def lot_hold(
    *,
    lot_number: str,
    by: object,
    reason: str,
    password: str | None = None,
    request: HttpRequest | None = None,
) -> Disposition:
    """QA (or a QP) puts an open lot on hold, with a reason."""
    person = require_person(by, _HOLDERS, "put lots on hold")
    reason = require_reason(reason)
    if password:
        person = authenticate(person, password, request)
    with transaction.atomic():
        lot = _locked(lot_number)
        if lot.status not in HOLDABLE_STATES:
            raise Refused(
                f"Lot {lot_number} cannot be put on hold",
                [f"Lot {lot_number} is {status_text(lot.status)}."],
            )
        return disposition_record(
            lot=lot,
            decision=Decision.HOLD,
            status_after=S.ON_HOLD,
            reason=reason,
            evaluation=current_evaluation(lot),
            by=person,
            actor=person.audit_actor(),
        )


def lot_release_hold(
    *,
    lot_number: str,
    by: object,
    reason: str,
    password: str | None = None,
    request: HttpRequest | None = None,
) -> Disposition:
    """QA (or a QP) lifts a hold; the lot returns to the state it left."""
    person = require_person(by, _HOLDERS, "release holds")
    reason = require_reason(reason)
    if password:
        person = authenticate(person, password, request)
    with transaction.atomic():
        lot = _locked(lot_number)
        if lot.status != S.ON_HOLD:
            raise Refused(
                f"Lot {lot_number} has no hold to release",
                [f"Lot {lot_number} is {status_text(lot.status)}, not on hold."],
            )
        return disposition_record(
            lot=lot,
            decision=Decision.HOLD_RELEASED,
            status_after=lot.status_before_hold,
            reason=reason,
            evaluation=current_evaluation(lot),
            by=person,
            actor=person.audit_actor(),
        )


def lot_flag_conditional_failure(*, lot: Lot, evaluation: Evaluation) -> Disposition:
    """A result failed after a conditional release: stop the lot and alert QA.

    Called by the lifecycle in the evaluation's transaction (lot row locked).  The
    evaluation hooks have opened a post-release investigation for each failing
    result (21 CFR 211.192); QA then records a recall decision.
    """
    failing = [
        str(line.get("display_name") or line.get("test_code"))
        for line in evaluation.lines
        if line["verdict"] == "does_not_conform"
    ]
    reason = (
        f"After conditional release, {', '.join(failing) or 'a test'} failed "
        f"(evaluation #{evaluation.pk}): distribution stopped until QA records a recall decision."
    )
    disposition = disposition_record(
        lot=lot,
        decision=Decision.HOLD,
        status_after=S.ON_HOLD,
        reason=reason,
        evaluation=evaluation,
        by=None,
        actor=Actor.system("release workflow"),
    )
    notify_qa(
        kind=NotificationKind.CONDITIONAL_RELEASE_FAILURE,
        text=f"Lot {lot.lot_number}: {reason}",
        lot=lot,
    )
    return disposition


def _locked(lot_number: str) -> Lot:
    lot = lot_lock(lot_number=lot_number)
    if lot is None:
        raise NotFound(f"lot {lot_number} does not exist")
    return lot
