"""Lots of EV drug product."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.db import models

from services.audit.triggers import no_delete


class LotStatus(models.TextChoices):
    """The lifecycle; transitions live in releases/lifecycle.py (and a DB trigger)."""

    QUARANTINED = "quarantined", "Quarantined"
    IN_TESTING = "in_testing", "In testing"
    READY_FOR_REVIEW = "ready_for_review", "Ready for review"
    APPROVED = "approved", "Approved by QA"
    RELEASED = "released", "Released"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditionally released"
    REJECTED = "rejected", "Rejected"
    ON_HOLD = "on_hold", "On hold"


@pghistory.track(
    pghistory.UpdateEvent(
        "status_changed", row=pghistory.New, condition=pghistory.AnyChange("status")
    ),
    pghistory.UpdateEvent("rebound", condition=pghistory.AnyChange("specification")),
)
class Lot(models.Model):
    lot_number = models.CharField(max_length=64, unique=True)
    product = models.ForeignKey("qc.Product", on_delete=models.PROTECT, related_name="lots")
    # Bound at creation to the effective version; only QA rebinds, with a reason.
    specification = models.ForeignKey(
        "qc.Specification", on_delete=models.PROTECT, related_name="lots"
    )
    manufactured_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    site = models.CharField(max_length=120, blank=True)
    process = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=32, choices=LotStatus.choices, default=LotStatus.QUARANTINED
    )
    status_before_hold = models.CharField(max_length=32, blank=True)
    # Bumped in the same transaction as every change to the lot's QC data; an
    # evaluation records the version it covered, so "not yet evaluated" is a query.
    data_version = models.PositiveBigIntegerField(default=0)
    # The data_version the newest evaluation run covered (even when it found the
    # inputs unchanged); below data_version = evaluation pending (the reconciler's query).
    evaluated_version = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        triggers = no_delete("lot")

    def __str__(self) -> str:
        return self.lot_number
