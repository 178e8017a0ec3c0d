"""Part 11 electronic signatures.

A signature is permanently linked to the exact content it signed (21 CFR 11.70):
it stores the SHA-256 of the record's canonical form, and a copy of that form,
so a later change to the record shows the signature as broken.  It carries the
printed name, UTC time and meaning (11.50).  Rows are append-only (trigger).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from services.audit.triggers import append_only


class Meaning(models.TextChoices):
    AUTHORED = "authored", "Authored"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    RELEASED = "released", "Released (certified by the Qualified Person)"
    CONDITIONALLY_RELEASED = "conditionally_released", "Conditionally released"
    REJECTED = "rejected", "Rejected"
    INVALIDATED = "invalidated", "Invalidated"
    VERIFIED = "verified", "Verified (second person)"
    CONCLUDED = "concluded", "Concluded"
    CORRECTION_APPROVED = "correction_approved", "Correction approved"


class Signature(models.Model):
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures"
    )
    # Copied as text at signing: the manifest must survive renames (11.50(a)(1)).
    printed_name = models.CharField(max_length=200)
    username = models.CharField(max_length=150)
    signer_role = models.CharField(max_length=32)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=32, choices=Meaning.choices)
    reason = models.TextField()
    # The statement the signer confirmed, in the words shown before signing (11.50):
    # the same for a signature given in the web UI and one given through the API.
    statement = models.TextField(blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    record_label = models.CharField(max_length=200)
    record_digest = models.CharField(max_length=64)
    record_content = models.JSONField()

    class Meta:
        ordering = ["signed_at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        triggers = append_only("signature")

    def __str__(self) -> str:
        return f"{self.printed_name}: {self.get_meaning_display()} {self.record_label}"

    @property
    def manifest_line(self) -> str:
        """What 21 CFR 11.50 requires on screen and on paper."""
        return (
            f"{self.printed_name} — {self.get_meaning_display()} — "
            f"{self.signed_at:%Y-%m-%d %H:%M:%S} UTC — {self.reason}"
        )
