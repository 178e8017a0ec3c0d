"""The audit trail (21 CFR 11.10(e), EU GMP Annex 11 §9).

One row per GMP-relevant action, hash-chained: each ``hash`` covers the previous
event's hash and this event's canonical content, so any edit, deletion or
re-ordering of history is detectable by ``manage.py audit_verify``.  PostgreSQL
itself refuses UPDATE, DELETE and TRUNCATE on the table (pgtrigger), so not even
a bug in the application can rewrite history.
"""

from __future__ import annotations

from django.db import models

from services.audit.actions import AuditAction
from services.audit.actor import ActorType
from services.audit.triggers import append_only


class AuditEvent(models.Model):
    sequence = models.BigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(editable=False, db_index=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    # Copied as text so history survives renames and deletions of accounts.
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=80, db_index=True, choices=AuditAction.choices)
    object_type = models.CharField(max_length=80, db_index=True)
    object_id = models.CharField(max_length=200, db_index=True)
    old_values = models.JSONField(null=True, blank=True)
    new_values = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    # The GMP rows this event created, each with its content hash
    # ([{"table", "id", "hash"}], services.audit.records); covered by ``hash``.
    records = models.JSONField(null=True, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["object_type", "object_id", "sequence"])]
        triggers = append_only("audit")

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"


class ChainVerification(models.Model):
    """One run of the hash-chain verifier (append-only): what it covered and what it found.

    Written once, when the run ends; a run's progress lives in the cache meanwhile
    (``services.audit.verification``).
    """

    run_id = models.CharField(max_length=36, unique=True)
    requested_by = models.CharField(max_length=200)  # the actor's name, copied as text
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    head_sequence = models.BigIntegerField()  # the newest event when the run started
    head_hash = models.CharField(max_length=64, blank=True)
    checked = models.BigIntegerField()
    passed = models.BooleanField()
    first_failing_sequence = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    # Bound GMP rows recomputed, and the first that no longer matches its binding.
    records_checked = models.BigIntegerField(default=0)
    failing_table = models.CharField(max_length=80, blank=True)
    failing_record_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-finished_at", "-pk"]
        triggers = append_only("chain_verification")

    def __str__(self) -> str:
        verdict = "intact" if self.passed else f"broken at #{self.first_failing_sequence}"
        return f"chain {verdict} ({self.checked} events, {self.finished_at:%Y-%m-%d %H:%M} UTC)"
