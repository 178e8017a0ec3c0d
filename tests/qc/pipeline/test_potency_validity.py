"""A failed bioassay is never an OOS (issue 12), through the API and the real database.

Curves posted as ``raw_data`` by a manufacturing system are evaluated against the
demo specification (relative potency 50-150 %, parallelism by a slope-ratio margin of
1.25): a curve without dose response, or a sample not parallel to the reference,
makes the potency line *invalid* with the failed validity test named, and opens no
OOS investigation (Ph. Eur. 5.3; USP <1034>; FDA OOS guidance).
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from rest_framework.test import APIClient

from qc.models import Evaluation, Lot
from qc.services.evaluation import lot_evaluate
from releases.models import Investigation
from tests.qc.pipeline.conftest import conforming_results, post_runs

pytestmark = [pytest.mark.django_db(transaction=True)]

DOSES = [1.0, 2.0, 4.0, 8.0, 16.0]


def _curve(slope: float, *, shift: float = 1.0, seed: int) -> list[dict[str, float]]:
    """Triplicate responses 10 + slope * log10(dose * shift), with a little noise."""
    rng = random.Random(seed)
    return [
        {
            "dose": dose,
            "response": round(10 + slope * math.log10(dose * shift) + rng.gauss(0, 1), 3),
        }
        for dose in DOSES
        for _ in range(3)
    ]


def _post_lot(client: APIClient, lot_number: str, curves: dict[str, Any]) -> Lot:
    response = client.post(
        "/api/v1/lots/",
        {
            "lot_number": lot_number,
            "product": "EVX-MSC-01",
            "manufactured_on": "2026-01-08",
            "process": {
                "isolation_method": "TFF + SEC",
                "culture_supplement": "FCS-free",
                "cell_source": "UC-MSC",
            },
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"lot-{lot_number}",
    )
    assert response.status_code == 201, response.content
    post_runs(client, lot_number)
    items = conforming_results(lot_number)
    for item in items:
        if item["test"] == "POTENCY":  # the lab's own figure stays "95"; the curves decide
            item["raw_data"] = curves
    response = client.post(
        f"/api/v1/lots/{lot_number}/results/",
        {"results": items},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"results-{lot_number}",
    )
    assert response.status_code == 201, response.content
    lot = Lot.objects.get(lot_number=lot_number)
    lot_evaluate(lot_id=lot.pk)
    return lot


def _potency_line(lot: Lot) -> tuple[Evaluation, dict[str, Any]]:
    evaluation = Evaluation.objects.filter(lot=lot).latest()
    (line,) = (line for line in evaluation.lines if line["test_code"] == "POTENCY")
    return evaluation, line


def _api_line(client: APIClient, lot_number: str) -> dict[str, Any]:
    body = client.get(f"/api/v1/lots/{lot_number}/evaluation/").json()
    (line,) = (line for line in body["lines"] if line["test"] == "POTENCY")
    return line


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("PhEur5.3")
def test_a_flat_curve_is_invalid_for_regression_and_opens_no_investigation(
    demo_world: None, mes_api: APIClient, api_as: Any, qa: Any
) -> None:
    flat = {"reference": _curve(0, seed=11), "sample": _curve(0, seed=12)}
    lot = _post_lot(mes_api, "EVX-BA-001", flat)
    evaluation, line = _potency_line(lot)
    assert line["verdict"] == "invalid"
    assert line["failing_result_ids"] == [] and len(line["invalid_result_ids"]) == 1
    assert "regression" in line["reason"]
    (assay,) = line["potency"]["assays"]
    regression = next(t for t in assay["tests"] if t["name"] == "regression")
    assert regression["passed"] is False and regression["p_value"] >= 0.05
    assert evaluation.verdict == "invalid"
    assert not Investigation.objects.filter(lot=lot).exists()
    shown = _api_line(api_as(qa), "EVX-BA-001")
    assert shown["verdict"] == "invalid" and "regression" in shown["reason"]


@pytest.mark.requirement("FDA-OOS")
@pytest.mark.requirement("PhEur5.3")
def test_non_parallel_curves_are_invalid_for_parallelism_and_open_no_investigation(
    demo_world: None, mes_api: APIClient, api_as: Any, qa: Any
) -> None:
    curves = {"reference": _curve(20, seed=3), "sample": _curve(8, seed=4)}
    lot = _post_lot(mes_api, "EVX-BA-002", curves)
    evaluation, line = _potency_line(lot)
    assert line["verdict"] == "invalid" and line["failing_result_ids"] == []
    assert "parallelism" in line["reason"]
    (assay,) = line["potency"]["assays"]
    tests = {(t["name"], t["method"]): t for t in assay["tests"]}
    assert tests[("regression", "anova")]["passed"] is True
    equivalence = tests[("parallelism", "equivalence")]
    assert equivalence["passed"] is False and equivalence["upper"] < 0.8
    assert evaluation.verdict == "invalid"
    assert not Investigation.objects.filter(lot=lot).exists()
    shown = _api_line(api_as(qa), "EVX-BA-002")
    assert shown["verdict"] == "invalid" and "parallelism" in shown["reason"]


@pytest.mark.requirement("PhEur5.3")
def test_a_valid_assay_keeps_its_limits_and_curves(demo_world: None, mes_api: APIClient) -> None:
    curves = {"reference": _curve(20, seed=1), "sample": _curve(20, shift=0.9, seed=2)}
    lot = _post_lot(mes_api, "EVX-BA-003", curves)
    evaluation, line = _potency_line(lot)
    assert line["verdict"] == "conforms", line["reason"]
    assert evaluation.verdict == "conforms", evaluation.reasons
    (assay,) = line["potency"]["assays"]
    (estimate,) = assay["estimates"]
    assert estimate["lower_percent"] < 90 < estimate["upper_percent"]
    assert [len(curve["doses"]) for curve in assay["curves"]] == [15, 15]
    assert [len(curve["responses"]) for curve in assay["curves"]] == [15, 15]
