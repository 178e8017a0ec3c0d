"""What every criterion shares: the lot context, parameter checks, line assembly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qc.evaluation.bioassay.report import PotencyReport
from qc.evaluation.limits import param_bool
from qc.evaluation.selection import ResultCheck, Selection, select_results
from qc.evaluation.suitability import run_problem
from qc.evaluation.types import (
    CriterionError,
    LineEvaluation,
    LineVerdict,
    LotInput,
    ResultInput,
    RunInput,
    ShownValue,
    SpecLine,
)
from qc.units import UnitError, check_unit

_NO_RESULTS: tuple[ResultInput, ...] = ()


class LotContext:
    """The inputs of one lot, grouped once for all lines.

    Results are grouped by test code and sorted by result id, so nothing downstream
    depends on the order the caller gave them in. Run suitability is worked out once
    per run, and only for runs that some counted result names.
    """

    __slots__ = ("_problems", "_results", "_runs", "lot")

    def __init__(
        self,
        lot: LotInput,
        results_by_test: Mapping[str, Sequence[ResultInput]],
        runs: Mapping[str, RunInput],
    ) -> None:
        self.lot = lot
        self._results = results_by_test
        self._runs = runs
        self._problems: dict[str, str | None] = {}

    def results(self, test_code: str) -> Sequence[ResultInput]:
        return self._results.get(test_code, _NO_RESULTS)

    def run_problem(self, run_id: str) -> str | None:
        try:
            return self._problems[run_id]
        except KeyError:
            pass
        run = self._runs.get(run_id)
        problem = (
            f"run {run_id} is not known, so its system suitability cannot be shown"
            if run is None
            else run_problem(run)
        )
        self._problems[run_id] = problem
        return problem


# ---------------------------------------------------------------------------
# Parameter checks (a spec author sees a bad line when the spec is written)
# ---------------------------------------------------------------------------


def where(line: SpecLine) -> str:
    return f"spec line {line.line_id} ({line.criterion_type})"


def check_keys(params: Mapping[str, Any], allowed: Iterable[str], *, where: str) -> None:
    if not isinstance(params, Mapping):
        raise CriterionError(f"{where}: parameters must be an object, not {type(params).__name__}")
    allowed_set = set(allowed)
    unknown = sorted(set(params) - allowed_set)
    if unknown:
        raise CriterionError(
            f"{where}: unknown parameter {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(sorted(allowed_set))}"
        )


def param_text(params: Mapping[str, Any], key: str, *, where: str, required: bool = True) -> str:
    raw = params.get(key)
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or not raw.strip():
        raise CriterionError(f"{where}: '{key}' must be non-empty text")
    return raw.strip()


def param_text_list(params: Mapping[str, Any], key: str, *, where: str) -> tuple[str, ...]:
    raw = params.get(key, ())
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise CriterionError(f"{where}: '{key}' must be a list of text")
    items = tuple(raw)
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise CriterionError(f"{where}: '{key}' must be a list of non-empty text")
    return tuple(item.strip() for item in items)


def param_int(
    params: Mapping[str, Any], key: str, default: int, *, where: str, minimum: int
) -> int:
    raw = params.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise CriterionError(f"{where}: '{key}' must be a whole number >= {minimum}")
    return raw


def canonical_unit(line: SpecLine) -> str:
    """The line's unit, required for numeric criteria and checked with qc.units."""
    if not line.unit:
        raise CriterionError(f"{where(line)}: a numeric line needs the test's canonical unit")
    try:
        check_unit(line.unit)
    except UnitError as exc:
        raise CriterionError(f"{where(line)}: {exc.reason}") from None
    return line.unit


def check_decimals(line: SpecLine) -> None:
    decimals = line.decimals
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)):
        raise CriterionError(f"{where(line)}: 'decimals' must be a whole number or null")


def normalise_text(text: str) -> str:
    """Case-insensitive, whitespace-normalised comparison form: ' No  Growth' -> 'no growth'."""
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------
# Compiled lines
# ---------------------------------------------------------------------------


class CompiledLine:
    """A validated specification line, ready to evaluate many lots.

    Subclasses parse their parameters once in ``__init__`` (raising
    :class:`CriterionError`) and implement :meth:`evaluate`.
    """

    __slots__ = ("fact_fields", "line", "requires_run", "test_codes")

    #: parameters every result-based criterion understands
    COMMON_KEYS: frozenset[str] = frozenset({"requires_run"})

    def __init__(self, line: SpecLine) -> None:
        self.line = line
        #: tests whose results the line reads; process facts of the lot it reads
        self.test_codes: tuple[str, ...] = (line.test_code,)
        self.fact_fields: tuple[str, ...] = ()
        check_decimals(line)
        self.requires_run = param_bool(line.params, "requires_run", False, where=where(line))

    def evaluate(self, ctx: LotContext) -> LineEvaluation:
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------

    def select(
        self,
        ctx: LotContext,
        test_code: str,
        *,
        unit: str = "",
        check: ResultCheck | None = None,
    ) -> Selection:
        return select_results(
            ctx.results(test_code),
            run_problem=ctx.run_problem,
            unit=unit,
            requires_run=self.requires_run,
            check=check,
        )

    def finish(
        self,
        verdict: LineVerdict,
        reason: str,
        *,
        selections: Iterable[Selection] = (),
        failing: Iterable[str] = (),
        shown: Iterable[ShownValue] = (),
        notes: Iterable[str] = (),
        potency: PotencyReport | None = None,
    ) -> LineEvaluation:
        line = self.line
        selections = tuple(selections)
        return LineEvaluation(
            line_id=line.line_id,
            test_code=line.test_code,
            criterion_type=line.criterion_type,
            display_name=line.name,
            required=line.required,
            verdict=verdict,
            reason=reason,
            used_result_ids=tuple(sorted({r.result_id for s in selections for r in s.valid})),
            failing_result_ids=tuple(sorted(set(failing))),
            invalid_result_ids=tuple(
                sorted({r.result_id for s in selections for r, _ in s.invalid})
            ),
            shown_values=tuple(shown),
            notes=(*(n for s in selections for n in s.notes()), *notes),
            potency=potency,
        )

    def not_judgeable(
        self,
        selections: Sequence[Selection],
        *,
        missing: str,
        notes: Iterable[str] = (),
        potency: PotencyReport | None = None,
    ) -> LineEvaluation:
        """``invalid`` when results exist but none can be used, else ``missing``."""
        invalid = [why for s in selections for _, why in s.invalid]
        if invalid:
            distinct = list(dict.fromkeys(invalid))
            return self.finish(
                LineVerdict.INVALID,
                f"{self.line.name}: no valid result ({'; '.join(distinct)}); needs a valid repeat",
                selections=selections,
                notes=notes,
                potency=potency,
            )
        return self.finish(
            LineVerdict.MISSING,
            f"{self.line.name}: {missing}",
            selections=selections,
            notes=notes,
            potency=potency,
        )
