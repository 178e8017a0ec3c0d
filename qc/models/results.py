"""Assay runs, their reference-material controls, and results.

Results are original GMP records (ALCOA+): never updated, never deleted
(PostgreSQL refuses it).  A correction or a retest is a new result pointing at
the one it supersedes, with a reason; an invalidation is a separate record
(``releases.ResultInvalidation``, read here as ``result.invalidation``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from services.audit.triggers import append_only

_DECIMAL: dict[str, Any] = {"max_digits": 40, "decimal_places": 15}


class AssayRun(models.Model):
    external_run_id = models.CharField(max_length=100, unique=True)
    method = models.ForeignKey("qc.TestMethod", on_delete=models.PROTECT, related_name="runs")
    instrument = models.ForeignKey(
        "qc.Instrument", on_delete=models.PROTECT, null=True, blank=True, related_name="runs"
    )
    analyst = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    posted_by_client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        triggers = append_only("assay_run")

    def __str__(self) -> str:
        return self.external_run_id


class RunControl(models.Model):
    """A reference-material control measured in a run (system suitability)."""

    run = models.ForeignKey(AssayRun, on_delete=models.PROTECT, related_name="controls")
    reference_material = models.ForeignKey(
        "qc.ReferenceMaterial", on_delete=models.PROTECT, related_name="+"
    )
    test = models.ForeignKey("qc.TestMethod", on_delete=models.PROTECT, related_name="+")
    value_as_posted = models.CharField(max_length=64)
    unit_as_posted = models.CharField(max_length=40, blank=True)
    canonical_value = models.DecimalField(**_DECIMAL)
    # The certified range in force when the run was recorded (ALCOA+ "original"):
    # a later edit of the reference material's range never re-judges this run.
    acceptance_low = models.DecimalField(null=True, blank=True, **_DECIMAL)
    acceptance_high = models.DecimalField(null=True, blank=True, **_DECIMAL)

    class Meta:
        triggers = append_only("run_control")

    def __str__(self) -> str:
        return f"{self.run} control {self.reference_material}"


class Result(models.Model):
    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="results")
    test = models.ForeignKey("qc.TestMethod", on_delete=models.PROTECT, related_name="results")
    run = models.ForeignKey(
        AssayRun, on_delete=models.PROTECT, null=True, blank=True, related_name="results"
    )
    replicate = models.PositiveSmallIntegerField(default=1)
    # The original, exactly as posted (ALCOA+ "original").
    value_as_posted = models.CharField(max_length=200)
    unit_as_posted = models.CharField(max_length=40, blank=True)
    qualifier = models.CharField(max_length=1, blank=True, choices=[("<", "<"), (">", ">")])
    numeric_value = models.DecimalField(null=True, blank=True, **_DECIMAL)
    canonical_value = models.DecimalField(null=True, blank=True, **_DECIMAL)
    canonical_unit = models.CharField(max_length=40, blank=True)
    text_value = models.CharField(max_length=200, blank=True)
    raw_data = models.JSONField(null=True, blank=True)
    performed_by = models.CharField(max_length=150, blank=True)
    performed_at = models.DateTimeField(null=True, blank=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    supersede_reason = models.TextField(blank=True)
    posted_by_client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField()
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["lot", "test"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(supersedes__isnull=True) | ~models.Q(supersede_reason=""),
                name="result_supersede_needs_reason",
            ),
        ]
        triggers = append_only("result")

    def __str__(self) -> str:
        return f"{self.lot_id}/{self.test_id} #{self.pk}"
