"""QC records: master data, specifications, lots, assay runs, results, evaluations."""

from qc.models.evaluations import Evaluation
from qc.models.lots import Lot, LotStatus
from qc.models.master import (
    AttributeClass,
    Instrument,
    Product,
    ReferenceMaterial,
    ReferenceMaterialLimit,
    ReferenceMaterialStatus,
    ResultKind,
    TestMethod,
)
from qc.models.results import AssayRun, Result, RunControl
from qc.models.specifications import Specification, SpecificationLine, SpecificationStatus
from qc.models.trends import ControlBaseline

__all__ = [
    "AssayRun",
    "AttributeClass",
    "ControlBaseline",
    "Evaluation",
    "Instrument",
    "Lot",
    "LotStatus",
    "Product",
    "ReferenceMaterial",
    "ReferenceMaterialLimit",
    "ReferenceMaterialStatus",
    "Result",
    "ResultKind",
    "RunControl",
    "Specification",
    "SpecificationLine",
    "SpecificationStatus",
    "TestMethod",
]
