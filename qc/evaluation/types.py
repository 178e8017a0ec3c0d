"""Plain inputs and outputs of the evaluation engine.

The Celery side builds the inputs from ORM rows; nothing here knows about Django.
Every value is in the test's canonical unit (``qc.units.to_canonical`` ran at
ingestion) and exact (:class:`~decimal.Decimal`, never float). Inputs check their own
shape on construction so that a caller's bug fails loudly instead of producing a
verdict from bad data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from qc.evaluation.bioassay.report import PotencyReport

Qualifier = Literal["<", ">"]


class LineVerdict(StrEnum):
    """The verdict on one specification line (stored and sent as its value)."""

    CONFORMS = "conforms"
    CONFORMS_WITH_ALERT = "conforms_with_alert"
    DOES_NOT_CONFORM = "does_not_conform"
    INVALID = "invalid"
    MISSING = "missing"

    @property
    def conforming(self) -> bool:
        """Within specification (an alert-limit excursion still conforms)."""
        return self in (LineVerdict.CONFORMS, LineVerdict.CONFORMS_WITH_ALERT)


class LotVerdict(StrEnum):
    """The verdict on a lot (stored in ``Evaluation.verdict``, sent as its value)."""

    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does_not_conform"
    INCOMPLETE = "incomplete"
    INVALID = "invalid"


# The one vocabulary of verdicts in words: the web UI's badges, the release guards'
# reasons and the certificates all say these.
VERDICT_WORDS: Mapping[str, str] = {
    LineVerdict.CONFORMS: "conforms",
    LineVerdict.CONFORMS_WITH_ALERT: "conforms, alert limit crossed",
    LineVerdict.DOES_NOT_CONFORM: "does not conform",
    LineVerdict.INVALID: "invalid data: a valid repeat is needed",
    LineVerdict.MISSING: "no result yet",
    LotVerdict.INCOMPLETE: "incomplete",
}


def verdict_words(verdict: str) -> str:
    """A line's or a lot's verdict as words ("does_not_conform" -> "does not conform")."""
    return VERDICT_WORDS.get(verdict, str(verdict).replace("_", " "))


class CriterionError(ValueError):
    """A specification line that cannot be evaluated; ``reason`` names what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _require_decimal(owner: str, name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal):
        raise TypeError(f"{owner}.{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{owner}.{name} must be a finite number, not {value}")


def _require_date(owner: str, name: str, value: object) -> None:
    # datetime is a date subclass; comparing one with a date raises, so refuse it here.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{owner}.{name} must be a date, not {type(value).__name__}")


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecLine:
    """One line of a specification version, as data.

    ``test_code`` names the test whose results the line judges; criteria that read
    several tests (marker panel, derived ratio) name them in ``params`` and use
    ``test_code`` as the line's label. ``unit`` is the test's canonical unit (required
    by numeric criteria). ``decimals`` is the number of places the result is rounded
    to before comparison (USP General Notices 7.20); it may be negative (-9 rounds to
    a multiple of 10^9).
    """

    line_id: str
    test_code: str
    criterion_type: str
    params: Mapping[str, Any]
    alert_params: Mapping[str, Any] | None = None
    decimals: int | None = None
    required: bool = True
    display_name: str = ""
    unit: str = ""

    @property
    def name(self) -> str:
        return self.display_name or self.test_code


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultInput:
    """One reported result, in the test's canonical unit.

    ``value`` carries the number of a numeric result (for ``< 0.05`` the number is
    0.05 and ``qualifier`` is ``"<"``); ``text_value`` carries a qualitative reading
    ("no growth", "detected"). ``superseded`` and ``invalidated`` come from the
    record: neither kind ever counts, both stay visible in the line's notes.
    """

    result_id: str
    test_code: str
    value: Decimal | None = None
    qualifier: Qualifier | None = None
    text_value: str | None = None
    unit: str = ""
    replicate: int = 1
    run_id: str | None = None
    superseded: bool = False
    invalidated: bool = False
    invalidation_reason: str = ""
    performed_at: datetime | None = None
    performed_by: str = ""
    raw_data: Mapping[str, Any] | None = None
    technique: str = ""
    retest_of: str | None = None

    def __post_init__(self) -> None:
        _require_decimal("ResultInput", "value", self.value, optional=True)
        if self.qualifier not in (None, "<", ">"):
            raise ValueError(f"ResultInput.qualifier must be '<', '>' or None: {self.qualifier!r}")
        if self.qualifier is not None and self.value is None:
            raise ValueError("ResultInput.qualifier needs a value (the detection limit)")
        if self.performed_at is not None and self.performed_at.utcoffset() is None:
            raise ValueError("ResultInput.performed_at must be timezone-aware")


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlInput:
    """One reference-material control measured in a run (system suitability).

    ``low``/``high`` is the acceptance range *already expanded by the caller*
    (certified value +/- tolerance, inclusive), e.g. a 100 nm bead with +/-10 %:
    90-110 nm. The reference material's status and expiry travel with each control
    because one run may use several materials (a size bead and the product's
    reference lot).
    """

    reference_code: str
    reference_lot: str
    reference_status: str
    reference_expiry: date
    test_code: str
    measured: Decimal
    low: Decimal
    high: Decimal
    unit: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("measured", "low", "high"):
            _require_decimal("ControlInput", name, getattr(self, name), optional=False)
        _require_date("ControlInput", "reference_expiry", self.reference_expiry)
        if self.low > self.high:
            raise ValueError(f"ControlInput range {self.low}-{self.high} is empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInput:
    """An assay run: its date (compared with each material's expiry) and controls."""

    run_id: str
    run_date: date
    controls: tuple[ControlInput, ...] = ()
    technique: str = ""

    def __post_init__(self) -> None:
        _require_date("RunInput", "run_date", self.run_date)


@dataclass(frozen=True, slots=True, kw_only=True)
class LotInput:
    """The lot and the process facts of its batch record (isolation method, ...)."""

    lot_number: str
    process_facts: Mapping[str, str | int | Decimal] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShownValue:
    """A value as compared and shown: the rounded Decimal (if numeric) and its text."""

    label: str
    value: Decimal | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineEvaluation:
    """The verdict on one specification line, with a reason a QA officer can read.

    ``used_result_ids`` are the valid results judged; ``failing_result_ids`` those out
    of specification (open an OOS investigation for each); ``invalid_result_ids``
    those not counted because their data are invalid (e.g. failed system
    suitability: repeat, no OOS). ``notes`` say, per result not counted, why.
    ``potency`` (relative-potency lines only) keeps each assay's validity tests,
    estimates with confidence limits and fitted curves, as plain JSON values.
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
    shown_values: tuple[ShownValue, ...] = ()
    notes: tuple[str, ...] = ()
    potency: PotencyReport | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LotEvaluation:
    """The verdict on a lot: see :func:`qc.evaluation.engine.evaluate_lot` for the rule."""

    lot_number: str
    verdict: LotVerdict
    has_alerts: bool
    lines: tuple[LineEvaluation, ...]
    reasons: tuple[str, ...]
    inputs_digest: str
    engine_version: str
    evaluated_at: datetime | None = None

    @property
    def failing_result_ids(self) -> tuple[str, ...]:
        """Every out-of-specification result of the lot, for OOS investigations."""
        return tuple(sorted({rid for line in self.lines for rid in line.failing_result_ids}))
