"""Release records: investigations (OOS, trends, post-release failures).

Dispositions, certificates and notifications are added by the release workflow.
"""

from __future__ import annotations

import pghistory
from django.db import models

from services.audit.triggers import append_only, no_delete


class InvestigationKind(models.TextChoices):
    OOS = "oos", "Out-of-specification result"
    TREND = "trend", "Out-of-trend (alert limit) notice"
    POST_RELEASE = "post_release", "Failure after release"
    DEVIATION = "deviation", "Deviation"


class InvestigationPhase(models.TextChoices):
    PHASE_1 = "phase_1", "Phase I — laboratory investigation"
    PHASE_2 = "phase_2", "Phase II — production investigation"
    CLOSED = "closed", "Closed"


@pghistory.track()
class Investigation(models.Model):
    """An investigation of a lot (FDA OOS guidance; 21 CFR 211.192)."""

    number = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=20, choices=InvestigationKind.choices)
    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="investigations")
    result = models.ForeignKey(
        "qc.Result", on_delete=models.PROTECT, null=True, blank=True, related_name="investigations"
    )
    line_name = models.CharField(max_length=200, blank=True)
    summary = models.TextField()
    phase = models.CharField(
        max_length=20, choices=InvestigationPhase.choices, default=InvestigationPhase.PHASE_1
    )
    conclusion = models.CharField(max_length=40, blank=True)
    opened_at = models.DateTimeField()
    opened_by = models.CharField(max_length=200)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open investigation per result and kind: re-evaluation never duplicates it.
            models.UniqueConstraint(
                fields=["result", "kind"],
                name="uniq_investigation_result",
                condition=models.Q(result__isnull=False),
            ),
        ]
        triggers = no_delete("investigation")

    def __str__(self) -> str:
        return f"{self.number} ({self.get_kind_display()}, {self.lot})"

    @property
    def is_open(self) -> bool:
        return self.phase != InvestigationPhase.CLOSED


class InvestigationEntry(models.Model):
    """An append-only log entry: a check made, a phase change, a conclusion."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.PROTECT, related_name="entries"
    )
    recorded_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=200)
    entry_type = models.CharField(max_length=40)
    text = models.TextField()
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["recorded_at", "pk"]
        triggers = append_only("investigation_entry")

    def __str__(self) -> str:
        return f"{self.investigation.number}: {self.entry_type}"
