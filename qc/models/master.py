"""Master data: products, test methods, instruments and reference materials.

Edited by administrators and QA in the admin; every change is kept as row
history (django-pghistory) besides the audit trail, and none is ever deleted.
"""

from __future__ import annotations

import pghistory
from django.db import models

from services.audit.triggers import no_delete


class AttributeClass(models.TextChoices):
    IDENTITY = "identity", "Identity"
    PURITY = "purity", "Purity"
    QUANTITY = "quantity", "Quantity"
    SAFETY = "safety", "Safety"
    POTENCY = "potency", "Potency"
    PROCESS = "process", "Process"


class ResultKind(models.TextChoices):
    NUMERIC = "numeric", "Numeric (with canonical unit)"
    QUALITATIVE = "qualitative", "Qualitative (allowed values)"
    DETECTION = "detection", "Detected / not detected"


@pghistory.track()
class Product(models.Model):
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # {"isolation_method": {"type": "choice", "choices": [...], "required": true}, ...}
    process_fields = models.JSONField(default=dict, blank=True)
    # EU GMP Annex 16: a QP certifies after QA approval; off only for non-EU products.
    requires_qp_certification = models.BooleanField(default=True)
    conditional_release_allowed = models.BooleanField(default=False)
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        triggers = no_delete("product")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


@pghistory.track()
class TestMethod(models.Model):
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    attribute_class = models.CharField(max_length=20, choices=AttributeClass.choices)
    technique = models.CharField(max_length=40, help_text="NTA, TRPS, TEM, WB, LAL, USP<71>...")
    result_kind = models.CharField(max_length=20, choices=ResultKind.choices)
    canonical_unit = models.CharField(max_length=40, blank=True)
    allowed_values = models.JSONField(default=list, blank=True)
    replicates_required = models.PositiveSmallIntegerField(default=1)
    # FDA OOS guidance: the number of retests is fixed in advance, per method.
    retest_budget = models.PositiveSmallIntegerField(default=1)
    # Counts cannot be negative; a potency or a ratio may not be either.
    allows_negative = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = no_delete("test_method")

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


@pghistory.track()
class Instrument(models.Model):
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    technique = models.CharField(max_length=40)
    serial_number = models.CharField(max_length=80, blank=True)
    calibration_due = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = no_delete("instrument")

    def __str__(self) -> str:
        return self.code


class ReferenceMaterialStatus(models.TextChoices):
    QUARANTINED = "quarantined", "Quarantined"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    RETIRED = "retired", "Retired"


@pghistory.track()
class ReferenceMaterial(models.Model):
    """A calibrant or reference lot used for system suitability (DOMAIN §3)."""

    code = models.CharField(max_length=40)
    lot = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=40, help_text="size standard, endotoxin spike, reference lot…"
    )
    status = models.CharField(
        max_length=20,
        choices=ReferenceMaterialStatus.choices,
        default=ReferenceMaterialStatus.QUARANTINED,
    )
    expires_on = models.DateField()

    class Meta:
        ordering = ["code", "lot"]
        constraints = [models.UniqueConstraint(fields=["code", "lot"], name="uniq_reference_lot")]
        triggers = no_delete("reference_material")

    def __str__(self) -> str:
        return f"{self.code} lot {self.lot}"


@pghistory.track()
class ReferenceMaterialLimit(models.Model):
    """Certified value and acceptance range of a reference material for one test."""

    reference_material = models.ForeignKey(
        ReferenceMaterial, on_delete=models.PROTECT, related_name="limits"
    )
    test = models.ForeignKey(TestMethod, on_delete=models.PROTECT, related_name="+")
    certified_value = models.DecimalField(max_digits=38, decimal_places=12)
    acceptance_low = models.DecimalField(max_digits=38, decimal_places=12)
    acceptance_high = models.DecimalField(max_digits=38, decimal_places=12)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference_material", "test"], name="uniq_reference_limit"
            ),
            models.CheckConstraint(
                condition=models.Q(acceptance_low__lte=models.F("acceptance_high")),
                name="reference_limit_range_ordered",
            ),
        ]
        triggers = no_delete("reference_limit")

    def __str__(self) -> str:
        return (
            f"{self.reference_material} {self.test.code}: "
            f"{self.acceptance_low} to {self.acceptance_high}"
        )
