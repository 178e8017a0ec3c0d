"""QC reads (HackSoft style): querysets and lookups the API, UI and tasks share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, QuerySet, Subquery

from qc.evaluation import LineVerdict, LotVerdict
from qc.evaluation.control import (
    ControlLimits,
    Rule,
    Violation,
    moving_range_violations,
    moving_ranges,
    rule_violations,
)
from qc.evaluation.describe import describe_criterion
from qc.evaluation.suitability import control_problems, run_problem
from qc.evaluation.types import ControlInput
from qc.models import (
    AssayRun,
    ControlBaseline,
    Evaluation,
    Instrument,
    Lot,
    Product,
    ReferenceMaterial,
    ReferenceMaterialStatus,
    Result,
    ResultKind,
    RunControl,
    Specification,
    SpecificationLine,
    SpecificationStatus,
    TestMethod,
)
from qc.services.evaluation_inputs import lot_evaluate_now, run_inputs
from services.errors import NotFound

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


@dataclass(frozen=True, slots=True)
class ControlCheck:
    """One reference-material control of a run against the range recorded with the run."""

    control: ControlInput
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class RunSummary:
    """An assay run of a lot as the engine judges its system suitability."""

    pk: int
    external_run_id: str
    method_code: str
    method_name: str
    instrument: str
    analyst: str
    started_at: datetime
    controls: tuple[ControlCheck, ...]
    problem: str | None  # why the run is not suitable (None: suitable)
    result_ids: tuple[int, ...]  # the lot's results measured in the run

    @property
    def suitable(self) -> bool:
        return self.problem is None


def lot_runs(*, lot: Lot) -> list[RunSummary]:
    """The assay runs behind the lot's results, oldest first, each with its controls and
    the engine's suitability verdict (``qc.evaluation.suitability``): a run that fails
    makes every result measured in it invalid (FDA OOS guidance). Five queries."""
    by_run: dict[int, list[int]] = {}
    for pk, run_id in Result.objects.filter(lot=lot, run__isnull=False).values_list("pk", "run_id"):
        by_run.setdefault(run_id, []).append(pk)
    inputs = run_inputs(set(by_run))
    runs = AssayRun.objects.filter(pk__in=by_run).select_related("method", "instrument")
    summaries = []
    for run in runs.order_by("started_at", "pk"):
        engine_run = inputs[run.pk]
        summaries.append(
            RunSummary(
                pk=run.pk,
                external_run_id=run.external_run_id,
                method_code=run.method.code,
                method_name=run.method.name,
                instrument=run.instrument.code if run.instrument else "",
                analyst=run.analyst,
                started_at=run.started_at,
                controls=tuple(
                    ControlCheck(
                        control,
                        tuple(control_problems(replace(engine_run, controls=(control,)))),
                    )
                    for control in engine_run.controls
                ),
                problem=run_problem(engine_run),
                result_ids=tuple(sorted(by_run[run.pk])),
            )
        )
    return summaries


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


def specification_line_words(line: SpecificationLine) -> str:
    """A line's acceptance criterion in words ("≤ 0.10 EU/mL (alert: ≤ 0.06 EU/mL)"): the
    one phrasing the specification pages, their comparison and the certificate share."""
    return describe_criterion(
        line.criterion_type,
        line.params,
        line.test.canonical_unit,
        line.alert_params,
        decimals=line.decimals,
    )


def specification_versions(*, product: Product) -> QuerySet[Specification]:
    """Every version of the product's specification, newest first, with line counts."""
    return (
        Specification.objects.filter(product=product)
        .select_related("product", "based_on", "approved_by", "created_by")
        .annotate(line_count=Count("lines"))
        .order_by("-version")
    )


def specification_version(*, product_code: str, version: int) -> Specification:
    spec = specification_list().filter(product__code=product_code, version=version).first()
    if spec is None:
        raise NotFound(
            f"{product_code} has no specification version {version}",
            code="specification_not_found",
            field="version",
        )
    return spec


class LineDifference(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    SAME = "same"


# What a line says, field by field, as the comparison names a change.
_COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "criterion": ("criterion_type", "params", "decimals"),
    "alert": ("alert_params",),
    "required": ("required",),
}


@dataclass(frozen=True, slots=True)
class LineComparison:
    """One line of either version, matched by its test; ``changed`` names what differs."""

    difference: LineDifference
    test_code: str
    old: SpecificationLine | None
    new: SpecificationLine | None
    old_words: str
    new_words: str
    changed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SpecificationComparison:
    old: Specification
    new: Specification
    lines: tuple[LineComparison, ...]

    def count(self, difference: LineDifference) -> int:
        return sum(1 for line in self.lines if line.difference == difference)

    @property
    def added(self) -> int:
        return self.count(LineDifference.ADDED)

    @property
    def removed(self) -> int:
        return self.count(LineDifference.REMOVED)

    @property
    def changed(self) -> int:
        return self.count(LineDifference.CHANGED)


