"""QC reads (HackSoft style): querysets and lookups the API, UI and tasks share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, QuerySet, Subquery

from qc.evaluation import LineVerdict, LotVerdict
from qc.models import (
    AssayRun,
    Evaluation,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    Result,
    Specification,
    SpecificationStatus,
    TestMethod,
)
from qc.services.evaluation_inputs import lot_evaluate_now

if TYPE_CHECKING:
    from qc.evaluation import LotEvaluation

# ---------------------------------------------------------------------------
# Evaluations: the one way to read a lot's current evaluation and its lines
# ---------------------------------------------------------------------------


class Staleness(StrEnum):
    """Why a stored evaluation no longer stands for the lot (each a stable code)."""

    # The lot was rebound to another specification version after the evaluation.
    SPECIFICATION_REBOUND = "specification_rebound"
    # The lot's QC data changed after the evaluation (a newer one is on its way).
    DATA_CHANGED = "data_changed"
    # A fresh computation (recompute=True) gives another inputs digest.
    INPUTS_CHANGED = "inputs_changed"
    # recompute=True, but the lot could not be evaluated now (``recompute_error`` says why).
    NOT_RECOMPUTABLE = "not_recomputable"


@dataclass(frozen=True, slots=True)
class ShownLineValue:
    """A value as the line compared and showed it (``value``: the rounded number as text)."""

    label: str
    value: str | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationLine:
    """One stored line verdict, parsed once (``qc.evaluation.LineEvaluation`` as stored).

    ``extra`` keeps any stored key this class does not name (read-only).
    """

    line_id: str
    test_code: str
    criterion_type: str
    display_name: str
    required: bool
    verdict: LineVerdict
    reason: str
    used_result_ids: tuple[str, ...] = ()
    failing_result_ids: tuple[str, ...] = ()
    invalid_result_ids: tuple[str, ...] = ()
    shown_values: tuple[ShownLineValue, ...] = ()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def name(self) -> str:
        """What a person calls the line: its display name, else its test code."""
        return self.display_name or self.test_code

    @property
    def conforms(self) -> bool:
        """Within specification (an alert-limit excursion still conforms)."""
        return self.verdict.conforming

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> EvaluationLine:
        known = _LINE_KEYS
        return cls(
            line_id=str(data["line_id"]),
            test_code=str(data.get("test_code") or ""),
            criterion_type=str(data.get("criterion_type") or ""),
            display_name=str(data.get("display_name") or ""),
            required=bool(data.get("required", True)),
            verdict=LineVerdict(data["verdict"]),
            reason=str(data.get("reason") or ""),
            used_result_ids=tuple(str(i) for i in data.get("used_result_ids") or ()),
            failing_result_ids=tuple(str(i) for i in data.get("failing_result_ids") or ()),
            invalid_result_ids=tuple(str(i) for i in data.get("invalid_result_ids") or ()),
            shown_values=tuple(
                ShownLineValue(
                    label=str(shown.get("label") or ""),
                    value=None if shown.get("value") is None else str(shown["value"]),
                    text=str(shown.get("text") or ""),
                )
                for shown in data.get("shown_values") or ()
            ),
            notes=tuple(str(note) for note in data.get("notes") or ()),
            extra=MappingProxyType({k: v for k, v in data.items() if k not in known}),
        )


_LINE_KEYS = frozenset(
    {
        "line_id",
        "test_code",
        "criterion_type",
        "display_name",
        "required",
        "verdict",
        "reason",
        "used_result_ids",
        "failing_result_ids",
        "invalid_result_ids",
        "shown_values",
        "notes",
    }
)


def evaluation_lines(*, evaluation: Evaluation) -> tuple[EvaluationLine, ...]:
    """The typed lines of any stored evaluation (the current one, or a disposition's)."""
    return tuple(EvaluationLine.from_stored(line) for line in evaluation.lines or ())


def evaluation_staleness(*, evaluation: Evaluation, lot: Lot) -> tuple[Staleness, ...]:
    """Why ``evaluation`` no longer stands for ``lot`` as the lot is now (cheap checks only)."""
    found: list[Staleness] = []
    if evaluation.specification_id != lot.specification_id:
        found.append(Staleness.SPECIFICATION_REBOUND)
    if evaluation.data_version < lot.data_version:
        found.append(Staleness.DATA_CHANGED)
    return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentEvaluation:
    """A lot's newest evaluation, its typed lines, and why it may be stale."""

    evaluation: Evaluation
    lines: tuple[EvaluationLine, ...]
    staleness: tuple[Staleness, ...] = ()
    # With recompute=True: the outcome computed now (None if it could not be computed).
    fresh: LotEvaluation | None = None
    recompute_error: str = ""

    @property
    def stale(self) -> bool:
        return bool(self.staleness)

    @property
    def verdict(self) -> LotVerdict:
        return LotVerdict(self.evaluation.verdict)

    @property
    def required_lines(self) -> tuple[EvaluationLine, ...]:
        return tuple(line for line in self.lines if line.required)


def _current_of(evaluation: Evaluation, lot: Lot, *, recompute: bool) -> CurrentEvaluation:
    staleness = list(evaluation_staleness(evaluation=evaluation, lot=lot))
    fresh: LotEvaluation | None = None
    error = ""
    if recompute:
        try:
            fresh = lot_evaluate_now(lot=lot)
        except Exception as exc:  # a specification the engine refuses, say: not confirmed
            error = str(exc) or exc.__class__.__name__
            staleness.append(Staleness.NOT_RECOMPUTABLE)
        else:
            if fresh.inputs_digest != evaluation.inputs_digest:
                staleness.append(Staleness.INPUTS_CHANGED)
    return CurrentEvaluation(
        evaluation=evaluation,
        lines=evaluation_lines(evaluation=evaluation),
        staleness=tuple(staleness),
        fresh=fresh,
        recompute_error=error,
    )


def lot_current_evaluation(*, lot: Lot, recompute: bool = False) -> CurrentEvaluation | None:
    """The lot's current (newest) evaluation with its staleness; None before the first.

    The one place that finds it.  ``lot`` must carry its present ``data_version``
    and ``specification_id`` (a locked, re-read lot inside a deciding transaction).
    ``recompute=True`` also evaluates the lot now (costly: every input is loaded and
    the engine runs) and adds ``inputs_changed`` when the inputs digest differs, or
    ``not_recomputable`` when the lot cannot be evaluated now.
    """
    evaluation = (
        Evaluation.objects.filter(lot_id=lot.pk)
        .select_related("specification")
        .order_by("-pk")
        .first()
    )
    if evaluation is None:
        return None
    return _current_of(evaluation, lot, recompute=recompute)


def lot_evaluations(*, lot: Lot) -> QuerySet[Evaluation]:
    """Every evaluation of the lot, newest (the current one) first."""
    return (
        Evaluation.objects.filter(lot_id=lot.pk)
        .select_related("lot", "specification")
        .order_by("-pk")
    )


def lots_current_evaluations(*, lots: Iterable[Lot]) -> dict[int, CurrentEvaluation]:
    """The current evaluation of each lot (keyed by lot pk; lots never evaluated absent).

    One query for any number of lots; no recomputation.
    """
    by_pk = {lot.pk: lot for lot in lots}
    newest = (
        Evaluation.objects.filter(lot_id__in=by_pk)
        .select_related("specification")
        .order_by("lot_id", "-pk")
        .distinct("lot_id")
    )
    return {
        evaluation.lot_id: _current_of(evaluation, by_pk[evaluation.lot_id], recompute=False)
        for evaluation in newest
    }


def lots_with_current_verdict(*, lots: QuerySet[Lot]) -> QuerySet[Lot]:
    """``lots`` annotated with ``current_verdict`` and ``current_evaluation_id`` (or None)."""
    newest = Evaluation.objects.filter(lot=OuterRef("pk")).order_by("-pk")
    return lots.annotate(
        current_verdict=Subquery(newest.values("verdict")[:1]),
        current_evaluation_id=Subquery(newest.values("pk")[:1]),
    )


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


def lot_list() -> QuerySet[Lot]:
    return Lot.objects.select_related(
        "product", "specification", "created_by_client", "created_by_user"
    )


def lot_by_number(*, lot_number: str) -> Lot | None:
    return lot_list().filter(lot_number=lot_number).first()


def result_list() -> QuerySet[Result]:
    return Result.objects.select_related(
        "lot",
        "test",
        "run",
        "posted_by_client",
        "entered_by_user",
        "invalidation",
        "superseded_by",
    ).order_by("pk")


def assay_run_list() -> QuerySet[AssayRun]:
    return AssayRun.objects.select_related(
        "method", "instrument", "posted_by_client", "entered_by_user"
    ).prefetch_related("controls__reference_material", "controls__test")


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def test_method_list() -> QuerySet[TestMethod]:
    return TestMethod.objects.all()


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.all()


def reference_material_list() -> QuerySet[ReferenceMaterial]:
    return ReferenceMaterial.objects.prefetch_related("limits__test")


def specification_list() -> QuerySet[Specification]:
    return Specification.objects.select_related(
        "product", "based_on", "approved_by", "created_by", "approval_signature"
    ).prefetch_related("lines__test")


def specification_effective(*, product: Product) -> Specification | None:
    return (
        specification_list().filter(product=product, status=SpecificationStatus.EFFECTIVE).first()
    )
