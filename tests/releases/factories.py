"""A small EV product world for the release tests, built with the ORM.

Three required lines (particle concentration, endotoxin, 14-day sterility),
an approved specification, lots and results; ``ReleaseWorld`` walks a lot
through evaluation, reviews and decisions with the real services.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.utils import timezone

from qc.models import (
    Evaluation,
    Lot,
    Product,
    Result,
    Specification,
    SpecificationLine,
    TestMethod,
)
from qc.services.evaluation import lot_evaluate
from services.accounts.context import AuthContext
from tests.factories import PASSWORD

CONFORMING = {"NTA-CONC": "1.0E+11", "LAL": "0.10", "STERILITY": "no growth"}
_lot_numbers = itertools.count(1)


def method(code: str, **fields: Any) -> TestMethod:
    return TestMethod.objects.get_or_create(code=code, defaults={"name": code, **fields})[0]


@dataclass
class ReleaseWorld:
    product: Product
    spec: Specification
    conc: TestMethod
    endotoxin: TestMethod
    sterility: TestMethod

    def lot(self, lot_number: str | None = None, **fields: Any) -> Lot:
        return Lot.objects.create(
            lot_number=lot_number or f"EVL-{next(_lot_numbers):04d}",
            product=self.product,
            specification=self.spec,
            manufactured_on=dt.date.today() - dt.timedelta(days=2),
            **fields,
        )

    def test(self, code: str) -> TestMethod:
        return {"NTA-CONC": self.conc, "LAL": self.endotoxin, "STERILITY": self.sterility}[code]

    def result(
        self, lot: Lot, code: str, value: str, *, performed_by: str = "analyst", **fields: Any
    ) -> Result:
        """One result row as ingestion stores it (no data_version bump: see ``evaluate``)."""
        test = self.test(code)
        values: dict[str, Any] = {
            "lot": lot,
            "test": test,
            "value_as_posted": value,
            "unit_as_posted": test.canonical_unit,
            "performed_by": performed_by,
            "performed_at": timezone.now() - dt.timedelta(hours=1),
            "received_at": timezone.now(),
        }
        if test.result_kind == "numeric":
            number = Decimal(value)
            values.update(
                numeric_value=number, canonical_value=number, canonical_unit=test.canonical_unit
            )
        else:
            values["text_value"] = value
        values.update(fields)
        return Result.objects.create(**values)

    def results(
        self,
        lot: Lot,
        *,
        skip: tuple[str, ...] = (),
        performed_by: str = "analyst",
        **values: str,
    ) -> list[Result]:
        wanted = {**CONFORMING, **{k.replace("_", "-"): v for k, v in values.items()}}
        return [
            self.result(lot, code, value, performed_by=performed_by)
            for code, value in wanted.items()
            if code not in skip
        ]

    def evaluate(self, lot: Lot) -> Evaluation | None:
        """What ingestion does after storing results: bump the data version, evaluate."""
        Lot.objects.filter(pk=lot.pk).update(data_version=F("data_version") + 1)
        evaluation = lot_evaluate(lot_id=lot.pk)
        lot.refresh_from_db()
        return evaluation

    def ready_lot(self, **results: str) -> Lot:
        """A lot with conforming results, evaluated: ready for review."""
        lot = self.lot()
        self.results(lot, **results)
        self.evaluate(lot)
        return lot

    def reviewed(self, lot: Lot, reviewer: Any, qa: Any) -> Lot:
        from releases.services.reviews import (
            lot_record_audit_trail_review,
            lot_record_result_review,
        )

        lot_record_result_review(
            lot_number=lot.lot_number,
            auth=AuthContext.of(reviewer),
            password=PASSWORD,
            comment="raw data, calculations and instrument records checked",
        )
        lot_record_audit_trail_review(
            lot_number=lot.lot_number,
            auth=AuthContext.of(qa),
            password=PASSWORD,
            comment="audit trail reviewed: no unexplained changes",
        )
        return lot

    def approved(self, lot: Lot, qa: Any) -> Lot:
        from releases.services.decisions import lot_approve

        lot_approve(
            lot_number=lot.lot_number,
            auth=AuthContext.of(qa),
            password=PASSWORD,
            reason="batch record and QC results reviewed",
        )
        lot.refresh_from_db()
        return lot


def release_world(
    *, requires_qp: bool = True, conditional: bool = False, approved_spec: bool = True
) -> ReleaseWorld:
    product = Product.objects.create(
        code=f"EVX-{next(_lot_numbers):03d}",
        name="MSC-derived EVs for inhalation",
        requires_qp_certification=requires_qp,
        conditional_release_allowed=conditional,
        shelf_life_days=10,
    )
    conc = method(
        "NTA-CONC",
        attribute_class="quantity",
        technique="NTA",
        result_kind="numeric",
        canonical_unit="particles/mL",
    )
    endotoxin = method(
        "LAL",
        attribute_class="safety",
        technique="LAL",
        result_kind="numeric",
        canonical_unit="EU/mL",
        retest_budget=1,
    )
    sterility = method(
        "STERILITY",
        name="Sterility (USP <71>, 14 days)",
        attribute_class="safety",
        technique="USP<71>",
        result_kind="qualitative",
        allowed_values=["no growth", "growth"],
    )
    spec = Specification.objects.create(product=product, version=1, title="release")
    lines: list[tuple[str, TestMethod, str, dict[str, Any], int | None]] = [
        ("Particle concentration", conc, "numeric_range", {"min": "8E+10", "max": "1.2E+11"}, None),
        ("Bacterial endotoxins", endotoxin, "numeric_range", {"max": "0.50"}, 2),
        ("Sterility", sterility, "qualitative", {"allowed": ["no growth"]}, None),
    ]
    for position, (name, test, criterion, params, decimals) in enumerate(lines, start=1):
        SpecificationLine.objects.create(
            specification=spec,
            position=position,
            name=name,
            test=test,
            criterion_type=criterion,
            params=params,
            decimals=decimals,
        )
    spec.status = "effective"
    if approved_spec:
        spec.approved_at = timezone.now()
    spec.save(update_fields=["status", "approved_at"])
    return ReleaseWorld(product, spec, conc, endotoxin, sterility)
