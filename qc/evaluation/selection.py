"""Which results count: the one place where the retest and invalidation rule lives."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from qc.evaluation.types import ResultInput
from qc.units import UnitError, conversion_factor

ResultCheck = Callable[[ResultInput], str | None]


@dataclass(frozen=True, slots=True)
class Selection:
    """Results of one test split into what counts and what does not, with reasons.

    ``valid``: every result that is judged. ``invalid``: results whose data cannot be
    used (failed system suitability, wrong shape); they never count as conforming and
    never as OOS. ``excluded``: superseded or invalidated records, which never count
    and stay visible.
    """

    valid: tuple[ResultInput, ...]
    invalid: tuple[tuple[ResultInput, str], ...]
    excluded: tuple[tuple[ResultInput, str], ...]

    def notes(self) -> list[str]:
        notes = [f"{r.result_id} {NOT_COUNTED}: {why}" for r, why in self.excluded]
        notes += [f"{r.result_id} {INVALID}: {why}" for r, why in self.invalid]
        return notes


NOT_COUNTED: Final = "not counted"
INVALID: Final = "invalid"
_NOTE = re.compile(rf"^(?P<id>\d+) (?P<kind>{NOT_COUNTED}|{INVALID}): (?P<why>.*)$", re.DOTALL)


def result_note(note: str) -> tuple[str, str, str] | None:
    """(result id, ``NOT_COUNTED`` or ``INVALID``, why) of a note :meth:`Selection.notes`
    wrote, so a page can link the result instead of printing its bare id; else None."""
    found = _NOTE.match(note)
    return None if found is None else (found["id"], found["kind"], found["why"])


@lru_cache(maxsize=1024)
def _same_unit(unit: str, canonical: str) -> bool:
    try:
        return conversion_factor(unit, canonical) == 1
    except UnitError:
        return False


def select_results(
    results: Iterable[ResultInput],
    *,
    run_problem: Callable[[str], str | None],
    unit: str = "",
    requires_run: bool = False,
    check: ResultCheck | None = None,
) -> Selection:
    """Apply the results rule to the results of one test, keeping their order.

    1. A superseded result (a newer record replaces it) never counts.
    2. An invalidated result never counts: only an investigation with an assignable
       cause invalidates a result (21 CFR 610.1; FDA OOS guidance), and the caller
       records that as ``invalidated=True`` with the reason.
    3. A result whose run fails system suitability, or names a run we were not given,
       is INVALID: not OOS, never conforming (FDA OOS guidance on system suitability).
       A result with no run is not checked, unless the line ``requires_run``.
    4. A result in another unit than the test's, or of the wrong shape for the
       criterion (``check``), is INVALID: the engine never guesses.
    5. Every remaining result is VALID and is judged on its own. An OOS result is
       never outweighed or averaged away by a passing retest (FDA OOS guidance,
       "testing into compliance"): it stays OOS until an investigation invalidates it.
    """
    valid: list[ResultInput] = []
    invalid: list[tuple[ResultInput, str]] = []
    excluded: list[tuple[ResultInput, str]] = []
    for result in results:
        if result.superseded:
            excluded.append((result, "superseded by a newer result"))
            continue
        if result.invalidated:
            why = result.invalidation_reason or "no reason recorded"
            excluded.append((result, f"invalidated ({why})"))
            continue
        problem: str | None
        if result.run_id is None:
            problem = (
                "the test requires an assay run with system suitability" if requires_run else None
            )
        else:
            problem = run_problem(result.run_id)
        if problem is None and unit and result.unit != unit and not _same_unit(result.unit, unit):
            problem = f"reported in '{result.unit}', not in the test's unit '{unit}'"
        if problem is None and check is not None:
            problem = check(result)
        if problem is None:
            valid.append(result)
        else:
            invalid.append((result, problem))
    return Selection(valid=tuple(valid), invalid=tuple(invalid), excluded=tuple(excluded))
