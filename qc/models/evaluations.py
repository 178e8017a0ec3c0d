"""Stored evaluations: never edited; the newest is current."""

from __future__ import annotations

from django.db import models

from qc.evaluation import LotVerdict
from services.audit.triggers import append_only

VERDICT_CHOICES = [
    (verdict.value, verdict.value.replace("_", " ").capitalize()) for verdict in LotVerdict
]


class Evaluation(models.Model):
    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="evaluations")
    specification = models.ForeignKey(
        "qc.Specification", on_delete=models.PROTECT, related_name="+"
    )
    engine_version = models.CharField(max_length=20)
    inputs_digest = models.CharField(max_length=64)
    # The lot's data_version this evaluation covered; lower than the lot's = stale.
    data_version = models.PositiveBigIntegerField()
    verdict = models.CharField(max_length=20, choices=VERDICT_CHOICES)
    has_alerts = models.BooleanField(default=False)
    lines = models.JSONField()
    reasons = models.JSONField(default=list)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["-evaluated_at", "-pk"]
        get_latest_by = "pk"
        # Idempotence: the evaluation service, serialised per lot, stores a new
        # evaluation only when the inputs digest differs from the current one.
        indexes = [models.Index(fields=["lot", "-id"], name="eval_current_idx")]
        triggers = append_only("evaluation")

    def __str__(self) -> str:
        return f"{self.lot_id} {self.verdict} @ {self.evaluated_at:%Y-%m-%d %H:%M:%S}"
