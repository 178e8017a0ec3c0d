"""Factories of QC records and a small EV product world for the QC tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import factory

from qc.models import (
    AssayRun,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    Specification,
    SpecificationLine,
    TestMethod,
)

PROCESS_FIELDS = {
    "isolation_method": {
        "type": "choice",
        "choices": ["SEC", "TFF + SEC", "PEG precipitation"],
        "required": True,
    },
    "culture_supplement": {"type": "choice", "choices": ["FCS-free", "EV-depleted FCS"]},
    "harvest_volume_ml": {"type": "number"},
    "passage": {"type": "integer"},
    "sterile_filtered": {"type": "boolean"},
    "harvested_on": {"type": "date"},
    "note": {"type": "text"},
}


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"EV-{n:03d}")
    name = factory.LazyAttribute(lambda p: f"MSC-EV product {p.code}")
    process_fields = factory.LazyFunction(lambda: dict(PROCESS_FIELDS))
    shelf_life_days = 180


class TestMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TestMethod
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"TM-{n:03d}")
    name = factory.LazyAttribute(lambda t: f"Test {t.code}")
    attribute_class = "quantity"
    technique = "NTA"
    result_kind = "numeric"
    canonical_unit = "particles/mL"


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"INS-{n:03d}")
    name = "NanoSight NS300"
    technique = "NTA"


class ReferenceMaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferenceMaterial
        django_get_or_create = ("code", "lot")

    code = "BEAD-100"
    lot = factory.Sequence(lambda n: f"RM{n:04d}")
    name = "NIST-traceable polystyrene 100 nm"
    kind = "size standard"
    status = "released"
    expires_on = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=365))


def effective_specification(
    product: Product, lines: list[dict[str, Any]], *, version: int = 1
) -> Specification:
    """A specification made effective directly in the database (no signature): for setups."""
    spec = Specification.objects.create(product=product, version=version, title="release")
    for position, line in enumerate(lines, start=1):
        SpecificationLine.objects.create(specification=spec, position=position, **line)
    spec.status = "effective"
    spec.save(update_fields=["status"])
    return spec


@dataclass
class QcWorld:
    """One EV product with the tests, instrument, bead and effective spec of DOMAIN §2."""

    product: Product
    spec: Specification
    conc: TestMethod  # NTA particle concentration, particles/mL
    size: TestMethod  # NTA modal size, nm
    endotoxin: TestMethod  # LAL, EU/mL
    mycoplasma: TestMethod  # detection
    sterility: TestMethod  # qualitative
    bias: TestMethod  # a numeric test that allows negative values (%)
    instrument: Instrument
    bead: ReferenceMaterial

    def lot(self, lot_number: str = "LOT-001", **kwargs: Any) -> Lot:
        values: dict[str, Any] = {
            "product": self.product,
            "specification": self.spec,
            "manufactured_on": dt.date.today() - dt.timedelta(days=3),
            "process": {"isolation_method": "SEC"},
        }
        values.update(kwargs)
        return Lot.objects.create(lot_number=lot_number, **values)

    def run(self, external_run_id: str = "RUN-1", method: TestMethod | None = None) -> AssayRun:
        from django.utils import timezone

        return AssayRun.objects.create(
            external_run_id=external_run_id,
            method=method or self.size,
            instrument=self.instrument,
            started_at=timezone.now() - dt.timedelta(hours=1),
        )


def qc_world() -> QcWorld:
    product = ProductFactory(code="EV-MSC-01", name="MSC-derived EVs, 1e11 particles/dose")
    conc = TestMethodFactory(code="NTA-CONC", name="Particle concentration (NTA)")
    size = TestMethodFactory(
        code="NTA-SIZE",
        name="Modal size (NTA)",
        attribute_class="identity",
        canonical_unit="nm",
    )
    endotoxin = TestMethodFactory(
        code="LAL",
        name="Bacterial endotoxins",
        attribute_class="safety",
        technique="LAL",
        canonical_unit="EU/mL",
    )
    mycoplasma = TestMethodFactory(
        code="MYCO",
        name="Mycoplasma (qPCR)",
        attribute_class="safety",
        technique="qPCR",
        result_kind="detection",
        canonical_unit="",
    )
    sterility = TestMethodFactory(
        code="STERILITY",
        name="Sterility (USP <71>)",
        attribute_class="safety",
        technique="USP<71>",
        result_kind="qualitative",
        canonical_unit="",
        allowed_values=["no growth", "growth"],
    )
    bias = TestMethodFactory(
        code="SPIKE-BIAS",
        name="Spike recovery bias",
        attribute_class="quantity",
        technique="NTA",
        canonical_unit="%",
        allows_negative=True,
    )
    instrument = InstrumentFactory(code="NTA-01")
    bead = ReferenceMaterialFactory(code="BEAD-100", lot="NIST-2024")
    ReferenceMaterialLimit.objects.get_or_create(
        reference_material=bead,
        test=size,
        defaults={
            "certified_value": Decimal("100"),
            "acceptance_low": Decimal("90"),
            "acceptance_high": Decimal("110"),
        },
    )
    spec = Specification.objects.filter(product=product, status="effective").first()
    if spec is None:
        spec = effective_specification(
            product,
            [
                {
                    "name": "Particle concentration",
                    "test": conc,
                    "criterion_type": "numeric_range",
                    "params": {"min": "8E+10", "max": "1.2E+11"},
                },
                {
                    "name": "Endotoxin",
                    "test": endotoxin,
                    "criterion_type": "numeric_range",
                    "params": {"max": "0.5"},
                    "decimals": 2,
                },
                {
                    "name": "Sterility",
                    "test": sterility,
                    "criterion_type": "qualitative",
                    "params": {"allowed": ["no growth"]},
                },
            ],
        )
    return QcWorld(
        product=product,
        spec=spec,
        conc=conc,
        size=size,
        endotoxin=endotoxin,
        mycoplasma=mycoplasma,
        sterility=sterility,
        bias=bias,
        instrument=instrument,
        bead=bead,
    )
