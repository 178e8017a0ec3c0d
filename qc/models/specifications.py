"""Versioned release specifications.

A version is a draft until QA approves it with an electronic signature; then it
is effective and frozen (PostgreSQL refuses changes to its lines), and a new
draft version carries any edit.  Lots are bound to the version effective when
they were created (SENAITE's lesson: later edits never change old verdicts).
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models

from services.audit.triggers import no_delete


class SpecificationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    EFFECTIVE = "effective", "Effective"
    SUPERSEDED = "superseded", "Superseded"
    WITHDRAWN = "withdrawn", "Withdrawn"


_LINES_FROZEN_SQL = """
    IF (SELECT status FROM qc_specification
        WHERE id = COALESCE(NEW.specification_id, OLD.specification_id)) <> 'draft' THEN
        RAISE EXCEPTION 'pgtrigger: specification lines are frozen once the version is approved';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
"""


class Specification(models.Model):
    product = models.ForeignKey(
        "qc.Product", on_delete=models.PROTECT, related_name="specifications"
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=SpecificationStatus.choices, default=SpecificationStatus.DRAFT
    )
    title = models.CharField(max_length=200, blank=True)
    change_reason = models.TextField(blank=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="revisions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval_signature = models.ForeignKey(
        "esign.Signature", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["product", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="uniq_spec_version"),
            models.UniqueConstraint(
                fields=["product"],
                condition=models.Q(status="effective"),
                name="one_effective_spec_per_product",
            ),
        ]
        triggers = [
            *no_delete("specification"),
            # 21 CFR 11.10(f): enforced sequencing of steps.
            pgtrigger.FSM(
                name="specification_status_fsm",
                field="status",
                transitions=[
                    ("draft", "effective"),
                    ("effective", "superseded"),
                    ("draft", "withdrawn"),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} specification v{self.version} ({self.status})"

    def signature_content(self) -> dict[str, object]:
        """The exact specification a QA officer approves (21 CFR 11.70)."""
        return {
            "product": self.product.code,
            "version": self.version,
            "lines": [line.signature_content() for line in self.lines.order_by("position")],
        }


class SpecificationLine(models.Model):
    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    # The test judged; multi-test criteria (marker panel, ratio) name theirs in params.
    test = models.ForeignKey("qc.TestMethod", on_delete=models.PROTECT, related_name="+")
    criterion_type = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    alert_params = models.JSONField(null=True, blank=True)
    decimals = models.SmallIntegerField(null=True, blank=True)
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["specification", "position"]
        constraints = [
            models.UniqueConstraint(fields=["specification", "position"], name="uniq_spec_line"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="spec_lines_frozen",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func=_LINES_FROZEN_SQL,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def signature_content(self) -> dict[str, object]:
        return {
            "position": self.position,
            "name": self.name,
            "test": self.test.code,
            "criterion_type": self.criterion_type,
            "params": self.params,
            "alert_params": self.alert_params,
            "decimals": self.decimals,
            "required": self.required,
        }
