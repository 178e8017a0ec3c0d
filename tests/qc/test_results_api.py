"""/api/v1/lots/{lot}/results/: originals kept, converted, attributed, audited, all or none."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from qc.models import Lot, Result
from services.audit.models import AuditEvent
from tests.qc.conftest import post_json

pytestmark = pytest.mark.django_db


def url(lot: Any) -> str:
    return f"/api/v1/lots/{getattr(lot, 'lot_number', lot)}/results/"


def counts() -> tuple[int, int, int]:
    return (
        Result.objects.count(),
        AuditEvent.objects.count(),
        Lot.objects.filter(data_version__gt=0).count(),
    )


def conc(value: Any = "2.1e11", unit: str = "particles/mL", **extra: Any) -> dict[str, Any]:
    return {"test": "NTA-CONC", "value": value, "unit": unit, **extra}


# ---------------------------------------------------------------------------
# Stored as posted, converted, attributed, audited
# ---------------------------------------------------------------------------


@pytest.mark.requirement("ALCOA-original")
@pytest.mark.requirement("21CFR211.194a")
def test_results_keep_the_posted_value_and_get_the_canonical_one(
    world: Any, lot: Any, mes_api: Any
) -> None:
    performed = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    run = world.run("RUN-7", method=world.conc)
    body = {
        "results": [
            {
                "test": "NTA-CONC",
                "value": "@NUMBER@",
                "unit": "particles/mL",
                "run": "RUN-7",
                "replicate": 2,
                "performed_by": "J. Doe",
                "performed_at": performed,
                "raw_data": {"frames": 1498, "mode_nm": 104.5},
            },
            {"test": "LAL", "value": "< 0.05", "unit": "EU/mL"},
            {"test": "LAL", "value": "0.050", "qualifier": ">", "unit": "EU/mL"},
            {"test": "MYCO", "value": "Not  Detected"},
            {"test": "STERILITY", "value": "No growth"},
        ]
    }
    # A JSON number, written the way the instrument wrote it.
    raw = json.dumps(body).replace('"@NUMBER@"', "2.10e11")
    response = post_json(mes_api, url(lot), raw)
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["count"] == 5 and answer["lot"] == lot.lot_number
    first = Result.objects.get(pk=answer["results"][0]["id"])
    assert first.value_as_posted == "2.10e11"  # the literal, not the float 210000000000.0
    assert first.canonical_value == 210_000_000_000
    assert first.canonical_unit == "particles/mL"
    assert first.run == run and first.replicate == 2 and first.performed_by == "J. Doe"
    assert first.raw_data == {"frames": 1498, "mode_nm": 104.5}
    censored = Result.objects.get(pk=answer["results"][1]["id"])
    assert (censored.qualifier, str(censored.canonical_value.normalize())) == ("<", "0.05")
    assert censored.value_as_posted == "< 0.05"
    assert Result.objects.get(pk=answer["results"][2]["id"]).qualifier == ">"
    myco = Result.objects.get(pk=answer["results"][3]["id"])
    assert (myco.value_as_posted, myco.text_value) == ("Not  Detected", "not detected")
    assert Result.objects.get(pk=answer["results"][4]["id"]).text_value == "no growth"


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.requirement("ALCOA-attributable")
def test_every_result_is_attributed_server_timestamped_and_audited(
    world: Any, lot: Any, mes: Any, mes_api: Any
) -> None:
    before = timezone.now()
    response = post_json(mes_api, url(lot), {"results": [conc(), conc("1.9e11")]})
    assert response.status_code == 201
    results = list(Result.objects.order_by("pk"))
    assert all(r.posted_by_client == mes[0] and r.entered_by_user is None for r in results)
    assert all(before <= r.received_at <= timezone.now() for r in results)
    # One event per request, binding every result it stored (services.audit.records).
    event = AuditEvent.objects.get(action="lot.results_recorded")
    assert (event.object_type, event.object_id) == ("lot", lot.lot_number)
    assert [(r["table"], r["id"]) for r in event.records] == [("qc_result", r.pk) for r in results]
    assert all(len(r["hash"]) == 64 for r in event.records)
    assert (event.actor_type, event.actor_name) == ("client", "MES-1")
    assert event.new_values == {"results": 2, "tests": ["NTA-CONC"]}
    assert event.request_id == results[0].request_id != ""


def test_first_results_move_a_quarantined_lot_to_in_testing_and_bump_its_data_version(
    world: Any, lot: Any, mes_api: Any
) -> None:
    assert (lot.status, lot.data_version) == ("quarantined", 0)
    assert post_json(mes_api, url(lot), {"results": [conc()]}).status_code == 201
    lot.refresh_from_db()
    assert (lot.status, lot.data_version) == ("in_testing", 1)
    moved = AuditEvent.objects.get(action="lot.status_changed", object_id=lot.lot_number)
    assert moved.old_values == {"status": "quarantined"}
    assert moved.new_values == {"status": "in_testing"}
    response = post_json(mes_api, url(lot), {"results": [conc()]})
    assert response.json()["data_version"] == 2
    assert AuditEvent.objects.filter(action="lot.status_changed").count() == 1


def test_evaluation_is_enqueued_once_the_results_commit(
    world: Any, lot: Any, mes_api: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import qc.tasks

    enqueued: list[int] = []
    monkeypatch.setattr(qc.tasks, "enqueue_lot_evaluation", enqueued.append)
    with django_capture_on_commit_callbacks(execute=True):
        post_json(mes_api, url(lot), {"results": [conc()]})
    assert enqueued == [lot.pk]


def test_a_qc_analyst_may_post_results_attributed_to_them(
    world: Any, lot: Any, analyst: Any, api_as: Any
) -> None:
    response = post_json(api_as(analyst), url(lot), {"results": [conc()]}, key=None)
    assert response.status_code == 201
    result = Result.objects.get()
    assert result.entered_by_user == analyst and result.posted_by_client is None
    assert AuditEvent.objects.get(action="lot.results_recorded").actor_name.endswith("(analyst)")


@pytest.mark.requirement("21CFR11.10d")
@pytest.mark.parametrize("persona", ["reviewer", "qa", "qp", "auditor", "admin_user"])
def test_other_roles_read_results_but_cannot_post_them(
    world: Any, lot: Any, persona: str, request: Any, api_as: Any
) -> None:
    client = api_as(request.getfixturevalue(persona))
    assert post_json(client, url(lot), {"results": [conc()]}).status_code == 403
    assert client.get(url(lot)).status_code == 200
    assert Result.objects.count() == 0


def test_anonymous_requests_are_refused(world: Any, lot: Any) -> None:
    from rest_framework.test import APIClient

    assert post_json(APIClient(), url(lot), {"results": [conc()]}).status_code in {401, 403}
    assert APIClient().get(url(lot)).status_code in {401, 403}


# ---------------------------------------------------------------------------
# Corrections and retests: new results that supersede, never edits
# ---------------------------------------------------------------------------


@pytest.mark.requirement("ALCOA-original")
@pytest.mark.requirement("21CFR11.10e")
def test_a_correction_is_a_new_result_superseding_the_old_one(
    world: Any, lot: Any, mes_api: Any
) -> None:
    first = post_json(mes_api, url(lot), {"results": [conc("2.1e11")]}).json()["results"][0]
    body = {
        "results": [conc("2.2e11", supersedes=first["id"], supersede_reason="transcription error")]
    }
    response = post_json(mes_api, url(lot), body)
    assert response.status_code == 201, response.json()
    listed = mes_api.get(url(lot)).json()["results"]
    assert [r["value"] for r in listed] == ["2.1e11", "2.2e11"]
    assert listed[0]["superseded_by"] == listed[1]["id"]
    assert listed[1]["supersedes"] == first["id"]
    assert listed[1]["supersede_reason"] == "transcription error"
    event = AuditEvent.objects.filter(action="lot.results_recorded").last()
    assert event is not None
    assert event.new_values["supersessions"] == [
        {"result": listed[1]["id"], "supersedes": first["id"], "reason": "transcription error"}
    ]
    again = {"results": [conc("2.3e11", supersedes=first["id"], supersede_reason="again")]}
    refused = post_json(mes_api, url(lot), again)
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert (error["field"], error["code"]) == ("supersedes", "already_superseded")


@pytest.mark.requirement("ALCOA-original")
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_results_cannot_be_changed_or_deleted_through_the_api(
    world: Any, lot: Any, mes_api: Any, analyst: Any, api_as: Any, method: str
) -> None:
    result_id = post_json(mes_api, url(lot), {"results": [conc()]}).json()["results"][0]["id"]
    for client in (mes_api, api_as(analyst)):
        for target in (f"/api/v1/results/{result_id}/", url(lot)):
            response = getattr(client, method)(target, {"value": "1"}, format="json")
            assert response.status_code == 405, (target, response.status_code)
    assert Result.objects.get().value_as_posted == "2.1e11"


@pytest.mark.requirement("ALCOA-original")
@pytest.mark.requirement("21CFR11.10e")
def test_the_database_refuses_to_update_or_delete_a_result(
    world: Any, lot: Any, mes_api: Any
) -> None:
    post_json(mes_api, url(lot), {"results": [conc()]})
    for attempt in (
        lambda: Result.objects.update(value_as_posted="1"),
        lambda: Result.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
            attempt()
    assert Result.objects.get().value_as_posted == "2.1e11"


# ---------------------------------------------------------------------------
# Refused input: 400 naming index and field; nothing stored, nothing audited
# ---------------------------------------------------------------------------

FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
SKEWED = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()

BAD_ITEMS = [
    pytest.param(
        {"test": "NOPE", "value": 1, "unit": "nm"}, "test", "unknown_test", id="unknown-test"
    ),
    pytest.param({"value": 1, "unit": "nm"}, "test", "required", id="missing-test"),
    pytest.param(conc("abc"), "value", "value_not_a_number", id="numeric-test-text-value"),
    pytest.param(conc(True), "value", "wrong_type", id="boolean-value"),
    pytest.param({"test": "STERILITY", "value": 3}, "value", "wrong_type", id="qualitative-number"),
    pytest.param(
        {"test": "STERILITY", "value": "cloudy"}, "value", "value_not_allowed", id="not-allowed"
    ),
    pytest.param(
        {"test": "MYCO", "value": "maybe"}, "value", "value_not_allowed", id="detection-value"
    ),
    pytest.param(conc("NaN"), "value", "value_not_finite", id="nan-text"),
    pytest.param(conc("-Infinity"), "value", "value_not_finite", id="infinite-text"),
    pytest.param(conc("1e999"), "value", "value_out_of_range", id="too-large"),
    pytest.param(conc("-5e10"), "value", "negative_not_allowed", id="negative-count"),
    pytest.param(conc(None), "value", "required", id="missing-value"),
    pytest.param(conc("2.1 x10^11/mL"), "value", "value_has_unit", id="unit-inside-value"),
    pytest.param(conc(unit="nm"), "unit", "unit_not_convertible", id="wrong-dimension"),
    pytest.param(conc(unit="furlongs"), "unit", "unit_unknown", id="unknown-unit"),
    pytest.param({"test": "NTA-CONC", "value": "2e11"}, "unit", "required", id="missing-unit"),
    pytest.param(conc(qualifier="~"), "qualifier", "qualifier_invalid", id="bad-qualifier"),
    pytest.param(
        conc("< 1", qualifier=">"), "qualifier", "qualifier_contradicts_value", id="two-qualifiers"
    ),
    pytest.param(conc(performed_at=FUTURE), "performed_at", "in_the_future", id="future"),
    pytest.param(
        conc(performed_at="2025-03-01T10:00:00"), "performed_at", "utc_offset_required", id="naive"
    ),
    pytest.param(conc(performed_at="yesterday"), "performed_at", "not_a_datetime", id="not-a-date"),
    pytest.param(conc(run="RUN-404"), "run", "unknown_run", id="unknown-run"),
    pytest.param(conc(replicate=0), "replicate", "out_of_range", id="replicate-zero"),
    pytest.param(conc(replicate="2"), "replicate", "not_a_whole_number", id="replicate-text"),
    pytest.param(
        conc(supersedes=999999, supersede_reason="x"), "supersedes", "supersedes_unknown", id="sup"
    ),
    pytest.param(
        conc(supersede_reason="why"),
        "supersede_reason",
        "supersede_reason_without_supersedes",
        id="reason-alone",
    ),
    pytest.param(conc(colour="red"), "colour", "unknown_field", id="unknown-field"),
    pytest.param(conc(performed_by=7), "performed_by", "wrong_type", id="performer-not-text"),
    pytest.param("2.1e11", None, "not_an_object", id="item-not-an-object"),
]


@pytest.mark.requirement("21CFR11.10e")
@pytest.mark.parametrize(("item", "field", "code"), BAD_ITEMS)
def test_a_bad_item_is_refused_by_index_and_field_and_nothing_is_stored(
    world: Any, lot: Any, mes_api: Any, item: Any, field: str | None, code: str
) -> None:
    before = counts()
    response = post_json(mes_api, url(lot), {"results": [conc(), conc(), item]})
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["detail"].endswith("nothing was stored")
    assert body["errors"][0]["index"] == 2
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["reason"], "every problem says why in words too"
    assert counts() == before, "a refused request stores nothing and audits nothing"


def test_clock_skew_of_a_few_minutes_is_tolerated(world: Any, lot: Any, mes_api: Any) -> None:
    assert post_json(mes_api, url(lot), {"results": [conc(performed_at=SKEWED)]}).status_code == 201


def test_a_negative_value_is_fine_where_the_test_allows_it(
    world: Any, lot: Any, mes_api: Any
) -> None:
    item = {"test": "SPIKE-BIAS", "value": "-3.5", "unit": "%"}
    assert post_json(mes_api, url(lot), {"results": [item]}).status_code == 201


def test_a_json_nan_or_infinity_literal_is_refused_by_index(
    world: Any, lot: Any, mes_api: Any
) -> None:
    body = '{"results": [{"test": "NTA-CONC", "value": NaN, "unit": "particles/mL"},' + (
        '{"test": "NTA-CONC", "value": Infinity, "unit": "particles/mL"}]}'
    )
    response = post_json(mes_api, url(lot), body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"], e["code"]) for e in errors] == [
        (0, "value", "value_not_finite"),
        (1, "value", "value_not_finite"),
    ]
    assert Result.objects.count() == 0


def test_raw_data_with_nan_is_refused(world: Any, lot: Any, mes_api: Any) -> None:
    body = '{"results": [{"test": "MYCO", "value": "detected", "raw_data": {"ct": NaN}}]}'
    response = post_json(mes_api, url(lot), body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("raw_data", "raw_data_not_finite")


def test_supersedes_must_name_a_result_of_the_same_lot_and_test(
    world: Any, lot: Any, mes_api: Any
) -> None:
    other_lot = world.lot("LOT-OTHER")
    mine = post_json(mes_api, url(lot), {"results": [conc()]}).json()["results"][0]["id"]
    theirs = post_json(mes_api, url(other_lot), {"results": [conc()]}).json()["results"][0]["id"]
    before = counts()
    body = {
        "results": [
            conc(supersedes=theirs, supersede_reason="typo"),
            {
                "test": "LAL",
                "value": "0.1",
                "unit": "EU/mL",
                "supersedes": mine,
                "supersede_reason": "typo",
            },
            conc(supersedes=mine),
        ]
    }
    response = post_json(mes_api, url(lot), body)
    assert response.status_code == 400
    errors = [(e["index"], e["field"], e["code"]) for e in response.json()["errors"]]
    assert errors == [
        (0, "supersedes", "supersedes_other_lot"),
        (1, "supersedes", "supersedes_other_test"),
        (2, "supersede_reason", "reason_required"),
    ]
    assert counts() == before


def test_two_items_cannot_supersede_the_same_result(world: Any, lot: Any, mes_api: Any) -> None:
    first = post_json(mes_api, url(lot), {"results": [conc()]}).json()["results"][0]["id"]
    twice = [conc(supersedes=first, supersede_reason="retest")] * 2
    response = post_json(mes_api, url(lot), {"results": twice})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error.pop("reason")
    assert error == {"code": "supersedes_claimed_twice", "field": "supersedes", "index": 1}


def test_a_result_in_a_run_of_another_technique_is_refused(
    world: Any, lot: Any, mes_api: Any
) -> None:
    world.run("LAL-RUN", method=world.endotoxin)
    response = post_json(mes_api, url(lot), {"results": [conc(run="LAL-RUN")]})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("run", "run_technique_mismatch")


def test_every_bad_item_of_a_request_is_reported_at_once(
    world: Any, lot: Any, mes_api: Any
) -> None:
    items = [conc(), conc(unit="nm"), conc(), {"test": "X", "value": 1}, conc("-1")]
    response = post_json(mes_api, url(lot), {"results": items})
    assert response.status_code == 400
    assert [(e["index"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (1, "unit", "unit_not_convertible"),
        (3, "test", "unknown_test"),
        (4, "value", "negative_not_allowed"),
    ]
    assert response.json()["detail"] == "3 problems in the request; nothing was stored"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "results", "required"),
        ({"results": []}, "results", "empty"),
        ({"results": {"test": "X"}}, "results", "not_a_list"),
        ({"results": [conc()], "lot": "x"}, "lot", "unknown_field"),
        ([conc()], None, "not_an_object"),
    ],
)
def test_the_body_must_be_an_object_with_a_list_of_results(
    world: Any, lot: Any, mes_api: Any, body: Any, field: str | None, code: str
) -> None:
    response = post_json(mes_api, url(lot), body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)


def test_malformed_json_is_a_400_with_a_reason(world: Any, lot: Any, mes_api: Any) -> None:
    response = post_json(mes_api, url(lot), b'{"results": [{"test": "NTA-CONC",')
    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["parse_error"]
    assert response.json()["detail"], "with the parser's reason in words"
    assert Result.objects.count() == 0


def test_too_many_results_in_one_request_is_a_400(
    world: Any, lot: Any, mes_api: Any, settings: Any
) -> None:
    settings.RESULTS_PER_REQUEST_LIMIT = 3
    response = post_json(mes_api, url(lot), {"results": [conc()] * 4})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error.pop("reason")
    assert error == {"code": "too_many_results", "field": "results", "index": None}
    assert post_json(mes_api, url(lot), {"results": [conc()] * 3}).status_code == 201


def test_a_body_over_the_size_limit_is_a_413_not_a_500(
    world: Any, lot: Any, mes_api: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = post_json(mes_api, url(lot), {"results": [conc()] * 100})
    assert response.status_code == 413
    assert [e["code"] for e in response.json()["errors"]] == ["payload_too_large"]
    assert Result.objects.count() == 0


def test_the_413_holds_on_every_parser_path(
    world: Any, lot: Any, mes_api: Any, analyst: Any, api_as: Any, settings: Any
) -> None:
    """Without an idempotency key DRF's parser reads the body; it must answer 413 too."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    big = {"results": [conc()] * 100}
    assert post_json(api_as(analyst), url(lot), big, key=None).status_code == 413
    lot_body = {
        "lot_number": "BIG-1",
        "product": "EV-MSC-01",
        "manufactured_on": "2025-01-01",
        "process": {"isolation_method": "SEC", "note": "x" * 5000},
    }
    assert post_json(mes_api, "/api/v1/lots/", lot_body).status_code == 413
    assert not Lot.objects.filter(lot_number="BIG-1").exists()


