"""Holds: stopping a lot where it stands, with a reason, and letting it go back.

A hold records the state the lot left; releasing the hold returns it there
(PostgreSQL refuses any other exit but rejection).  Holds carry no signature
(they stop product, they never release it); when the person re-enters the
password anyway it is checked, and a wrong one counts toward the lockout.
"""

from __future__ import annotations

from qc.evaluation.types import LineVerdict
from qc.models import Evaluation, Lot, LotStatus
from qc.selectors import evaluation_lines, lot_evaluations
from releases.models import Decision, Disposition, NotificationKind
from releases.policy import ActionKey
from releases.services.commands import Act, lot_command
from releases.services.dispositions import disposition_record
from releases.services.notifications import notify_qa
from services.accounts.context import AuthContext
from services.audit.services import Actor

S = LotStatus


def lot_hold(
    *, lot_number: str, auth: AuthContext, reason: str, password: str | None = None
) -> Disposition:
    """QA (or a QP) puts an open lot on hold, with a reason."""
    return lot_command(
        key=ActionKey.HOLD,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        body=lambda lot, act: _hold_record(lot, act, Decision.HOLD, S.ON_HOLD),
    )


def lot_release_hold(
    *, lot_number: str, auth: AuthContext, reason: str, password: str | None = None
) -> Disposition:
    """QA (or a QP) lifts a hold; the lot returns to the state it left."""
    return lot_command(
        key=ActionKey.RELEASE_HOLD,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        body=lambda lot, act: _hold_record(
            lot, act, Decision.HOLD_RELEASED, lot.status_before_hold
        ),
    )


def _hold_record(lot: Lot, act: Act, decision: Decision, status_after: str) -> Disposition:
    return disposition_record(
        lot=lot,
        decision=decision,
        status_after=status_after,
        reason=act.reason,
        evaluation=lot_evaluations(lot=lot).first(),
        by=act.person,
        actor=act.person.audit_actor(),
    )


def lot_flag_conditional_failure(*, lot: Lot, evaluation: Evaluation) -> Disposition:
    """A result failed after a conditional release: stop the lot and alert QA.

    Called by the lifecycle in the evaluation's transaction (lot row locked).  The
    evaluation hooks have opened a post-release investigation for each failing
    result (21 CFR 211.192); QA then records a recall decision.
    """
    failing = [
        line.name
        for line in evaluation_lines(evaluation=evaluation)
        if line.verdict == LineVerdict.DOES_NOT_CONFORM
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
