"""Impact of a specification change: which lots' verdicts a draft version would change.

Nothing is stored: the draft is compiled once and every lot of the product is
evaluated against it in chunks, with the inputs of a whole chunk loaded in a
fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from qc.evaluation import compile_spec, evaluate_lot
from qc.models import Evaluation, Lot, Specification
from qc.services.evaluation_inputs import inputs_for_lots, spec_lines_of

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class LotImpact:
    lot_number: str
    current_verdict: str | None
    new_verdict: str
    reasons: tuple[str, ...]

    @property
    def changes(self) -> bool:
        return self.current_verdict != self.new_verdict


def specification_impact(specification: Specification) -> Iterator[LotImpact]:
    """Evaluate every lot of the product against ``specification``; yield each outcome."""
    compiled = compile_spec(spec_lines_of(specification))
    current = Evaluation.objects.filter(lot=OuterRef("pk")).order_by("-pk").values("verdict")[:1]
    lots = (
        Lot.objects.filter(product_id=specification.product_id)
        .annotate(current_verdict=Subquery(current))
        .only("pk", "lot_number", "process")
        .order_by("pk")
    )
    last_pk = 0
    while True:
        chunk = list(lots.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            return
        inputs = inputs_for_lots(chunk)
        for lot in chunk:
            data = inputs[lot.pk]
            outcome = evaluate_lot(data.lot, compiled, data.results, data.runs)
            yield LotImpact(
                lot.lot_number,
                lot.current_verdict,
                outcome.verdict,  # type: ignore[attr-defined]
                outcome.reasons,
            )
        last_pk = chunk[-1].pk