def test_5000_results_are_stored_in_one_request(world: Any, lot: Any, mes_api: Any) -> None:
    items = [conc(f"{i + 1}e9", replicate=i % 3 + 1) for i in range(5000)]
    response = post_json(mes_api, url(lot), {"results": items})
    assert response.status_code == 201
    assert Result.objects.count() == 5000
    event = AuditEvent.objects.get(action="lot.results_recorded")
    assert len(event.records) == 5000


def test_unknown_lot_is_a_404(world: Any, mes_api: Any) -> None:
    response = post_json(mes_api, url("NO-SUCH-LOT"), {"results": [conc()]})
    assert response.status_code == 404
    assert [(e["code"], e["field"]) for e in response.json()["errors"]] == [
        ("lot_not_found", "lot")
    ]
    assert "NO-SUCH-LOT" in response.json()["detail"], "the headline names the lot"
    listed = mes_api.get(url("NO-SUCH-LOT"))
    assert listed.status_code == 404 and listed.json()["errors"][0]["code"] == "lot_not_found"


# ---------------------------------------------------------------------------
# Reading results back
# ---------------------------------------------------------------------------


def test_results_read_back_with_everything_a_reviewer_needs(
    world: Any, lot: Any, mes_api: Any, reviewer: Any, api_as: Any
) -> None:
    post_json(mes_api, url(lot), {"results": [conc("210", "particles/pL", run=None)]})
    [row] = api_as(reviewer).get(url(lot)).json()["results"]
    assert row["value"] == "210" and row["unit"] == "particles/pL"
    assert row["canonical_value"] == "210000000000"
    assert row["canonical_unit"] == "particles/mL"
    assert row["posted_by"] == {"type": "client", "name": "MES-1"}
    assert row["invalidated"] is False and row["invalidation_reason"] is None
    assert row["supersedes"] is None and row["superseded_by"] is None
    assert row["received_at"].endswith("Z")


