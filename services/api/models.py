"""Idempotency keys of POST requests (see services/api/idempotency.py for the rules)."""

from __future__ import annotations

from django.db import models


class IdempotencyStatus(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one principal: its request fingerprint and first answer.

    Not a GMP record: the results, lots and audit events a request created are the
    record; this row only lets a retry get the first answer instead of a second copy.
    Rows expire after ``settings.IDEMPOTENCY_KEY_TTL`` (``manage.py idempotency_purge``).
    """

    # "client:<id>" or "user:<id>": keys are unique per caller, not globally.
    principal = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of method, path and the raw request body.
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=IdempotencyStatus.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The JSON answer exactly as first sent (a replay sends the same bytes).
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="uniq_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key} ({self.status})"