def _by_test(spec: Specification) -> dict[tuple[str, int], SpecificationLine]:
    """Lines keyed by (test, its n-th line of that test): positions may move between
    versions, the test a line judges is what makes it "the same line"."""
    keyed: dict[tuple[str, int], SpecificationLine] = {}
    seen: dict[str, int] = {}
    for line in sorted(spec.lines.all(), key=lambda line: line.position):
        n = seen[line.test.code] = seen.get(line.test.code, 0) + 1
        keyed[(line.test.code, n)] = line
    return keyed


def _same_value(value: Any) -> Any:
    """Parameters as the engine reads them: 50, 50.0 and "50" are one limit."""
    if isinstance(value, Mapping):
        return {key: _same_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_same_value(item) for item in value]
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return Decimal(str(value)).normalize()
        except ArithmeticError:
            return value
    return value


def _changed_fields(old: SpecificationLine, new: SpecificationLine) -> frozenset[str]:
    return frozenset(
        label
        for label, names in _COMPARED_FIELDS.items()
        if any(_same_value(getattr(old, name)) != _same_value(getattr(new, name)) for name in names)
    )


def specification_compare(*, old: Specification, new: Specification) -> SpecificationComparison:
    """Line by line, what ``new`` adds, removes and changes against ``old`` (in ``new``'s
    order; removed lines where they stood in ``old``)."""
    before, after = _by_test(old), _by_test(new)
    rows: list[tuple[tuple[int, int], LineComparison]] = []
    for key, line in after.items():
        previous = before.get(key)
        changed = _changed_fields(previous, line) if previous is not None else frozenset()
        if previous is None:
            difference = LineDifference.ADDED
        else:
            difference = LineDifference.CHANGED if changed else LineDifference.SAME
        rows.append(
            (
                (line.position, 0),
                LineComparison(
                    difference,
                    key[0],
                    previous,
                    line,
                    specification_line_words(previous) if previous is not None else "",
                    specification_line_words(line),
                    changed,
                ),
            )
        )
    for key, line in before.items():
        if key not in after:
            removed = LineComparison(
                LineDifference.REMOVED, key[0], line, None, specification_line_words(line), ""
            )
            rows.append(((line.position, 1), removed))
    rows.sort(key=lambda row: row[0])
    return SpecificationComparison(old, new, tuple(row for _, row in rows))


# ---------------------------------------------------------------------------
# Reference materials: certified ranges, expiry, and the runs that used each one
# ---------------------------------------------------------------------------


def reference_material_get(*, material_id: int) -> ReferenceMaterial:
    material = reference_material_list().filter(pk=material_id).first()
    if material is None:
        raise NotFound(
            f"reference material {material_id} does not exist",
            code="reference_material_not_found",
            field="reference_material",
        )
    return material


def reference_material_controls(*, material: ReferenceMaterial) -> QuerySet[RunControl]:
    """Every control measured on ``material``, newest run first, with the range recorded
    in the run (the range in force then, not today's)."""
    return (
        RunControl.objects.filter(reference_material=material)
        .select_related("run__method", "run__instrument", "test")
        .order_by("-run__started_at", "run_id", "test__code")
    )


@dataclass(frozen=True, slots=True)
class ExpiringMaterial:
    material: ReferenceMaterial
    days_left: int  # negative: expired that many days ago

    @property
    def expired(self) -> bool:
        return self.days_left < 0

    @property
    def days_ago(self) -> int:
        return -self.days_left


def reference_materials_expiring(*, within_days: int, today: date) -> list[ExpiringMaterial]:
    """Materials still in use (released or quarantined) that expire within ``within_days``
    of ``today`` or have expired: a run controlled by an expired material is not suitable."""
    materials = ReferenceMaterial.objects.filter(
        status__in=[ReferenceMaterialStatus.RELEASED, ReferenceMaterialStatus.QUARANTINED],
        expires_on__lte=today + timedelta(days=within_days),
    ).order_by("expires_on", "code", "lot")
    return [ExpiringMaterial(m, (m.expires_on - today).days) for m in materials]


# ---------------------------------------------------------------------------
# Trends (continued process verification): a product's lots for one test, the
# signed control limits, and the Nelson rules judged against them
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One lot's reportable value of a test, as its current evaluation judged it."""

    lot_number: str
    manufactured_on: date
    value: Decimal
    text: str
    verdict: LineVerdict
    line_name: str
    result_id: int | None  # the newest result the line used (a notice cites it)


