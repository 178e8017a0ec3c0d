"""Signed decisions on a lot: approve, release, conditionally release, finalise, reject.

Each runs as a signed command (``releases.services.commands``): the password is
re-entered outside any transaction, then one transaction locks the lot, runs every
release guard (``releases.services.guards``: all reasons collected, each with its
code) and writes the disposition, its signature (with the policy's statement) and
the status change together.

Two signatures release a lot of a product that needs QP certification: a QA
officer approves (meaning "approved"), then a Qualified Person certifies
(meaning "released"; EU GMP Annex 16).
"""

from __future__ import annotations

from collections.abc import Sequence

from qc.models import Lot, LotStatus
from qc.selectors import lot_evaluations
from releases.models import Decision, Disposition, NotificationKind
from releases.policy import ACTIONS, CHECKLIST_ACTION, ActionKey, Checklist, lot_state_problems
from releases.selectors import statement_facts
from releases.services.commands import Act, lot_command
from releases.services.dispositions import disposition_record
from releases.services.errors import Problem, Refused
from releases.services.guards import lot_readiness
from releases.services.notifications import notify_qps
from services.accounts.context import AuthContext
from services.esign.models import Signature

S = LotStatus

_OUTCOME = {
    Checklist.APPROVE: (Decision.APPROVED, S.APPROVED),
    Checklist.RELEASE: (Decision.RELEASED, S.RELEASED),
    Checklist.CONDITIONAL_RELEASE: (Decision.CONDITIONALLY_RELEASED, S.CONDITIONALLY_RELEASED),
    Checklist.FINALISE: (Decision.FINALISED, S.RELEASED),
}


def _decide(
    *,
    checklist: Checklist,
    auth: AuthContext,
    lot_number: str,
    password: str,
    reason: str,
    pending_tests: Sequence[str] = (),
) -> Disposition:
    key = CHECKLIST_ACTION[checklist]
    decision, status_after = _OUTCOME[checklist]
    pending = tuple(sorted({code.strip() for code in pending_tests if code.strip()}))

    def decide(lot: Lot, act: Act) -> Disposition:
        readiness = lot_readiness(
            lot=lot, action=checklist, signer=act.person, pending_tests=pending_tests
        )
        if not readiness.ready:
            raise Refused(
                f"Lot {lot_number} cannot be {ACTIONS[key].done_words}", readiness.problems
            )
        disposition = disposition_record(
            lot=lot,
            decision=decision,
            status_after=status_after,
            reason=act.reason,
            evaluation=readiness.evaluation,
            by=act.person,
            actor=act.person.audit_actor(),
            act=act,
            pending_tests=list(pending),
        )
        if checklist == Checklist.APPROVE:
            notify_qps(
                kind=NotificationKind.AWAITING_CERTIFICATION,
                text=f"Lot {lot_number} was approved by {act.person.printed_name} (QA) and "
                "awaits certification by a Qualified Person.",
                lot=lot,
            )
        return disposition

    return lot_command(
        key=key,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        body=decide,
        check_state=False,  # the guards' status check reports it, with every other reason
        facts=lambda lot: statement_facts(lot=lot, pending_tests=pending),
    )


def lot_approve(*, lot_number: str, auth: AuthContext, password: str, reason: str) -> Disposition:
    """QA approves a lot ready for review (first of two signatures)."""
    return _decide(
        checklist=Checklist.APPROVE,
        auth=auth,
        lot_number=lot_number,
        password=password,
        reason=reason,
    )


def lot_release(*, lot_number: str, auth: AuthContext, password: str, reason: str) -> Disposition:
    """A QP certifies an approved lot (EU GMP Annex 16), or QA releases when no QP is needed."""
    return _decide(
        checklist=Checklist.RELEASE,
        auth=auth,
        lot_number=lot_number,
        password=password,
        reason=reason,
    )


def lot_conditionally_release(
    *,
    lot_number: str,
    auth: AuthContext,
    password: str,
    reason: str,
    pending_tests: Sequence[str],
) -> Disposition:
    """A QP releases a short-shelf-life lot whose only missing results are listed as pending.

    E.g. the 14-day sterility test (USP <71>) of a product used before it ends;
    every other required line must conform (21 CFR 610.1 is met at finalisation).
    """
    return _decide(
        checklist=Checklist.CONDITIONAL_RELEASE,
        auth=auth,
        lot_number=lot_number,
        password=password,
        reason=reason,
        pending_tests=pending_tests,
    )


def lot_finalise_conditional_release(
    *, lot_number: str, auth: AuthContext, password: str, reason: str
) -> Disposition:
    """A QP finalises a conditional release once the pending results conform."""
    return _decide(
        checklist=Checklist.FINALISE,
        auth=auth,
        lot_number=lot_number,
        password=password,
        reason=reason,
    )


def lot_reject(*, lot_number: str, auth: AuthContext, password: str, reason: str) -> Disposition:
    """QA rejects the lot with a signature and a reason (21 CFR 211.165(f))."""
    return lot_command(
        key=ActionKey.REJECT,
        auth=auth,
        lot_number=lot_number,
        reason=reason,
        password=password,
        check_state=False,  # lot_reject_locked says why, in the rejection's own words
        body=lambda lot, act: lot_reject_locked(lot=lot, act=act),
    )


def lot_reject_locked(
    *,
    lot: Lot,
    act: Act,
    recall: bool = False,
    signature: Signature | None = None,
    disposition_id: int | None = None,
) -> Disposition:
    """Reject a lot whose row the caller has locked, signed by ``act``'s person.

    ``act`` may be the act of another action (a recall decision): the rejection is
    then signed a second time, with the meaning "rejected" and the rejection's own
    statement.  An investigation's conclusion that rejects the lot passes its own
    ``signature`` (and the ``disposition_id`` that signature names): one act, one
    signature.  A lot whose product may be on the market is rejected only with a
    recall decision (``recall``).
    """
    rejection = ACTIONS[ActionKey.REJECT]
    if lot.status == S.REJECTED:
        problems = [Problem("already_decided", f"Lot {lot.lot_number} is already rejected.")]
    elif recall:  # the recall decision established that product is on the market
        problems = []
    else:
        problems = [Problem(c, words) for c, words in lot_state_problems(ActionKey.REJECT, lot)]
    if problems:
        raise Refused(f"Lot {lot.lot_number} cannot be rejected", problems)
    if act.action.key != ActionKey.REJECT and signature is None:
        act = Act(
            person=act.person,
            reason=act.reason,
            action=rejection,
            statement=rejection.statement(statement_facts(lot=lot)),
        )
    return disposition_record(
        lot=lot,
        decision=Decision.REJECTED,
        status_after=S.REJECTED,
        reason=act.reason,
        evaluation=lot_evaluations(lot=lot).first(),
        by=act.person,
        actor=act.person.audit_actor(),
        act=act,
        signature=signature,
        disposition_id=disposition_id,
    )
