"""Specification versions: drafts, lines checked when written, QA approval with a signature,
frozen effective versions, binding of lots, and QA rebinding with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from qc.models import Lot, Specification, SpecificationLine
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.services import signature_verify
from tests.qc.conftest import post_json

# Approval re-authenticates the signer outside any transaction: committed tests.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_enqueue")]

LINE = {
    "test": "NTA-CONC",
    "name": "Particle concentration",
    "criterion_type": "numeric_range",
    "params": {"min": "1E+11", "max": "3E+11"},
    "alert_params": {"min": "1.2E+11"},
    "decimals": -9,
}


@pytest.fixture
def qa_api(qa: Any, api_as: Any) -> Any:
    return api_as(qa)


def draft(client: Any, product: str = "EV-MSC-01", **body: Any) -> dict[str, Any]:
    payload = {"title": "v2: tighter concentration", "reason": "annual review", **body}
    response = post_json(client, f"/api/v1/products/{product}/specifications/", payload)
    assert response.status_code == 201, response.json()
    return dict(response.json())


def approve(client: Any, spec_id: int, password: str, reason: str = "approved for use") -> Any:
    return post_json(
        client,
        f"/api/v1/specifications/{spec_id}/approve/",
        {"password": password, "reason": reason},
        key=None,
    )


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.requirement("21CFR11.70")
@pytest.mark.requirement("21CFR11.10f")
def test_qa_writes_a_draft_and_approves_it_with_a_signature(
    world: Any, qa_api: Any, password: str
) -> None:
    spec = draft(qa_api)
    assert (spec["version"], spec["status"], spec["lines"]) == (2, "draft", [])
    line = post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    assert line.status_code == 201, line.json()
    assert line.json()["position"] == 1 and line.json()["unit"] == "particles/mL"

    response = approve(qa_api, spec["id"], password)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "effective" and body["approved_by"]
    assert "Approved" in body["approval_signature"]["manifest"]
    signature = Signature.objects.get(pk=body["approval_signature"]["id"])
    assert signature.meaning == "approved" and signature_verify(signature).intact
    assert Specification.objects.get(pk=world.spec.pk).status == "superseded"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"specification.approved", "specification.superseded", "signature.applied"} <= actions
    effective = qa_api.get("/api/v1/products/EV-MSC-01/specification/").json()
    assert effective["id"] == spec["id"]
    history = qa_api.get("/api/v1/products/EV-MSC-01/specifications/").json()["results"]
    assert [(s["version"], s["status"]) for s in history] == [(2, "effective"), (1, "superseded")]


@pytest.mark.requirement("21CFR11.10e")
def test_approval_freezes_the_lines_in_the_database(world: Any, qa_api: Any, password: str) -> None:
    spec = draft(qa_api)
    post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    approve(qa_api, spec["id"], password)
    line = SpecificationLine.objects.get(specification_id=spec["id"])
    for change in (
        lambda: SpecificationLine.objects.filter(pk=line.pk).update(params={"min": "0"}),
        lambda: SpecificationLine.objects.filter(pk=line.pk).delete(),
        lambda: SpecificationLine.objects.create(
            specification_id=spec["id"],
            position=9,
            name="x",
            test=world.conc,
            criterion_type="numeric_range",
            params={"min": "0"},
        ),
    ):
        with pytest.raises(DatabaseError, match="frozen"), transaction.atomic():
            change()
    refused = post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    assert refused.status_code == 409
    assert [e["code"] for e in refused.json()["errors"]] == ["specification_not_draft"]
    again = approve(qa_api, spec["id"], password)
    assert again.status_code == 409
    assert [e["code"] for e in again.json()["errors"]] == ["specification_not_draft"]


def test_an_edit_of_an_effective_version_is_a_new_draft_copying_its_lines(
    world: Any, qa_api: Any
) -> None:
    response = post_json(
        qa_api, f"/api/v1/specifications/{world.spec.pk}/new-draft/", {"reason": "add potency"}
    )
    assert response.status_code == 201
    copy = response.json()
    assert copy["version"] == 2 and copy["based_on"] == world.spec.pk
    original = [(line.name, line.criterion_type, line.params) for line in world.spec.lines.all()]
    assert [(x["name"], x["criterion_type"], x["params"]) for x in copy["lines"]] == original
    also = draft(qa_api, copy_from=world.spec.pk)
    assert also["version"] == 3 and len(also["lines"]) == len(original)
    # The title sent is kept, with copy_from too; left out, the copy keeps the source's.
    assert also["title"] == "v2: tighter concentration"
    assert copy["title"] == world.spec.title


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"criterion_type": "vibes"}, "criterion_type", "unknown_criterion_type"),
        ({"params": {"minimum": "1"}}, "params", "criterion_params_invalid"),
        ({"params": ["1", "2"]}, "params", "not_an_object"),
        ({"test": "NOPE"}, "test", "unknown_test"),
        ({"decimals": 99}, "decimals", "out_of_range"),
    ],
)
def test_a_line_is_checked_when_it_is_written(
    world: Any, qa_api: Any, change: dict[str, Any], field: str, code: str
) -> None:
    spec = draft(qa_api)
    response = post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", {**LINE, **change})
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)
    assert not SpecificationLine.objects.filter(specification_id=spec["id"]).exists()


def test_an_empty_draft_cannot_be_approved(world: Any, qa_api: Any, password: str) -> None:
    spec = draft(qa_api)
    response = approve(qa_api, spec["id"], password)
    assert response.status_code == 409
    assert [e["code"] for e in response.json()["errors"]] == ["specification_empty"]


@pytest.mark.requirement("21CFR11.300d")
def test_a_wrong_password_approves_nothing_and_is_counted(
    world: Any, qa_api: Any, password: str
) -> None:
    spec = draft(qa_api)
    post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    response = approve(qa_api, spec["id"], "not my password")
    assert response.status_code == 403
    assert [e["code"] for e in response.json()["errors"]] == ["signature_refused"]
    assert Specification.objects.get(pk=spec["id"]).status == "draft"
    assert AuditEvent.objects.filter(action="user.signature_failed").exists()


@pytest.mark.requirement("21CFR11.10d")
@pytest.mark.requirement("21CFR11.100")
def test_only_qa_writes_and_approves_specifications_and_machines_never_sign(
    world: Any, qa_api: Any, mes_api: Any, analyst: Any, qp: Any, api_as: Any, password: str
) -> None:
    spec = draft(qa_api)
    post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    for client in (mes_api, api_as(analyst), api_as(qp)):
        assert approve(client, spec["id"], password).status_code == 403
        lines = post_json(client, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
        assert lines.status_code == 403
        created = post_json(client, "/api/v1/products/EV-MSC-01/specifications/", {"reason": "x"})
        assert created.status_code == 403
    assert Specification.objects.get(pk=spec["id"]).status == "draft"


def test_a_draft_can_be_withdrawn_and_stays_on_record(world: Any, qa_api: Any) -> None:
    spec = draft(qa_api)
    url = f"/api/v1/specifications/{spec['id']}/withdraw/"
    response = post_json(qa_api, url, {"reason": "superseded by plan B"})
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    again = post_json(qa_api, url, {"reason": "again"})
    assert again.status_code == 409
    assert [e["code"] for e in again.json()["errors"]] == ["specification_not_draft"]
    assert qa_api.get(f"/api/v1/specifications/{spec['id']}/").json()["status"] == "withdrawn"


def test_new_lots_bind_to_the_version_effective_when_they_are_created(
    world: Any, qa_api: Any, mes_api: Any, password: str
) -> None:
    def register(number: str) -> dict[str, Any]:
        body = {
            "lot_number": number,
            "product": "EV-MSC-01",
            "manufactured_on": "2025-02-01",
            "process": {"isolation_method": "SEC"},
        }
        response = post_json(mes_api, "/api/v1/lots/", body)
        assert response.status_code == 201, response.json()
        return dict(response.json()["specification"])

    assert register("OLD-1")["version"] == 1
    spec = draft(qa_api)
    post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    assert register("OLD-2")["version"] == 1, "a draft binds nothing"
    approve(qa_api, spec["id"], password)
    assert register("NEW-1") == {"id": spec["id"], "version": 2, "status": "effective"}
    old = qa_api.get("/api/v1/lots/OLD-1/").json()["specification"]
    assert old == {"id": world.spec.pk, "version": 1, "status": "superseded"}


@pytest.mark.requirement("EU-GMP-Annex11-9")
def test_only_qa_rebinds_a_lot_and_only_with_a_reason(
    world: Any, qa_api: Any, analyst: Any, api_as: Any, password: str
) -> None:
    lot = world.lot("REBIND-1")
    spec = draft(qa_api)
    post_json(qa_api, f"/api/v1/specifications/{spec['id']}/lines/", LINE)
    url = "/api/v1/lots/REBIND-1/specification/"
    body = {"specification": spec["id"], "reason": "CAPA-17: test against v2"}
    refused = post_json(qa_api, url, body)
    assert refused.status_code == 409
    assert [e["code"] for e in refused.json()["errors"]] == ["specification_not_effective"]
    approve(qa_api, spec["id"], password)
    assert post_json(api_as(analyst), url, body).status_code == 403
    no_reason = post_json(qa_api, url, {"specification": spec["id"], "reason": "  "})
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"
    response = post_json(qa_api, url, body)
    assert response.status_code == 200, response.json()
    assert response.json()["specification"]["version"] == 2
    lot.refresh_from_db()
    assert lot.specification_id == spec["id"] and lot.data_version == 1
    event = AuditEvent.objects.get(action="lot.specification_rebound")
    assert event.reason == "CAPA-17: test against v2"
    assert event.old_values["version"] == 1 and event.new_values["version"] == 2
    again = post_json(qa_api, url, body)
    assert again.status_code == 409
    assert [e["code"] for e in again.json()["errors"]] == ["already_bound"]
    assert Lot.objects.get(pk=lot.pk).specification_id == spec["id"]