_NOT_JUDGED = (LineVerdict.INVALID, LineVerdict.MISSING)


def _points_of(
    rows: Iterable[tuple[str, date, list[dict[str, Any]] | None]], test_codes: set[str]
) -> dict[str, list[TrendPoint]]:
    """Each test's points among evaluation ``rows`` (lot number, manufactured, lines),
    in manufacture order; a line with invalid or missing data is not a point."""
    found: dict[str, list[TrendPoint]] = {}
    for lot_number, manufactured_on, lines in rows:
        seen: set[str] = set()
        for stored in lines or ():
            code = stored.get("test_code")
            if code not in test_codes or code in seen:
                continue
            line = EvaluationLine.from_stored(stored)
            shown = _reportable(line)
            if line.verdict in _NOT_JUDGED or shown is None:
                continue
            seen.add(code)
            used = [int(i) for i in line.used_result_ids]
            found.setdefault(code, []).append(
                TrendPoint(
                    lot_number=lot_number,
                    manufactured_on=manufactured_on,
                    value=Decimal(str(shown.value)),
                    text=shown.text,
                    verdict=line.verdict,
                    line_name=line.name,
                    result_id=max(used) if used else None,
                )
            )
    for points in found.values():
        points.sort(key=lambda p: (p.manufactured_on, p.lot_number))
    return found


def trend_points(*, product: Product, test: TestMethod) -> list[TrendPoint]:
    """Every lot of ``product`` whose current evaluation judged a number for ``test``,
    in manufacture order (lots with invalid or missing data are not points).

    One query: each lot's newest evaluation (PostgreSQL ``DISTINCT ON``).
    """
    rows = (
        Evaluation.objects.filter(lot__product=product)
        .order_by("lot_id", "-id")
        .distinct("lot_id")
        .values_list("lot__lot_number", "lot__manufactured_on", "lines")
    )
    return _points_of(rows, {test.code}).get(test.code, [])


def recent_trend_points(
    *, lot: Lot, test_codes: Iterable[str], lots: int = 12
) -> dict[str, list[TrendPoint]]:
    """The points of each test over the ``lots`` most recent lots of the lot's product
    manufactured up to it (the lot included), for its sparklines.

    One query whatever the number of tests and of the product's lots: the newest
    evaluation of each of those lots (``DISTINCT ON`` over a limited subquery).
    """
    recent = (
        Lot.objects.filter(product_id=lot.product_id, manufactured_on__lte=lot.manufactured_on)
        .order_by("-manufactured_on", "-lot_number")
        .values("pk")[:lots]
    )
    rows = (
        Evaluation.objects.filter(lot_id__in=Subquery(recent))
        .order_by("lot_id", "-id")
        .distinct("lot_id")
        .values_list("lot__lot_number", "lot__manufactured_on", "lines")
    )
    return _points_of(rows, set(test_codes))


def _reportable(line: EvaluationLine) -> ShownLineValue | None:
    """The value a lot reports for the line: the mean where the line reports one
    (replicates), else its single value, else the mean of the values it judged."""
    numeric = [s for s in line.shown_values if s.value is not None]
    mean = next((s for s in numeric if s.label.startswith("mean")), None)
    if mean is not None or len(numeric) <= 1:
        return mean or (numeric[0] if numeric else None)
    average = sum((Decimal(str(s.value)) for s in numeric), Decimal(0)) / len(numeric)
    return ShownLineValue("mean", str(average), f"mean of {len(numeric)}: {average:.4g}")


def control_baseline_current(*, product: Product, test: TestMethod) -> ControlBaseline | None:
    """The signed baseline no later one supersedes (the limits the chart is judged by)."""
    return (
        ControlBaseline.objects.filter(product=product, test=test, superseded_by__isnull=True)
        .select_related("signature", "created_by", "product", "test")
        .first()
    )


def control_baselines_current(*, product: Product) -> list[ControlBaseline]:
    return list(
        ControlBaseline.objects.filter(product=product, superseded_by__isnull=True).select_related(
            "product", "test"
        )
    )


def baseline_limits(baseline: ControlBaseline) -> ControlLimits:
    """The limits exactly as signed (read from the baseline, never recomputed)."""
    return ControlLimits(
        centre=baseline.centre,
        sigma=baseline.sigma,
        mr_bar=baseline.mr_bar,
        n=len(baseline.lot_numbers),
    )