def test_results_list_filters_by_lot_and_test(world: Any, mes_api: Any) -> None:
    one, two = world.lot("LOT-A"), world.lot("LOT-B")
    post_json(mes_api, url(one), {"results": [conc(), {"test": "MYCO", "value": "detected"}]})
    post_json(mes_api, url(two), {"results": [conc()]})
    assert len(mes_api.get("/api/v1/results/").json()["results"]) == 3
    assert len(mes_api.get("/api/v1/results/?lot=LOT-A").json()["results"]) == 2
    assert len(mes_api.get("/api/v1/results/?lot=LOT-A&test=MYCO").json()["results"]) == 1
    assert len(mes_api.get(url(one) + "?test=NTA-CONC").json()["results"]) == 1
    first = mes_api.get(url(one) + "?test=NTA-CONC").json()["results"][0]["id"]
    fix = conc("2.2e11", supersedes=first, supersede_reason="recount")
    post_json(mes_api, url(one), {"results": [fix]})
    current = mes_api.get(url(one) + "?test=NTA-CONC&current=true").json()["results"]
    assert [r["supersedes"] for r in current] == [first]
    post_json(mes_api, url(one), {"results": []})  # refused; nothing changes
    page = mes_api.get("/api/v1/results/?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    assert len(mes_api.get(page["next"]).json()["results"]) == 2
