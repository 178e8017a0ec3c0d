"""Impact of a specification change: which lots' verdicts a draft version would change.

Nothing is stored: the draft is compiled once and every lot of the product is
evaluated against it in chunks, with the inputs of a whole chunk loaded in a
fixed number of queries.  With ``processes > 1`` the chunks are shared between
forked processes (each with its own database connection): the engine is pure
CPU work, so two cores nearly halve the time.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import connections

from qc.evaluation import CompiledSpec, CriterionError, compile_spec, evaluate_lot
from qc.models import Lot, Specification
from qc.selectors import lots_with_current_verdict
from qc.services.evaluation_inputs import inputs_for_lots, spec_lines_of
from services.errors import Refused

CHUNK = 1000

# Set before forking so child processes inherit the compiled spec without pickling it.
_compiled_for_children: CompiledSpec | None = None


@dataclass(frozen=True, slots=True)
class LotImpact:
    lot_number: str
    current_verdict: str | None
    new_verdict: str
    reasons: tuple[str, ...]

    @property
    def changes(self) -> bool:
        return self.current_verdict != self.new_verdict


def _impact_of_chunk(compiled: CompiledSpec, lot_ids: Sequence[int]) -> list[LotImpact]:
    lots = list(
        lots_with_current_verdict(lots=Lot.objects.filter(pk__in=lot_ids))
        .only("pk", "lot_number", "process")
        .order_by("pk")
    )
    inputs = inputs_for_lots(lots=lots)
    impacts = []
    for lot in lots:
        data = inputs[lot.pk]
        outcome = evaluate_lot(data.lot, compiled, data.results, data.runs)
        impacts.append(
            LotImpact(
                lot.lot_number,
                lot.current_verdict,  # type: ignore[attr-defined]
                outcome.verdict,
                outcome.reasons,
            )
        )
    return impacts


def _impact_in_child(lot_ids: Sequence[int]) -> list[LotImpact]:
    assert _compiled_for_children is not None
    return _impact_of_chunk(_compiled_for_children, lot_ids)


def _compiled(specification: Specification) -> CompiledSpec:
    """The draft compiled, or a refusal naming why it cannot judge anything yet."""
    lines = spec_lines_of(specification=specification)
    if not lines:
        raise Refused(
            f"specification version {specification.version} has no lines yet: "
            "add lines before previewing their impact",
            code="specification_empty",
        )
    try:
        return compile_spec(lines)
    except CriterionError as exc:
        raise Refused(
            f"specification version {specification.version} cannot be evaluated: {exc.reason}",
            code="specification_not_evaluable",
        ) from exc


def specification_impact(
    *, specification: Specification, processes: int = 1
) -> Iterator[LotImpact]:
    """Evaluate every lot of the product against ``specification``; yield each outcome.

    The draft is compiled at once, so an empty or unusable one is refused (409,
    ``specification_empty`` / ``specification_not_evaluable``) before anything runs.
    ``processes > 1`` forks worker processes: use it from a command, not from a
    threaded web server.
    """
    return _impacts(specification, _compiled(specification), processes)


def _impacts(
    specification: Specification, compiled: CompiledSpec, processes: int
) -> Iterator[LotImpact]:
    global _compiled_for_children
    lot_ids = list(
        Lot.objects.filter(product_id=specification.product_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunks = [lot_ids[start : start + CHUNK] for start in range(0, len(lot_ids), CHUNK)]
    if processes <= 1 or len(chunks) < 2:
        for chunk in chunks:
            yield from _impact_of_chunk(compiled, chunk)
        return
    _compiled_for_children = compiled
    connections.close_all()  # children must open their own connections
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        for impacts in pool.imap(_impact_in_child, chunks):
            yield from impacts
