"""Investigations of a lot: OOS results, trends, post-release failures, deviations.

FDA guidance "Investigating OOS Test Results" (2006, rev. 2022): a Phase I
laboratory investigation comes before any retest; a result is invalidated only
for an assignable laboratory cause; otherwise Phase II (production) extends to
other lots (21 CFR 211.192).  The retest budget is fixed in advance by the
method and snapshotted when the investigation opens, so it cannot be raised
after the fact (PostgreSQL refuses the change).
"""

from __future__ import annotations

from typing import Any

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models

from services.audit.triggers import append_only, no_delete


class InvestigationKind(models.TextChoices):
    OOS = "oos", "Out-of-specification result"
    TREND = "trend", "Out-of-trend (alert limit) notice"
    CONTROL_RULE = "control_rule", "Out-of-trend (control chart rule) notice"
    POST_RELEASE = "post_release", "Failure after release"
    DEVIATION = "deviation", "Deviation"


class InvestigationPhase(models.TextChoices):
    PHASE_1 = "phase_1", "Phase I — laboratory investigation"
    PHASE_2 = "phase_2", "Phase II — production investigation"
    CLOSED = "closed", "Closed"


class Conclusion(models.TextChoices):
    """How an investigation ended (``Investigation.conclusion``)."""

    INVALIDATED = "invalidated", "Assignable laboratory error: result invalidated"
    CONFIRMED_OOS = "confirmed_oos", "Out of specification confirmed"
    # Phase II found an assignable cause after all: a second person invalidates the result.
    NOT_CONFIRMED = "not_confirmed", "Not confirmed: assignable cause found, result invalidated"
    # No cause found either way: QA decides on the lot, with a justification (FDA OOS, 2022).
    INCONCLUSIVE = "inconclusive", "Inconclusive: QA decided on the lot"
    ASSESSED = "assessed", "Assessed by QA: no impact on the lot"


class EntryType(models.TextChoices):
    OPENED = "opened", "Opened"
    CHECK = "check", "Laboratory check"
    NOTE = "note", "Note"
    PHASE_ONE_CONCLUDED = "phase_one_concluded", "Phase I concluded"
    INVALIDATION_PROPOSED = "invalidation_proposed", "Invalidation proposed"
    RESULT_INVALIDATED = "result_invalidated", "Result invalidated (second person)"
    RETEST_ALLOWED = "retest_allowed", "Retest allowed"
    LOTS_CHECKED = "lots_checked", "Phase II: other lots checked"
    CONCLUDED = "concluded", "Concluded"
    ATTACHMENT_ADDED = "attachment_added", "Raw data attached"


# Kinds that block a lot decision while open (EU GMP Annex 16: deviations and OOS
# assessed before certification).  Trend notices are alerts inside the release limits.
BLOCKING_KINDS = (
    InvestigationKind.OOS,
    InvestigationKind.POST_RELEASE,
    InvestigationKind.DEVIATION,
)
# Kinds that follow the OOS guidance's phases.
PHASED_KINDS = (InvestigationKind.OOS, InvestigationKind.POST_RELEASE)


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
    # FDA OOS guidance: the number of retests is fixed in advance (the method's
    # budget, copied when the investigation opens; a trigger refuses any change).
    retest_budget = models.PositiveSmallIntegerField(default=0)
    retest_allowed_at = models.DateTimeField(null=True, blank=True)
    retest_allowed_by = models.CharField(max_length=200, blank=True)
    # When QA recorded the Phase II findings: the policy offers "conclude" only after it.
    phase_two_recorded_at = models.DateTimeField(null=True, blank=True)
    # The deviation or CAPA record the conclusion points to (kept in the quality system).
    capa_reference = models.CharField(max_length=64, blank=True)

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
        triggers = [
            *no_delete("investigation"),
            pgtrigger.Protect(
                name="investigation_retest_budget_fixed",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("retest_budget"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_kind_display()}, {self.lot})"

    @property
    def is_open(self) -> bool:
        return self.phase != InvestigationPhase.CLOSED


class InvestigationEntry(models.Model):
    """An append-only log entry: a check made, a phase change, a conclusion.

    Entries are signable (21 CFR 11.70): a conclusion is signed by QA, and an
    invalidation proposal is signed by a second person (21 CFR 610.1).
    """

    investigation = models.ForeignKey(
        Investigation, on_delete=models.PROTECT, related_name="entries"
    )
    recorded_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=200)
    recorded_by_user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry_type = models.CharField(max_length=40)
    text = models.TextField()
    data = models.JSONField(null=True, blank=True)
    signature = models.ForeignKey(
        "esign.Signature", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["recorded_at", "pk"]
        triggers = append_only("investigation_entry")

    def __str__(self) -> str:
        return f"{self.investigation.number}: {self.entry_type}"

    def signature_content(self) -> dict[str, Any]:
        investigation = self.investigation
        return {
            "investigation": investigation.number,
            "kind": investigation.kind,
            "lot": investigation.lot.lot_number,
            "result_id": investigation.result_id,
            "entry_type": self.entry_type,
            "text": self.text,
            "data": self.data,
            "recorded_by": self.recorded_by,
        }


class ResultInvalidation(models.Model):
    """A result disregarded for an assignable laboratory cause (21 CFR 610.1, FDA OOS).

    Needs a second person's signature; the result itself stays visible.  The OOS
    workflow owns the record; QC reads its reason as ``result.invalidation``.  The
    table keeps the name it was created with (``qc_resultinvalidation``).
    """

    result = models.OneToOneField(
        "qc.Result", on_delete=models.PROTECT, related_name="invalidation"
    )
    reason = models.TextField()
    investigation = models.ForeignKey(
        Investigation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invalidations",
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")
    invalidated_at = models.DateTimeField()

    class Meta:
        db_table = "qc_resultinvalidation"
        triggers = append_only("result_invalidation")

    def __str__(self) -> str:
        return f"invalidation of result #{self.result_id}"


class InvestigationAttachment(models.Model):
    """A raw-data file of an investigation (chromatogram, plate reader export, photo).

    21 CFR 211.194(a): the laboratory record includes the raw data; kept in
    PostgreSQL with the rest of the record (backed up, replicated and access
    controlled together), append-only, its SHA-256 written to the audit trail.
    """

    investigation = models.ForeignKey(
        Investigation, on_delete=models.PROTECT, related_name="attachments"
    )
    file_name = models.CharField(max_length=255)
    media_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    description = models.TextField()
    uploaded_at = models.DateTimeField()
    uploaded_by = models.CharField(max_length=200)
    uploaded_by_user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["uploaded_at", "pk"]
        triggers = append_only("investigation_attachment")

    def __str__(self) -> str:
        return f"{self.investigation.number}: {self.file_name}"
