"""Read endpoints of master data and specifications: every role and machine client reads."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

READERS = ["analyst", "reviewer", "qa", "qp", "auditor", "admin_user", "mes"]


def reader(name: str, request: Any, api_as: Any) -> Any:
    if name == "mes":
        return request.getfixturevalue("mes_api")
    return api_as(request.getfixturevalue(name))


@pytest.mark.requirement("21CFR11.10d")
@pytest.mark.parametrize("who", READERS)
def test_every_role_and_machine_client_reads_qc_data(
    world: Any, lot: Any, who: str, request: Any, api_as: Any
) -> None:
    client = reader(who, request, api_as)
    for path in (
        "/api/v1/products/",
        "/api/v1/products/EV-MSC-01/",
        "/api/v1/products/EV-MSC-01/specification/",
        "/api/v1/products/EV-MSC-01/specifications/",
        f"/api/v1/specifications/{world.spec.pk}/",
        "/api/v1/test-methods/",
        "/api/v1/test-methods/NTA-CONC/",
        "/api/v1/instruments/",
        "/api/v1/reference-materials/",
        "/api/v1/lots/",
        f"/api/v1/lots/{lot.lot_number}/",
        f"/api/v1/lots/{lot.lot_number}/results/",
        "/api/v1/assay-runs/",
        "/api/v1/results/",
    ):
        assert client.get(path).status_code == 200, path


def test_master_data_reads(world: Any, mes_api: Any) -> None:
    product = mes_api.get("/api/v1/products/EV-MSC-01/").json()
    assert product["process_fields"]["isolation_method"]["required"] is True
    methods = mes_api.get("/api/v1/test-methods/?attribute_class=safety").json()["results"]
    assert {m["code"] for m in methods} == {"LAL", "MYCO", "STERILITY"}
    sterility = mes_api.get("/api/v1/test-methods/STERILITY/").json()
    assert sterility["allowed_values"] == ["no growth", "growth"]
    [bead] = mes_api.get("/api/v1/reference-materials/?code=BEAD-100").json()["results"]
    assert bead["limits"] == [
        {
            "test": "NTA-SIZE",
            "unit": "nm",
            "certified_value": "100",
            "acceptance_low": "90",
            "acceptance_high": "110",
        }
    ]
    [instrument] = mes_api.get("/api/v1/instruments/?technique=NTA").json()["results"]
    assert instrument["code"] == "NTA-01"


def test_the_effective_specification_of_a_product(world: Any, mes_api: Any) -> None:
    spec = mes_api.get("/api/v1/products/EV-MSC-01/specification/").json()
    assert (spec["version"], spec["status"], spec["product"]) == (1, "effective", "EV-MSC-01")
    assert [line["test"] for line in spec["lines"]] == ["NTA-CONC", "LAL", "STERILITY"]
    assert spec["lines"][1]["decimals"] == 2
    listed = mes_api.get("/api/v1/specifications/?product=EV-MSC-01&status=effective").json()
    assert [s["id"] for s in listed["results"]] == [spec["id"]]


def test_a_product_without_an_effective_spec_answers_404(world: Any, mes_api: Any) -> None:
    from tests.qc.factories import ProductFactory

    ProductFactory(code="EV-DRAFTY")
    response = mes_api.get("/api/v1/products/EV-DRAFTY/specification/")
    assert response.status_code == 404
    assert mes_api.get("/api/v1/products/NOPE/").status_code == 404


def test_master_data_cannot_be_written_through_the_api(
    world: Any, mes_api: Any, qa: Any, api_as: Any
) -> None:
    for client in (mes_api, api_as(qa)):
        assert client.post("/api/v1/products/", {"code": "X"}, format="json").status_code == 405
        response = client.delete("/api/v1/test-methods/NTA-CONC/")
        assert response.status_code == 405


def test_list_endpoints_cost_a_fixed_number_of_queries(
    world: Any, mes_api: Any, django_assert_max_num_queries: Any
) -> None:
    from tests.qc.conftest import post_json

    for number in range(5):
        lot = world.lot(f"Q-{number}")
        items = [
            {"test": "NTA-CONC", "value": f"{i + 1}e9", "unit": "particles/mL"} for i in range(20)
        ]
        post_json(mes_api, f"/api/v1/lots/{lot.lot_number}/results/", {"results": items})
    for index in range(5):
        body = {
            "external_run_id": f"R-{index}",
            "method": "NTA-SIZE",
            "started_at": "2025-01-17T08:00:00Z",
            "controls": [
                {
                    "reference_material": "BEAD-100",
                    "reference_lot": "NIST-2024",
                    "test": "NTA-SIZE",
                    "value": 100,
                    "unit": "nm",
                }
            ],
        }
        post_json(mes_api, "/api/v1/assay-runs/", body)
    for path in (
        "/api/v1/results/?page_size=100",
        "/api/v1/lots/",
        "/api/v1/assay-runs/",
        "/api/v1/lots/Q-1/results/",
        "/api/v1/reference-materials/",
        "/api/v1/specifications/",
    ):
        with django_assert_max_num_queries(8):
            assert mes_api.get(path).status_code == 200, path
