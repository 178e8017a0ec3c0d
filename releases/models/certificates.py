"""Certificates of Analysis and in-app notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from services.audit.triggers import append_only


class Certificate(models.Model):
    """A Certificate of Analysis: a PDF and its JSON twin, with their SHA-256.

    Never regenerated in place: a corrected certificate (``correction_reason``) is
    a new version that points at the one it supersedes, and so is the certificate
    of a finalised conditional release (ALCOA+ "original", "enduring").
    """

    lot = models.ForeignKey("qc.Lot", on_delete=models.PROTECT, related_name="certificates")
    version = models.PositiveIntegerField()
    disposition = models.ForeignKey(
        "releases.Disposition", on_delete=models.PROTECT, related_name="certificates"
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    pdf_name = models.CharField(max_length=300)
    pdf_sha256 = models.CharField(max_length=64)
    json_name = models.CharField(max_length=300)
    json_sha256 = models.CharField(max_length=64)
    # The documents themselves live in PostgreSQL, the system of record: every api,
    # web and worker replica reads the same bytes, backed up with everything else.
    pdf_data = models.BinaryField(editable=False, default=b"")
    json_data = models.BinaryField(editable=False, default=b"")
    content = models.JSONField()
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["lot", "version"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "version"], name="uniq_certificate_version"),
            # One certificate per releasing decision (corrections aside): a redelivered
            # task is harmless.
            models.UniqueConstraint(
                fields=["disposition"],
                condition=models.Q(correction_reason=""),
                name="uniq_certificate_per_disposition",
            ),
        ]
        triggers = append_only("certificate")

    def __str__(self) -> str:
        return f"CoA {self.lot} v{self.version}"

    def document(self, kind: str) -> tuple[bytes, str]:
        """The stored bytes of the ``pdf`` or ``json`` document and their SHA-256."""
        if kind == "pdf":
            return bytes(self.pdf_data), self.pdf_sha256
        return bytes(self.json_data), self.json_sha256


class CertificateCorrection(models.Model):
    """QA's signed request for a corrected certificate (21 CFR 11.50, 11.70).

    The new version is issued by the documents worker; its signature manifest
    carries this signature, so the corrected document shows who approved the
    correction, when and why.
    """

    lot = models.ForeignKey(
        "qc.Lot", on_delete=models.PROTECT, related_name="certificate_corrections"
    )
    supersedes = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, related_name="corrections"
    )
    reason = models.TextField()
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["requested_at", "pk"]
        triggers = append_only("certificate_correction")

    def __str__(self) -> str:
        return f"correction of {self.supersedes}"

    def signature_content(self) -> dict[str, object]:
        return {
            "lot": self.lot.lot_number,
            "supersedes_version": self.supersedes.version,
            "reason": self.reason,
            "requested_by": self.requested_by.username,
        }


class NotificationKind(models.TextChoices):
    READY_FOR_REVIEW = "ready_for_review", "Lot ready for QA review"
    AWAITING_CERTIFICATION = "awaiting_certification", "Lot awaiting QP certification"
    OOS_OPENED = "oos_opened", "OOS investigation opened"
    POST_RELEASE_FAILURE = "post_release_failure", "Failure after release"
    CONDITIONAL_RELEASE_FAILURE = "conditional_release_failure", "Pending test failed"
    PENDING_TESTS_CONFORM = "pending_tests_conform", "Pending tests conform"
    OUT_OF_TREND = "out_of_trend", "Out-of-trend notice (control chart rule)"
    RESULT_REVIEW_NEEDED = "result_review_needed", "Results await second-person review"


class Notification(models.Model):
    """An in-app message to one person; mail goes out on commit where configured."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    text = models.TextField()
    lot = models.ForeignKey(
        "qc.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    investigation = models.ForeignKey(
        "releases.Investigation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # Set by the mail task once the message is handed to the mail server (sent once).
    mailed_at = models.DateTimeField(null=True, blank=True)
    # Set when the work it announced is done (the lot decided, the investigation closed,
    # the results reviewed): it no longer counts as unread or open.
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"to {self.recipient_id}: {self.text[:60]}"
