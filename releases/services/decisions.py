"""Signed decisions on a lot: approve, release, conditionally release, finalise, reject.

Each follows the Part 11 order of services.esign: the signer re-enters the
password first, outside any transaction (a failure is committed and counts
toward the lockout, 21 CFR 11.300(d)); then one transaction locks the lot row
(SELECT ... FOR UPDATE), runs every guard (releases.services.guards), and writes
the disposition, its signature and the status change together.  Fifty
concurrent attempts on one lot give one decision: the others wait for the lock,
then find the lot already decided.

Two signatures release a lot of a product that needs QP certification: a QA
officer approves (meaning "approved"), then a Qualified Person certifies
(meaning "released"; EU GMP Annex 16).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.http import HttpRequest

from qc.models import Lot, LotStatus
from releases.lifecycle import REJECTABLE_STATES, RELEASED_STATES, lot_lock, status_text
from releases.models import Decision, Disposition, NotificationKind
from releases.services.dispositions import disposition_record
from releases.services.errors import NotFound, Refused
from releases.services.guards import Action, current_evaluation, lot_readiness, signer_roles
from releases.services.notifications import notify_qps
from releases.services.signing import authenticate, require_person, require_reason
from services.accounts.models import Role, User

S = LotStatus

_OUTCOME = {
    Action.APPROVE: (Decision.APPROVED, S.APPROVED, "approved"),
    Action.RELEASE: (Decision.RELEASED, S.RELEASED, "released"),
    Action.CONDITIONAL_RELEASE: (
        Decision.CONDITIONALLY_RELEASED,
        S.CONDITIONALLY_RELEASED,
        "conditionally released",
    ),
    Action.FINALISE: (Decision.FINALISED, S.RELEASED, "finalised"),
}


def _lot_or_404(lot_number: str) -> Lot:
    lot = Lot.objects.select_related("product").filter(lot_number=lot_number).first()
    if lot is None:
        raise NotFound(f"lot {lot_number} does not exist")
    return lot


def _decide(
    *,
    action: Action,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None,
    pending_tests: Sequence[str] = (),
) -> Disposition:
    decision, status_after, done = _OUTCOME[action]
    person = require_person(
        by, signer_roles(_lot_or_404(lot_number), action), f"{action.replace('_', ' ')} lots"
    )
    reason = require_reason(reason)
    signer = authenticate(person, password, request)
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise NotFound(f"lot {lot_number} does not exist")
        readiness = lot_readiness(
            lot=lot, action=action, signer=signer, pending_tests=pending_tests
        )
        if not readiness.ready:
            raise Refused(f"Lot {lot_number} cannot be {done}", readiness.problems)
        disposition = disposition_record(
            lot=lot,
            decision=decision,
            status_after=status_after,
            reason=reason,
            evaluation=readiness.evaluation,
            by=signer,
            actor=signer.audit_actor(),
            pending_tests=sorted({code.strip() for code in pending_tests}),
        )
        if action == Action.APPROVE:
            notify_qps(
                kind=NotificationKind.AWAITING_CERTIFICATION,
                text=f"Lot {lot_number} was approved by {signer.printed_name} (QA) and awaits "
                "certification by a Qualified Person.",
                lot=lot,
            )
    return disposition


def lot_approve(
    *,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Disposition:
    """QA approves a lot ready for review (first of two signatures)."""
    return _decide(
        action=Action.APPROVE,
        lot_number=lot_number,
        by=by,
        password=password,
        reason=reason,
        request=request,
    )


def lot_release(
    *,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Disposition:
    """A QP certifies an approved lot (EU GMP Annex 16), or QA releases when no QP is needed."""
    return _decide(
        action=Action.RELEASE,
        lot_number=lot_number,
        by=by,
        password=password,
        reason=reason,
        request=request,
    )


def lot_conditionally_release(
    *,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    pending_tests: Sequence[str],
    request: HttpRequest | None = None,
) -> Disposition:
    """A QP releases a short-shelf-life lot whose only missing results are listed as pending.

    E.g. the 14-day sterility test (USP <71>) of a product used before it ends;
    every other required line must conform (21 CFR 610.1 is met at finalisation).
    """
    return _decide(
        action=Action.CONDITIONAL_RELEASE,
        lot_number=lot_number,
        by=by,
        password=password,
        reason=reason,
        request=request,
        pending_tests=pending_tests,
    )


def lot_finalise_conditional_release(
    *,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Disposition:
    """A QP finalises a conditional release once the pending results conform."""
    return _decide(
        action=Action.FINALISE,
        lot_number=lot_number,
        by=by,
        password=password,
        reason=reason,
        request=request,
    )


def lot_reject(
    *,
    lot_number: str,
    by: object,
    password: str,
    reason: str,
    request: HttpRequest | None = None,
) -> Disposition:
    """QA rejects the lot with a signature and a reason (21 CFR 211.165(f))."""
    person = require_person(by, (Role.QA_OFFICER,), "reject lots")
    reason = require_reason(reason)
    signer = authenticate(person, password, request)
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise NotFound(f"lot {lot_number} does not exist")
        return lot_reject_locked(lot=lot, signer=signer, reason=reason)


def lot_reject_locked(*, lot: Lot, signer: User, reason: str, recall: bool = False) -> Disposition:
    """Reject a lot whose row the caller has locked, with ``signer``'s signature.

    A lot whose product may be on the market (released, conditionally released,
    or on hold from either) is rejected only with a recall decision (``recall``).
    """
    distributed = lot.status in RELEASED_STATES or (
        lot.status == S.ON_HOLD and lot.status_before_hold in RELEASED_STATES
    )
    problem = ""
    if lot.status == S.REJECTED:
        problem = f"Lot {lot.lot_number} is already rejected."
    elif distributed and not recall:
        problem = (
            f"Lot {lot.lot_number} was {status_text(lot.status_before_hold or lot.status)}"
            ": product may be on the market, so QA records a recall decision instead."
        )
    elif not distributed and lot.status not in REJECTABLE_STATES:
        problem = f"Lot {lot.lot_number} is {status_text(lot.status)}."
    if problem:
        raise Refused(f"Lot {lot.lot_number} cannot be rejected", [problem])
    return disposition_record(
        lot=lot,
        decision=Decision.REJECTED,
        status_after=S.REJECTED,
        reason=reason,
        evaluation=current_evaluation(lot),
        by=signer,
        actor=signer.audit_actor(),
    )
