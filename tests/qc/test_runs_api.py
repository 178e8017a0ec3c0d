"""/api/v1/assay-runs/: runs with their reference-material controls (system suitability)."""

from __future__ import annotations

from typing import Any

import pytest

from qc.models import AssayRun, RunControl
from services.audit.models import AuditEvent
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/assay-runs/"


def run_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_run_id": "NTA-2025-0117",
        "method": "NTA-SIZE",
        "instrument": "NTA-01",
        "analyst": "J. Doe",
        "started_at": "2025-01-17T08:00:00Z",
        "ended_at": "2025-01-17T09:30:00+01:00",
        "controls": [
            {
                "reference_material": "BEAD-100",
                "reference_lot": "NIST-2024",
                "test": "NTA-SIZE",
                "value": 0.1015,
                "unit": "µm",
            }
        ],
    }
    body.update(overrides)
    return body


@pytest.mark.requirement("21CFR211.194a")
def test_a_run_is_recorded_with_its_controls_in_the_tests_unit(
    world: Any, mes: Any, mes_api: Any
) -> None:
    response = post_json(mes_api, RUNS, run_body())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["method"] == "NTA-SIZE" and body["instrument"] == "NTA-01"
    assert body["posted_by"] == {"type": "client", "name": "MES-1"}
    [control] = body["controls"]
    assert control["value"] == "0.1015" and control["unit"] == "µm"
    assert (control["canonical_value"], control["canonical_unit"]) == ("101.5", "nm")
    run = AssayRun.objects.get()
    assert run.posted_by_client == mes[0]
    event = AuditEvent.objects.get(action="assay_run.recorded")
    assert event.new_values["controls"][0]["canonical_value"] == "101.5"
    assert mes_api.get(f"{RUNS}NTA-2025-0117/").json()["controls"] == body["controls"]


def test_results_can_then_name_the_run(world: Any, lot: Any, mes_api: Any) -> None:
    post_json(mes_api, RUNS, run_body())
    item = {"test": "NTA-SIZE", "value": "104", "unit": "nm", "run": "NTA-2025-0117"}
    response = post_json(mes_api, f"/api/v1/lots/{lot.lot_number}/results/", {"results": [item]})
    assert response.status_code == 201
    [row] = mes_api.get(f"/api/v1/lots/{lot.lot_number}/results/").json()["results"]
    assert row["run"] == "NTA-2025-0117"


def test_a_duplicate_run_id_is_409(world: Any, mes_api: Any) -> None:
    assert post_json(mes_api, RUNS, run_body()).status_code == 201
    response = post_json(mes_api, RUNS, run_body(analyst="someone else"))
    assert response.status_code == 409
    assert [e["code"] for e in response.json()["errors"]] == ["run_exists"]
    assert AssayRun.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "index", "code"),
    [
        ({"method": "NOPE"}, "method", None, "unknown_test"),
        ({"instrument": "NOPE"}, "instrument", None, "unknown_instrument"),
        ({"started_at": "2025-01-17T08:00:00"}, "started_at", None, "utc_offset_required"),
        ({"started_at": "2999-01-01T00:00:00Z"}, "started_at", None, "in_the_future"),
        ({"ended_at": "2025-01-17T07:00:00Z"}, "ended_at", None, "ends_before_start"),
        ({"external_run_id": ""}, "external_run_id", None, "blank"),
        (
            {
                "controls": [
                    {
                        "reference_material": "BEAD-100",
                        "reference_lot": "X",
                        "test": "NTA-SIZE",
                        "value": 100,
                        "unit": "nm",
                    }
                ]
            },
            "controls.reference_material",
            0,
            "unknown_reference_material",
        ),
        (
            {
                "controls": [
                    {
                        "reference_material": "BEAD-100",
                        "reference_lot": "NIST-2024",
                        "test": "NTA-CONC",
                        "value": 100,
                        "unit": "particles/mL",
                    }
                ]
            },
            "controls.test",
            0,
            "no_certified_range",
        ),
        (
            {
                "controls": [
                    {
                        "reference_material": "BEAD-100",
                        "reference_lot": "NIST-2024",
                        "test": "NTA-SIZE",
                        "value": 100,
                        "unit": "EU/mL",
                    }
                ]
            },
            "controls.unit",
            0,
            "unit_not_convertible",
        ),
        (
            {
                "controls": [
                    {
                        "reference_material": "BEAD-100",
                        "reference_lot": "NIST-2024",
                        "test": "NTA-SIZE",
                        "value": "NaN",
                        "unit": "nm",
                    }
                ]
            },
            "controls.value",
            0,
            "value_not_finite",
        ),
        (
            {
                "controls": [
                    {
                        "reference_material": "BEAD-100",
                        "reference_lot": "NIST-2024",
                        "test": "NTA-SIZE",
                        "value": "< 5",
                        "unit": "nm",
                    }
                ]
            },
            "controls.value",
            0,
            "qualifier_not_allowed",
        ),
    ],
)
def test_bad_run_input_is_400_naming_the_field(
    world: Any, mes_api: Any, overrides: dict[str, Any], field: str, index: int | None, code: str
) -> None:
    response = post_json(mes_api, RUNS, run_body(**overrides))
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["field"] == field and error.get("index") == index
    assert error["code"] == code
    assert not AssayRun.objects.exists() and not RunControl.objects.exists()
    assert not AuditEvent.objects.filter(action="assay_run.recorded").exists()


def test_a_run_with_an_expired_material_is_still_recorded(world: Any, mes_api: Any) -> None:
    """Suitability is the evaluation's verdict; the record keeps what happened."""
    import datetime as dt

    world.bead.status = "expired"
    world.bead.expires_on = dt.date(2020, 1, 1)
    world.bead.save()
    assert post_json(mes_api, RUNS, run_body()).status_code == 201


def test_runs_list_filters_by_method(world: Any, mes_api: Any, auditor: Any, api_as: Any) -> None:
    post_json(mes_api, RUNS, run_body())
    post_json(mes_api, RUNS, run_body(external_run_id="LAL-1", method="LAL", controls=[]))
    client = api_as(auditor)
    assert len(client.get(RUNS).json()["results"]) == 2
    [lal] = client.get(RUNS + "?method=LAL").json()["results"]
    assert lal["external_run_id"] == "LAL-1" and lal["controls"] == []
    assert post_json(client, RUNS, run_body(external_run_id="X")).status_code == 403
