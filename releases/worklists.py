"""Worklists: the work that waits for one person, read from the policy and the guards.

Nothing here decides a rule.  Whether a person may take an action and whether it
applies now is the policy table's answer (``releases.policy``); whether a review
still blocks the lot's decision is the release guards' (``review_pending``, the
same check the decision runs); which step an investigation waits for is the one
the investigation page offers (``investigation_offers``).  So a dashboard lists
exactly what the person could do now and what the system still waits for:

* QC reviewer: result reviews that block a release (21 CFR 211.194(a)(8)), and the
  laboratory investigations' steps a reviewer takes (Phase I, the second person's
  invalidation);
* QA officer: audit-trail reviews (21 CFR 211.192), approvals and releases, and the
  open investigations that need QA;
* Qualified Person: certifications and the finalisation of conditional releases
  (EU GMP Annex 16);
* QC analyst: the retests an investigation allowed that nobody has performed yet,
  unless they performed the original result (FDA OOS guidance: another analyst).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from qc.models import Lot, LotStatus
from qc.selectors import lot_current_evaluation
from releases.models import PHASED_KINDS, Investigation, InvestigationPhase
from releases.policy import ACTIONS, DECISIONS, ActionKey, applies_to_lot, may_take
from releases.selectors import investigation_offers, pending_invalidation_proposal
from releases.services.guards import performed_by, retests_after, review_pending
from releases.services.oos import invalidation_signer_problems
from services.accounts.models import Role, User

# The lot actions a lot waits for, in the order a release needs them.
REVIEWS = (ActionKey.RESULT_REVIEW, ActionKey.AUDIT_TRAIL_REVIEW)
LOT_DECISIONS = (ActionKey.APPROVE, ActionKey.RELEASE, ActionKey.FINALISE)
# The steps an open investigation waits for (entries, retests and attachments are
# optional acts, offered on the page but never awaited).
INVESTIGATION_STEPS = (
    ActionKey.PHASE_ONE,
    ActionKey.INVALIDATE_RESULT,
    ActionKey.PHASE_TWO,
    ActionKey.CONCLUDE,
)
DECIDED = (LotStatus.RELEASED, LotStatus.REJECTED)
RETEST = "retest"


@dataclass(frozen=True)
class WorkItem:
    """One piece of work: what to do, on which lot (and investigation), why, and where."""

    key: str  # the policy's action key, or "retest"
    title: str
    lot: Lot
    why: str
    url: str
    investigation: Investigation | None = None


def worklist_for(*, user: User) -> list[WorkItem]:
    """Exactly the work that waits for ``user`` now, reviews and decisions first."""
    if not isinstance(user, User) or not user.is_active:
        return []
    items = _lot_work(user) + _investigation_work(user)
    if user.has_role(Role.QC_ANALYST):
        items += _retest_work(user)
    return items


def _lot_work(user: User) -> list[WorkItem]:
    keys = [key for key in (*REVIEWS, *LOT_DECISIONS) if user.has_role(*ACTIONS[key].all_roles)]
    if not keys:
        return []
    items: list[WorkItem] = []
    lots = (
        Lot.objects.exclude(status__in=DECIDED)
        .select_related("product", "specification")
        .order_by("created_at", "pk")
    )
    for lot in lots:
        # A review waits only while it blocks the decision the lot is ready for.
        decision_next = any(applies_to_lot(key, lot) for key in DECISIONS)
        evaluation = None
        for key in keys:
            if not (may_take(key, user, lot) and applies_to_lot(key, lot)):
                continue
            url = reverse("lot-detail", args=[lot.lot_number]) + f"#action-{key.value}"
            if key in REVIEWS:
                if not decision_next:
                    continue
                if evaluation is None:
                    current = lot_current_evaluation(lot=lot)
                    evaluation = current.evaluation if current is not None else None
                problems = review_pending(key, lot, evaluation)
                if problems:
                    items.append(WorkItem(key, ACTIONS[key].title, lot, problems[0].reason, url))
            else:
                why = f"Lot {lot.lot_number} is {lot.get_status_display().lower()}."
                items.append(WorkItem(key, ACTIONS[key].title, lot, why, url))
    return items


def _investigation_work(user: User) -> list[WorkItem]:
    keys = [key for key in INVESTIGATION_STEPS if may_take(key, user)]
    if not keys:
        return []
    items: list[WorkItem] = []
    investigations = (
        Investigation.objects.exclude(phase=InvestigationPhase.CLOSED)
        .select_related("lot", "lot__product", "result", "result__run")
        .prefetch_related("entries")
        .order_by("opened_at", "pk")
    )
    for investigation in investigations:
        proposal = pending_invalidation_proposal(investigation=investigation)
        for key in keys:
            if not investigation_offers(key, investigation, proposal):
                continue
            if key == ActionKey.PHASE_TWO and investigation.phase_two_recorded_at is not None:
                continue  # recorded: what waits now is the conclusion
            if key == ActionKey.INVALIDATE_RESULT:
                assert proposal is not None
                if invalidation_signer_problems(
                    investigation=investigation, proposal=proposal, signer=user
                ):
                    continue  # the proposer or the analyst: a second person signs
            url = (
                reverse("investigation-detail", args=[investigation.number])
                + f"#action-{key.value}"
            )
            why = (
                f"{investigation.number} ({investigation.get_kind_display()}) is in "
                f"{investigation.get_phase_display()}."
            )
            items.append(
                WorkItem(key, ACTIONS[key].title, investigation.lot, why, url, investigation)
            )
    return items


def _retest_work(user: User) -> list[WorkItem]:
    items: list[WorkItem] = []
    allowed = (
        Investigation.objects.filter(kind__in=PHASED_KINDS, retest_allowed_at__isnull=False)
        .exclude(lot__status__in=DECIDED)
        .select_related("lot", "result", "result__test", "result__run")
        .order_by("retest_allowed_at", "pk")
    )
    for investigation in allowed:
        original = investigation.result
        if original is None or performed_by(original, user):
            continue  # FDA OOS guidance: the retest is done by another analyst
        _, attempts = retests_after(investigation)
        if attempts:
            continue
        why = (
            f"{investigation.number} allowed a retest of {original.test.code} (OOS result "
            f"#{original.pk}) on {investigation.retest_allowed_at:%Y-%m-%d}; budget "
            f"{investigation.retest_budget}, fixed in advance."
        )
        url = reverse("investigation-detail", args=[investigation.number])
        items.append(
            WorkItem(
                RETEST,
                f"Perform the retest of {original.test.code}",
                investigation.lot,
                why,
                url,
                investigation,
            )
        )
    return items
