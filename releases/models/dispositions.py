"""Lot dispositions and the reviews that must precede them.

A disposition is the decision on a lot (approve, release, reject, hold...): an
append-only record of the evaluation it was based on, who decided, when and
why.  Signed decisions carry a Part 11 signature over the disposition's content
(21 CFR 11.50, 11.70): lot, product, specification version, evaluation (id,
inputs digest, verdict), decision and reason.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from services.audit.triggers import append_only


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved by QA"
    RELEASED = "released", "Released"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditionally released"
    REJECTED = "rejected", "Rejected"
    FINALISED = "finalised", "Conditional release finalised"
    HOLD = "hold", "Put on hold"
    HOLD_RELEASED = "hold_released", "Hold released"


UNSIGNED_DECISIONS = (Decision.HOLD, Decision.HOLD_RELEASED)
# Decisions that put product on the market: each gets a Certificate of Analysis.
RELEASING_DECISIONS = (Decision.RELEASED, Decision.CONDITIONALLY_RELEASED, Decision.FINALISED)


def _evaluation_content(evaluation: Any) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return {
        "id": evaluation.pk,
        "inputs_digest": evaluation.inputs_digest,
        "verdict": evaluation.verdict,
    }


class Disposition(models.Model):
    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="dispositions")
    decision = models.CharField(max_length=32, choices=Decision.choices)
    status_before = models.CharField(max_length=32)
    status_after = models.CharField(max_length=32)
    # The version the lot was bound to when decided (a later rebinding changes nothing here).
    specification = models.ForeignKey(
        "qc.Specification", on_delete=models.PROTECT, related_name="+"
    )
    evaluation = models.ForeignKey(
        "qc.Evaluation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signature = models.ForeignKey(
        "esign.Signature", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    pending_tests = models.JSONField(default=list, blank=True)
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Copied as text: history survives renames (and names the system when it decided).
    decided_by_name = models.CharField(max_length=200)

    class Meta:
        ordering = ["decided_at", "pk"]
        indexes = [models.Index(fields=["lot", "decided_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=UNSIGNED_DECISIONS)
                | models.Q(signature__isnull=False),
                name="disposition_signed_unless_hold",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="disposition_has_reason"),
        ]
        triggers = append_only("disposition")

    def __str__(self) -> str:
        return f"{self.lot} {self.get_decision_display()} @ {self.decided_at:%Y-%m-%d %H:%M}"

    def signature_content(self) -> dict[str, Any]:
        """What the QA officer or Qualified Person attests to (21 CFR 11.70)."""
        return {
            "lot": self.lot.lot_number,
            "product": self.lot.product.code,
            "specification_version": self.specification.version,
            "evaluation": _evaluation_content(self.evaluation),
            "decision": self.decision,
            "reason": self.reason,
            "pending_tests": list(self.pending_tests or []),
        }


class AuditTrailReview(models.Model):
    """QA's review of the lot's audit trail up to event ``up_to_sequence``.

    21 CFR 211.192: the quality unit reviews all records before release; a
    review older than the lot's current evaluation no longer counts.
    """

    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="audit_trail_reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewer_name = models.CharField(max_length=200)
    reviewed_at = models.DateTimeField()
    up_to_sequence = models.BigIntegerField()
    # The evaluation current when QA reviewed: a later evaluation voids the review.
    # (Null on reviews recorded before it was kept: those count as void.)
    evaluation = models.ForeignKey(
        "qc.Evaluation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    comment = models.TextField()
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["reviewed_at", "pk"]
        triggers = append_only("audit_trail_review")

    def __str__(self) -> str:
        return f"{self.lot} audit trail reviewed to #{self.up_to_sequence}"

    def signature_content(self) -> dict[str, Any]:
        return {
            "lot": self.lot.lot_number,
            "up_to_sequence": self.up_to_sequence,
            "comment": self.comment,
            "reviewer": self.reviewer.username,
            # Only on reviews that recorded it, so older signatures keep their digest.
            **({"evaluation_id": self.evaluation_id} if self.evaluation_id else {}),
        }


class ResultReview(models.Model):
    """A second person's review of the lot's laboratory records (21 CFR 211.194(a)(8)).

    Covers the results listed in ``result_ids``; results received later need
    another review.  The reviewer performed none of them.
    """

    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="result_reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewer_name = models.CharField(max_length=200)
    reviewed_at = models.DateTimeField()
    result_ids = models.JSONField()
    comment = models.TextField()
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["reviewed_at", "pk"]
        triggers = append_only("result_review")

    def __str__(self) -> str:
        return f"{self.lot} results reviewed by {self.reviewer_name}"

    def signature_content(self) -> dict[str, Any]:
        return {
            "lot": self.lot.lot_number,
            "result_ids": list(self.result_ids),
            "comment": self.comment,
            "reviewer": self.reviewer.username,
        }


class RecallDecision(models.Model):
    """QA's decision on distributed product after a failure (21 CFR 211.192; 7.40 recalls)."""

    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="recall_decisions")
    investigation = models.ForeignKey(
        "releases.Investigation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recall_decisions",
    )
    recall = models.BooleanField()
    reason = models.TextField()
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by_name = models.CharField(max_length=200)
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")
    # The rejection recorded with a recall (none when QA decides not to recall).
    disposition = models.ForeignKey(
        Disposition, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["decided_at", "pk"]
        triggers = append_only("recall_decision")

    def __str__(self) -> str:
        return f"{self.lot}: {'recall' if self.recall else 'no recall'}"

    def signature_content(self) -> dict[str, Any]:
        return {
            "lot": self.lot.lot_number,
            "investigation": self.investigation.number if self.investigation else None,
            "recall": self.recall,
            "reason": self.reason,
        }
