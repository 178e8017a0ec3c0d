"""The lot lifecycle: the transition table, and the only code that moves a lot's status.

21 CFR 11.10(f) (enforced sequencing of steps) and 21 CFR 211.165(a) (no release
before conformance is shown)::

    quarantined --first result--> in_testing --current evaluation conforms--> ready_for_review
    ready_for_review --QA approves--> approved --QP certifies (EU GMP Annex 16)--> released
    ready_for_review --QA releases (product needs no QP)--> released
    in_testing --QP, only tests like 14-day sterility pending--> conditionally_released
    conditionally_released --QP finalises once they conform--> released
    any open state --hold (reason)--> on_hold --hold released--> the state it left
    any open state, on_hold --QA rejects (signature)--> rejected
    ready_for_review/approved --new evaluation no longer conforms--> in_testing
    approved --any new evaluation (the data changed: the approval is void)--> ready_for_review
    released/conditionally_released --recall decision--> rejected

PostgreSQL enforces the same table with a trigger on ``qc_lot.status``
(migration releases/0003), so neither the admin nor raw SQL can skip a step;
``tests/releases/test_lifecycle.py`` checks that the two agree, pair by pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qc.models import Lot, LotStatus
from services.audit.actions import AuditAction
from services.audit.services import Actor, audit_record
from services.errors import Refused

S = LotStatus

# States from which a lot may be put on hold (and to which a hold returns).
HOLDABLE_STATES: frozenset[str] = frozenset(
    {S.QUARANTINED, S.IN_TESTING, S.READY_FOR_REVIEW, S.APPROVED, S.CONDITIONALLY_RELEASED}
)
# States from which QA may reject the lot outright.
REJECTABLE_STATES: frozenset[str] = frozenset(
    {S.QUARANTINED, S.IN_TESTING, S.READY_FOR_REVIEW, S.APPROVED, S.ON_HOLD}
)
# Product is on the market in these (a failure now is a post-release failure).
RELEASED_STATES: frozenset[str] = frozenset({S.RELEASED, S.CONDITIONALLY_RELEASED})

TRANSITIONS: Mapping[str, frozenset[str]] = {
    S.QUARANTINED: frozenset({S.IN_TESTING, S.ON_HOLD, S.REJECTED}),
    S.IN_TESTING: frozenset({S.READY_FOR_REVIEW, S.CONDITIONALLY_RELEASED, S.ON_HOLD, S.REJECTED}),
    S.READY_FOR_REVIEW: frozenset({S.IN_TESTING, S.APPROVED, S.RELEASED, S.ON_HOLD, S.REJECTED}),
    S.APPROVED: frozenset({S.IN_TESTING, S.READY_FOR_REVIEW, S.RELEASED, S.ON_HOLD, S.REJECTED}),
    S.CONDITIONALLY_RELEASED: frozenset({S.RELEASED, S.ON_HOLD, S.REJECTED}),
    # Back to the state it left (``status_before_hold``) or rejected: see transition_allowed.
    S.ON_HOLD: HOLDABLE_STATES | {S.REJECTED},
    # A recall of distributed product.
    S.RELEASED: frozenset({S.REJECTED}),
    S.REJECTED: frozenset(),
}


def lot_distributed(lot: Lot) -> bool:
    """May product of this lot be on the market (released, or on hold from a release)?

    A failure found now is a post-release failure (21 CFR 211.192), and the lot is
    rejected only through a recall decision.
    """
    return lot.status in RELEASED_STATES or (
        lot.status == S.ON_HOLD and lot.status_before_hold in RELEASED_STATES
    )


def lot_expired(lot: Lot, on: date | None = None) -> bool:
    """Is the lot past its expiry date (21 CFR 211.137)?  The date is UTC's today."""
    today = on or timezone.now().date()
    return lot.expires_on is not None and lot.expires_on < today


def lot_expires_soon(lot: Lot) -> bool:
    """Within ``EXPIRY_WARNING_DAYS`` of its expiry date (the lot list and page warn)."""
    if lot.expires_on is None:
        return False
    return lot.expires_on - timezone.now().date() <= timedelta(days=settings.EXPIRY_WARNING_DAYS)


def status_text(status: str) -> str:
    """The status as words inside a sentence ("approved by QA", "in testing")."""
    label = str(S(status).label)
    return label[:1].lower() + label[1:]


class IllegalTransition(Refused):
    """The lifecycle does not allow this change of status (21 CFR 11.10(f))."""

    default_code = "illegal_transition"


def transition_allowed(old: str, new: str, *, before_hold: str = "") -> bool:
    """Whether ``old -> new`` is a step of the lifecycle (the trigger's rule, in Python)."""
    if new not in TRANSITIONS.get(old, frozenset()):
        return False
    if old == S.ON_HOLD and new != S.REJECTED:
        return new == before_hold
    return True


def lot_transition(*, lot: Lot, to: str, actor: Actor, reason: str) -> None:
    """Move the lot to ``to`` (in the caller's transaction, lot row locked), audited.

    The UPDATE is conditional on the status the caller saw, so a concurrent change
    is never overwritten; PostgreSQL checks the step once more.
    """
    old = lot.status
    if not transition_allowed(old, to, before_hold=lot.status_before_hold):
        raise IllegalTransition(
            f"lot {lot.lot_number} cannot go from {status_text(old)} to {status_text(to)}"
        )
    before_hold = old if to == S.ON_HOLD else ""
    moved = Lot.objects.filter(pk=lot.pk, status=old).update(
        status=to, status_before_hold=before_hold
    )
    if not moved:
        raise IllegalTransition(f"lot {lot.lot_number} changed status meanwhile; try again")
    lot.status, lot.status_before_hold = to, before_hold
    audit_record(
        actor=actor,
        action=AuditAction.LOT_STATUS_CHANGED,
        object_type="lot",
        object_id=lot.lot_number,
        old_values={"status": old},
        new_values={"status": to, **({"status_before_hold": old} if before_hold else {})},
        reason=reason,
    )


def lot_mark_in_testing(*, lot: Lot, actor: Actor) -> bool:
    """Quarantined -> in testing when the first QC result arrives; returns whether it moved.

    Called by the ingestion service in the transaction that stores the results.
    """
    moved = Lot.objects.filter(pk=lot.pk, status=S.QUARANTINED).update(status=S.IN_TESTING)
    if moved:
        audit_record(
            actor=actor,
            action=AuditAction.LOT_STATUS_CHANGED,
            object_type="lot",
            object_id=lot.lot_number,
            old_values={"status": S.QUARANTINED},
            new_values={"status": S.IN_TESTING},
            reason="first QC result received",
        )
        lot.status = S.IN_TESTING
    return bool(moved)


def lot_lock(*, lot_number: str) -> Lot | None:
    """The lot, its row locked FOR UPDATE until the caller's transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lot_lock must run inside the deciding transaction")
    return (
        Lot.objects.select_for_update(of=("self",))
        .select_related("product", "specification")
        .filter(lot_number=lot_number)
        .first()
    )
