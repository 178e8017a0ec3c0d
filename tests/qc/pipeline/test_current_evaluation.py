"""qc.selectors.lot_current_evaluation: the one way to read a lot's current evaluation."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import F

from qc import selectors
from qc.evaluation import LineVerdict, LotVerdict
from qc.models import Evaluation, Lot
from qc.selectors import (
    EvaluationLine,
    Staleness,
    lot_current_evaluation,
    lots_current_evaluations,
    lots_with_current_verdict,
)
from qc.services.ingestion import results_record

pytestmark = [pytest.mark.django_db(transaction=True)]


def _lot(lot_number: str) -> Lot:
    return Lot.objects.select_related("specification").get(lot_number=lot_number)


def test_the_current_evaluation_has_typed_lines_and_is_fresh(evaluated_demo: None) -> None:
    lot = _lot("EVX-24-001")
    current = lot_current_evaluation(lot=lot, recompute=True)
    assert current is not None
    stored = Evaluation.objects.filter(lot=lot).latest()
    assert current.evaluation == stored
    assert current.verdict is LotVerdict.CONFORMS
    assert current.staleness == () and not current.stale and current.recompute_error == ""
    assert current.fresh is not None and current.fresh.inputs_digest == stored.inputs_digest
    assert [line.line_id for line in current.lines] == [line["line_id"] for line in stored.lines]
    assert {line.verdict for line in current.lines} == {LineVerdict.CONFORMS}
    assert all(line.conforms for line in current.lines)
    endotoxin = next(line for line in current.lines if line.test_code == "LAL")
    assert [value.text for value in endotoxin.shown_values] == ["0.12 EU/mL"]
    assert endotoxin.used_result_ids and all(i.isdigit() for i in endotoxin.used_result_ids)
    assert current.required_lines == tuple(line for line in current.lines if line.required)


def test_a_lot_never_evaluated_has_no_current_evaluation(demo_world: None) -> None:
    assert lot_current_evaluation(lot=_lot("EVX-24-001")) is None


def test_staleness_names_each_reason(evaluated_demo: None, mes: Any) -> None:
    lot = _lot("EVX-24-004")
    Lot.objects.filter(pk=lot.pk).update(data_version=F("data_version") + 1)
    lot.refresh_from_db()
    # The data version moved but the inputs did not: only the cheap check says so.
    current = lot_current_evaluation(lot=lot, recompute=True)
    assert current is not None and current.staleness == (Staleness.DATA_CHANGED,)
    results_record(
        lot_number=lot.lot_number,
        items=[{"test": "STERILITY", "value": "no growth"}],
        by=mes[0],
    )
    lot.refresh_from_db()
    assert lot_current_evaluation(lot=lot).staleness == (  # type: ignore[union-attr]
        Staleness.DATA_CHANGED,
    ), "the inputs digest is compared only on request (it is costly)"
    current = lot_current_evaluation(lot=lot, recompute=True)
    assert current is not None and current.stale
    assert current.staleness == (Staleness.DATA_CHANGED, Staleness.INPUTS_CHANGED)
    lot.specification_id = lot.specification_id + 1000  # as if rebound
    assert lot_current_evaluation(lot=lot).staleness[0] is Staleness.SPECIFICATION_REBOUND  # type: ignore[union-attr]


def test_a_lot_that_cannot_be_evaluated_now_is_not_confirmed(
    evaluated_demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*, lot: Lot) -> Any:
        raise ValueError("the engine refuses this specification")

    monkeypatch.setattr(selectors, "lot_evaluate_now", refuse)
    current = lot_current_evaluation(lot=_lot("EVX-24-001"), recompute=True)
    assert current is not None and current.staleness == (Staleness.NOT_RECOMPUTABLE,)
    assert current.recompute_error == "the engine refuses this specification"


def test_many_lots_at_once(evaluated_demo: None, django_assert_num_queries: Any) -> None:
    lots = list(Lot.objects.all())
    with django_assert_num_queries(1):
        currents = lots_current_evaluations(lots=lots)
    assert set(currents) == {lot.pk for lot in lots}
    for lot in lots:
        single = lot_current_evaluation(lot=lot)
        assert single is not None
        assert currents[lot.pk].evaluation == single.evaluation
        assert currents[lot.pk].lines == single.lines
    annotated = {
        lot.lot_number: (lot.current_verdict, lot.current_evaluation_id)
        for lot in lots_with_current_verdict(lots=Lot.objects.all())
    }
    assert annotated == {
        lot.lot_number: (currents[lot.pk].verdict, currents[lot.pk].evaluation.pk) for lot in lots
    }


def test_a_stored_line_keeps_the_keys_it_does_not_name() -> None:
    line = EvaluationLine.from_stored(
        {
            "line_id": "001",
            "test_code": "LAL",
            "criterion_type": "numeric_range",
            "display_name": "",
            "verdict": "missing",
            "reason": "no result yet",
            "future_key": [1, 2],
        }
    )
    assert line.verdict is LineVerdict.MISSING and line.required and line.name == "LAL"
    assert dict(line.extra) == {"future_key": [1, 2]}
    assert line.shown_values == () and line.used_result_ids == ()
