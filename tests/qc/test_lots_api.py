"""/api/v1/lots/: registration by machine clients, process facts, binding, reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from qc.models import Evaluation, Lot
from services.audit.models import AuditEvent
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db

LOTS = "/api/v1/lots/"


def new_lot(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lot_number": "EV-24-001",
        "product": "EV-MSC-01",
        "manufactured_on": "2025-01-10",
        "site": "Leiden",
        "process": {
            "isolation_method": "TFF + SEC",
            "culture_supplement": "FCS-free",
            "harvest_volume_ml": 1250.5,
            "passage": 4,
            "sterile_filtered": True,
            "harvested_on": "2025-01-09",
            "note": "bioreactor 2",
        },
    }
    body.update(overrides)
    return body


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.requirement("ALCOA-attributable")
def test_a_machine_client_registers_a_lot_bound_to_the_effective_spec(
    world: Any, mes: Any, mes_api: Any
) -> None:
    response = post_json(mes_api, LOTS, new_lot())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["lot_number"] == "EV-24-001" and body["status"] == "quarantined"
    assert body["specification"] == {"id": world.spec.pk, "version": 1, "status": "effective"}
    assert body["expires_on"] == "2025-07-09"  # manufactured_on + the product's 180 days
    assert body["created_by"] == {"type": "client", "name": "MES-1"}
    assert body["current_evaluation"] is None
    lot = Lot.objects.get()
    assert lot.created_by_client == mes[0] and lot.process["passage"] == 4
    event = AuditEvent.objects.get(action="lot.created")
    assert (event.actor_type, event.object_id) == ("client", "EV-24-001")
    assert event.new_values["specification"] == "EV-MSC-01 v1"


def test_a_duplicate_lot_number_is_409(world: Any, mes_api: Any) -> None:
    assert post_json(mes_api, LOTS, new_lot()).status_code == 201
    response = post_json(mes_api, LOTS, new_lot(site="elsewhere"))
    assert response.status_code == 409
    assert [e["code"] for e in response.json()["errors"]] == ["lot_exists"]
    assert Lot.objects.count() == 1


@pytest.mark.parametrize(
    ("process", "field", "code"),
    [
        ({"isolation_method": "SEC", "colour": "red"}, "process.colour", "unknown_process_field"),
        ({"isolation_method": "ultracentrifugation"}, "process.isolation_method", "not_a_choice"),
        ({"culture_supplement": "FCS-free"}, "process.isolation_method", "required"),
        ({"isolation_method": None}, "process.isolation_method", "required"),
        ({"isolation_method": "SEC", "passage": 4.5}, "process.passage", "not_a_whole_number"),
        ({"isolation_method": "SEC", "passage": True}, "process.passage", "not_a_whole_number"),
        (
            {"isolation_method": "SEC", "harvest_volume_ml": "lots"},
            "process.harvest_volume_ml",
            "value_not_a_number",
        ),
        (
            {"isolation_method": "SEC", "sterile_filtered": "yes"},
            "process.sterile_filtered",
            "not_a_boolean",
        ),
        (
            {"isolation_method": "SEC", "harvested_on": "09/01/2025"},
            "process.harvested_on",
            "not_a_date",
        ),
        ({"isolation_method": "SEC", "note": 5}, "process.note", "wrong_type"),
        (["SEC"], "process", "not_an_object"),
    ],
)
def test_process_facts_are_checked_against_the_product(
    world: Any, mes_api: Any, process: Any, field: str, code: str
) -> None:
    response = post_json(mes_api, LOTS, new_lot(process=process))
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)
    assert not Lot.objects.exists() and not AuditEvent.objects.filter(action="lot.created")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"product": "NOPE"}, "product", "unknown_product"),
        ({"lot_number": "has space"}, "lot_number", "lot_number_invalid"),
        ({"lot_number": "a/b"}, "lot_number", "lot_number_invalid"),
        ({"manufactured_on": "2025-13-01"}, "manufactured_on", "invalid"),
        ({"expires_on": "2024-01-01"}, "expires_on", "expires_before_manufacture"),
        ({"weight": 5}, "weight", "unknown_field"),
    ],
)
def test_bad_lot_fields_are_400_naming_the_field(
    world: Any, mes_api: Any, overrides: dict[str, Any], field: str, code: str
) -> None:
    response = post_json(mes_api, LOTS, new_lot(**overrides))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)


def test_a_lot_made_in_the_future_is_refused(world: Any, mes_api: Any) -> None:
    future = (timezone.now().date() + dt.timedelta(days=3)).isoformat()
    response = post_json(mes_api, LOTS, new_lot(manufactured_on=future))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("manufactured_on", "in_the_future")


def test_a_product_without_an_effective_spec_cannot_get_lots(world: Any, mes_api: Any) -> None:
    from tests.qc.factories import ProductFactory

    ProductFactory(code="EV-NEW")
    response = post_json(mes_api, LOTS, new_lot(product="EV-NEW"))
    assert response.status_code == 409
    assert [e["code"] for e in response.json()["errors"]] == ["no_effective_specification"]


@pytest.mark.requirement("21CFR11.10d")
@pytest.mark.parametrize("persona", ["analyst", "qa", "qp", "admin_user"])
def test_people_do_not_register_lots_over_the_api(
    world: Any, persona: str, request: Any, api_as: Any
) -> None:
    client = api_as(request.getfixturevalue(persona))
    assert post_json(client, LOTS, new_lot()).status_code == 403


def test_an_unknown_lot_is_404(world: Any, mes_api: Any) -> None:
    response = mes_api.get(f"{LOTS}NOPE-1/")
    assert response.status_code == 404


def test_the_current_evaluation_is_the_newest_and_says_when_it_is_stale(
    world: Any, lot: Any, auditor: Any, api_as: Any
) -> None:
    def evaluate(version: int, verdict: str) -> Evaluation:
        return Evaluation.objects.create(
            lot=lot,
            specification=world.spec,
            engine_version="test",
            inputs_digest=f"digest-{version}-{verdict}",
            data_version=version,
            verdict=verdict,
            lines=[],
            evaluated_at=timezone.now(),
        )

    evaluate(0, "incomplete")
    newest = evaluate(1, "conforms")
    Lot.objects.filter(pk=lot.pk).update(data_version=1)
    current = api_as(auditor).get(f"{LOTS}{lot.lot_number}/").json()["current_evaluation"]
    assert current["id"] == newest.pk and current["verdict"] == "conforms"
    assert current["stale"] is False
    Lot.objects.filter(pk=lot.pk).update(data_version=2)
    current = api_as(auditor).get(f"{LOTS}{lot.lot_number}/").json()["current_evaluation"]
    assert current["stale"] is True


def test_lots_list_filters_by_product_and_status(
    world: Any, mes_api: Any, qp: Any, api_as: Any
) -> None:
    from tests.qc.factories import ProductFactory, effective_specification

    other = ProductFactory(code="EV-OTHER")
    spec = effective_specification(
        other,
        [
            {
                "name": "c",
                "test": world.conc,
                "criterion_type": "numeric_range",
                "params": {"min": "1"},
            }
        ],
    )
    world.lot("A-1")
    Lot.objects.filter(pk=world.lot("A-2").pk).update(status="in_testing")
    world.lot("B-1", product=other, specification=spec)
    client = api_as(qp)

    def numbers(query: str) -> list[str]:
        return sorted(lot["lot_number"] for lot in client.get(LOTS + query).json()["results"])

    assert numbers("") == ["A-1", "A-2", "B-1"]
    assert numbers("?product=EV-MSC-01") == ["A-1", "A-2"]
    assert numbers("?status=in_testing") == ["A-2"]
    assert numbers("?status=quarantined&status=in_testing&product=EV-OTHER") == ["B-1"]
    page = client.get(LOTS + "?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert client.get(LOTS + "?status=bogus").status_code == 400
