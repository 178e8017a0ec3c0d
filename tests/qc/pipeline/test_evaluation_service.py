"""Evaluations as records: the demo stories, idempotence, staleness, OOS opening."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.db.models import F

from qc.evaluation import ENGINE_VERSION
from qc.models import Evaluation, Lot
from qc.services.evaluation import lot_evaluate, lots_pending_evaluation
from releases.models import Investigation

pytestmark = [pytest.mark.django_db(transaction=True)]


def _evaluate(lot_number: str) -> Evaluation:
    lot = Lot.objects.get(lot_number=lot_number)
    lot_evaluate(lot_id=lot.pk)
    return Evaluation.objects.filter(lot=lot).latest()


def _line(evaluation: Evaluation, name_start: str) -> dict[str, Any]:
    return next(line for line in evaluation.lines if line["display_name"].startswith(name_start))


@pytest.mark.requirement("21CFR211.165a")
def test_the_conforming_demo_lot_conforms(demo_world: None) -> None:
    evaluation = _evaluate("EVX-24-001")
    assert evaluation.verdict == "conforms", evaluation.reasons
    assert {line["verdict"] for line in evaluation.lines} == {"conforms"}
    assert evaluation.specification.version == 1
    assert len(evaluation.inputs_digest) == 64
    assert evaluation.engine_version == ENGINE_VERSION


@pytest.mark.requirement("21CFR211.165f")
@pytest.mark.requirement("FDA-OOS")
def test_failing_endotoxin_does_not_conform_and_opens_an_oos(demo_world: None) -> None:
    evaluation = _evaluate("EVX-24-002")
    assert evaluation.verdict == "does_not_conform"
    endotoxin = _line(evaluation, "Bacterial endotoxins")
    assert endotoxin["verdict"] == "does_not_conform"
    assert "0.80 EU/mL" in endotoxin["reason"] and "0.50 EU/mL" in endotoxin["reason"]
    investigation = Investigation.objects.get(lot__lot_number="EVX-24-002")
    assert investigation.kind == "oos" and investigation.phase == "phase_1"
    assert investigation.result_id == int(endotoxin["failing_result_ids"][0])


@pytest.mark.requirement("FDA-OOS")
def test_a_failed_bead_control_makes_results_invalid_not_oos(demo_world: None) -> None:
    evaluation = _evaluate("EVX-24-003")
    assert evaluation.verdict == "invalid"
    nta = _line(evaluation, "Particle concentration")
    assert nta["verdict"] == "invalid"
    assert "121 nm outside 90\u2013110 nm" in nta["reason"]
    assert not Investigation.objects.filter(lot__lot_number="EVX-24-003").exists()


@pytest.mark.requirement("21CFR211.165a")
def test_missing_tests_leave_the_lot_incomplete(demo_world: None) -> None:
    evaluation = _evaluate("EVX-24-004")
    assert evaluation.verdict == "incomplete"
    missing = {line["display_name"] for line in evaluation.lines if line["verdict"] == "missing"}
    assert missing == {"Sterility", "Relative potency vs reference lot"}


def test_evaluating_unchanged_inputs_stores_nothing_new(demo_world: None) -> None:
    lot = Lot.objects.get(lot_number="EVX-24-001")
    first = lot_evaluate(lot_id=lot.pk)
    second = lot_evaluate(lot_id=lot.pk)
    assert first is not None and second is None
    assert Evaluation.objects.filter(lot=lot).count() == 1
    assert lots_pending_evaluation() == sorted(
        Lot.objects.exclude(pk=lot.pk).values_list("pk", flat=True)
    )


@pytest.mark.requirement("21CFR11.10e")
def test_evaluations_are_never_edited(demo_world: None) -> None:
    evaluation = _evaluate("EVX-24-001")
    evaluation.verdict = "does_not_conform"
    with pytest.raises(DatabaseError), transaction.atomic():
        evaluation.save()


def test_new_data_makes_the_evaluation_stale_in_the_api(
    demo_world: None, api_as: Any, qa: Any
) -> None:
    _evaluate("EVX-24-001")
    client = api_as(qa)
    body = client.get("/api/v1/lots/EVX-24-001/evaluation/").json()
    assert body["verdict"] == "conforms" and body["stale"] is False
    assert body["specification_version"] == 1
    assert {"test", "criterion", "verdict", "reason"} <= set(body["lines"][0])
    Lot.objects.filter(lot_number="EVX-24-001").update(data_version=F("data_version") + 1)
    assert client.get("/api/v1/lots/EVX-24-001/evaluation/").json()["stale"] is True
    history = client.get("/api/v1/lots/EVX-24-001/evaluations/").json()
    assert history["count"] == 1


def test_evaluation_is_404_until_a_first_evaluation(demo_world: None, api_as: Any, qa: Any) -> None:
    response = api_as(qa).get("/api/v1/lots/EVX-24-004/evaluation/")
    assert response.status_code == 404
    assert [e["code"] for e in response.json()["errors"]] == ["not_evaluated"]


@pytest.mark.requirement("ALCOA-original")
def test_a_run_is_judged_by_the_range_certified_when_it_ran(
    demo_world: None, admin_user: Any
) -> None:
    from qc.models import ReferenceMaterialLimit, RunControl
    from qc.services.evaluation import lot_evaluate_now
    from qc.services.master import master_data_save

    control = RunControl.objects.get(run__external_run_id="EVX-24-001-NTA")
    assert (control.acceptance_low, control.acceptance_high) == (90, 110)
    limit = ReferenceMaterialLimit.objects.get(
        reference_material=control.reference_material, test__code="NTA-MODE"
    )
    limit.acceptance_low = 105  # the bead control measured 101 nm
    master_data_save(
        instance=limit,
        by=admin_user,
        reason="new certificate of the beads",
        fields=["acceptance_low"],
    )
    lot = Lot.objects.get(lot_number="EVX-24-001")
    assert lot_evaluate_now(lot=lot).verdict == "conforms"