@dataclass(frozen=True, slots=True)
class ChartPoint:
    index: int
    point: TrendPoint
    moving_range: Decimal | None
    in_baseline: bool
    rules: tuple[Rule, ...]
    beyond_mr_ucl: bool

    @property
    def lot_number(self) -> str:
        return self.point.lot_number

    @property
    def value(self) -> Decimal:
        return self.point.value


@dataclass(frozen=True, slots=True)
class SpecBand:
    """The specification's release and alert limits of the test (either may be open)."""

    low: Decimal | None = None
    high: Decimal | None = None
    alert_low: Decimal | None = None
    alert_high: Decimal | None = None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ControlChart:
    product: Product
    test: TestMethod
    points: tuple[ChartPoint, ...]
    baseline: ControlBaseline | None
    violations: tuple[Violation, ...]
    spec: SpecBand

    @property
    def unit(self) -> str:
        return self.baseline.unit if self.baseline is not None else self.test.canonical_unit

    def point_of(self, lot_number: str) -> ChartPoint | None:
        return next((p for p in self.points if p.lot_number == lot_number), None)


def control_chart(*, product: Product, test: TestMethod) -> ControlChart:
    """The I-MR chart of ``test`` across the product's lots, judged by the signed limits.

    Without a signed baseline the points are shown and nothing is judged: limits
    computed on the fly would move with every lot (FDA PV guidance 2011, stage 3).
    """
    points = trend_points(product=product, test=test)
    baseline = control_baseline_current(product=product, test=test)
    values = [p.value for p in points]
    violations: tuple[Violation, ...] = ()
    beyond: tuple[int, ...] = ()
    if baseline is not None:
        limits = baseline_limits(baseline)
        violations = rule_violations(values, limits)
        beyond = moving_range_violations(values, limits)
    in_baseline = set(baseline.lot_numbers) if baseline is not None else set()
    ranges = (None, *moving_ranges(values))
    chart_points = tuple(
        ChartPoint(
            index=i,
            point=point,
            moving_range=ranges[i],
            in_baseline=point.lot_number in in_baseline,
            rules=tuple(sorted({v.rule for v in violations if v.index == i})),
            beyond_mr_ucl=i in beyond,
        )
        for i, point in enumerate(points)
    )
    return ControlChart(
        product=product,
        test=test,
        points=chart_points,
        baseline=baseline,
        violations=violations,
        spec=_spec_band(product=product, test=test),
    )


def product_and_test(*, product_code: str, test_code: str) -> tuple[Product, TestMethod]:
    """A product and a test method by their codes; an unknown code is a 404 naming it."""
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        raise NotFound(
            f"product {product_code} does not exist", code="product_not_found", field="product"
        )
    test = TestMethod.objects.filter(code=test_code).first()
    if test is None:
        raise NotFound(f"test method {test_code} does not exist", code="unknown_test", field="test")
    return product, test


def control_chart_of(*, product_code: str, test_code: str) -> ControlChart:
    """:func:`control_chart` by codes (API paths)."""
    product, test = product_and_test(product_code=product_code, test_code=test_code)
    return control_chart(product=product, test=test)


def _decimal_or_none(params: Mapping[str, Any] | None, key: str) -> Decimal | None:
    if not params or params.get(key) in (None, ""):
        return None
    try:
        return Decimal(str(params[key]))
    except ArithmeticError:
        return None


def _spec_band(*, product: Product, test: TestMethod) -> SpecBand:
    spec = specification_effective(product=product)
    line = spec.lines.filter(test=test).first() if spec is not None else None
    if spec is None or line is None:
        return SpecBand()
    return SpecBand(
        low=_decimal_or_none(line.params, "min"),
        high=_decimal_or_none(line.params, "max"),
        alert_low=_decimal_or_none(line.alert_params, "min"),
        alert_high=_decimal_or_none(line.alert_params, "max"),
        version=spec.version,
    )


@dataclass(frozen=True, slots=True)
class TrendEntry:
    product: Product
    test: TestMethod
    baseline: ControlBaseline | None


def trend_catalogue() -> list[TrendEntry]:
    """Products x numeric tests that have a signed baseline or a line in a specification."""
    baselines = {
        (b.product_id, b.test_id): b
        for b in ControlBaseline.objects.filter(superseded_by__isnull=True)
    }
    pairs = set(baselines) | set(
        SpecificationLine.objects.filter(test__result_kind=ResultKind.NUMERIC)
        .values_list("specification__product_id", "test_id")
        .distinct()
    )
    products = Product.objects.in_bulk({p for p, _ in pairs})
    tests = TestMethod.objects.in_bulk({t for _, t in pairs})
    entries = [TrendEntry(products[p], tests[t], baselines.get((p, t))) for p, t in pairs]
    return sorted(entries, key=lambda e: (e.product.code, e.test.code))
