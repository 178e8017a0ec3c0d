"""Signed control-chart baselines (continued process verification).

FDA "Process Validation: General Principles and Practices" (2011), stage 3: lot data
are trended with statistical tools.  The limits of a product's control chart for a
test are computed once, from lots QA chose, frozen here with QA's signature, and
never recomputed: a chart whose limits follow each new lot would absorb the drift
it is there to show.  A new baseline is a new row that supersedes the previous one;
nothing is ever updated or deleted (PostgreSQL refuses it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from qc.models.results import _DECIMAL
from services.audit.triggers import append_only


class ControlBaseline(models.Model):
    product = models.ForeignKey(
        "qc.Product", on_delete=models.PROTECT, related_name="control_baselines"
    )
    test = models.ForeignKey("qc.TestMethod", on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(max_length=40, blank=True)  # the test's canonical unit at signing
    # The chosen lots in chart order, and their reportable values at signing (text).
    lot_numbers = models.JSONField()
    values = models.JSONField()
    centre = models.DecimalField(**_DECIMAL)
    sigma = models.DecimalField(**_DECIMAL)
    mr_bar = models.DecimalField(**_DECIMAL)
    ucl = models.DecimalField(**_DECIMAL)
    lcl = models.DecimalField(**_DECIMAL)
    mr_ucl = models.DecimalField(**_DECIMAL)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signature = models.ForeignKey("esign.Signature", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One first baseline per product and test; every later one supersedes
            # exactly one (the one-to-one above), so the baselines form one chain.
            models.UniqueConstraint(
                fields=["product", "test"],
                condition=models.Q(supersedes__isnull=True),
                name="uniq_control_baseline_first",
            ),
        ]
        triggers = append_only("control_baseline")

    def __str__(self) -> str:
        return f"{self.product_id}/{self.test_id} baseline #{self.pk}"

    def signature_content(self) -> dict[str, Any]:
        """What QA attests to (21 CFR 11.70): the lots, their values and the limits."""
        return {
            "product": self.product.code,
            "test": self.test.code,
            "unit": self.unit,
            "lots": list(self.lot_numbers),
            "values": list(self.values),
            "centre": str(self.centre),
            "sigma": str(self.sigma),
            "mr_bar": str(self.mr_bar),
            "ucl": str(self.ucl),
            "lcl": str(self.lcl),
            "mr_ucl": str(self.mr_ucl),
            "supersedes": self.supersedes_id,
        }
