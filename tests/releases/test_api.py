"""The release API: commands by role, refusals with every reason, reads."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt

from qc.models import LotStatus
from releases.models import Investigation, Notification
from tests.releases.factories import ReleaseWorld, release_world

pytestmark = [pytest.mark.django_db(transaction=True)]


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, format="json")


def _review_over_api(api_as: Any, lot: Any, reviewer: Any, qa: Any, password: str) -> None:
    base = f"/api/v1/lots/{lot.lot_number}"
    response = _post(
        api_as(reviewer),
        f"{base}/result-review/",
        {"password": password, "reason": "raw data checked"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["signature"]["meaning"] == "reviewed"
    response = _post(
        api_as(qa),
        f"{base}/audit-trail-review/",
        {"password": password, "reason": "no unexplained changes"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["up_to_sequence"] > 0


@pytest.mark.requirement("EU-GMP-Annex16")
@pytest.mark.requirement("21CFR11.50")
def test_approve_and_certify_over_the_api(
    world: ReleaseWorld,
    reviewer: Any,
    qa: Any,
    qp: Any,
    auditor: Any,
    password: str,
    api_as: Any,
) -> None:
    lot = world.ready_lot()
    _review_over_api(api_as, lot, reviewer, qa, password)
    base = f"/api/v1/lots/{lot.lot_number}"
    checklist = api_as(qa).get(f"{base}/release-checklist/?action=approve").json()
    assert checklist["ready"] is True and all(c["passed"] for c in checklist["checks"])
    approved = _post(
        api_as(qa),
        f"{base}/approve/",
        {"password": password, "reason": "batch record reviewed", "meaning": "approved"},
    )
    assert approved.status_code == 201, approved.content
    assert approved.json()["status_after"] == "approved"
    released = _post(api_as(qp), f"{base}/release/", {"password": password, "reason": "certified"})
    assert released.status_code == 201, released.content
    body = released.json()
    assert body["decision"] == "released" and body["evaluation"]["verdict"] == "conforms"
    assert body["signature"]["printed_name"] == qp.get_full_name()
    assert body["signature"]["meaning"] == "released" and body["signature"]["intact"] is True
    history = api_as(auditor).get(f"{base}/dispositions/").json()
    assert [d["decision"] for d in history] == ["approved", "released"]


@pytest.mark.requirement("21CFR211.165a")
def test_a_refused_release_answers_409_with_every_reason(
    world: ReleaseWorld, qa: Any, password: str, api_as: Any
) -> None:
    lot = world.lot()
    world.results(lot, skip=("STERILITY",))
    world.evaluate(lot)
    response = _post(
        api_as(qa), f"/api/v1/lots/{lot.lot_number}/approve/", {"password": password, "reason": "x"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == f"Lot {lot.lot_number} cannot be approved"
    # Every reason, each with its code: the status, sterility, and the two reviews.
    assert [e["code"] for e in body["errors"]] == [
        "wrong_state",
        "line_missing",
        "audit_trail_not_reviewed",
        "results_not_reviewed",
    ]
    assert all(e["reason"] and e["field"] is None for e in body["errors"])


@pytest.mark.requirement("21CFR11.300d")
@pytest.mark.requirement("21CFR11.10g")
def test_wrong_password_wrong_role_and_machines_get_403(
    world: ReleaseWorld,
    reviewer: Any,
    qa: Any,
    analyst: Any,
    password: str,
    api_as: Any,
    mes_api: Any,
) -> None:
    lot = world.ready_lot()
    url = f"/api/v1/lots/{lot.lot_number}/approve/"
    wrong = _post(api_as(qa), url, {"password": "not it", "reason": "x"})
    assert wrong.status_code == 403
    assert "password is wrong" in wrong.json()["detail"]
    assert AccessAttempt.objects.get(username="qa").failures_since_start == 1
    assert _post(api_as(analyst), url, {"password": password, "reason": "x"}).status_code == 403
    machine = _post(mes_api, url, {"password": password, "reason": "x"})
    assert machine.status_code == 403
    assert "machine clients can never sign" in machine.json()["detail"]
    assert (
        _post(
            api_as(qa), "/api/v1/lots/NOPE/approve/", {"password": password, "reason": "x"}
        ).status_code
        == 404
    )
    bad = _post(api_as(qa), url, {"password": password, "reason": "x", "meaning": "released"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "meaning"
    typo = _post(api_as(qa), url, {"password": password, "reasn": "x"})
    assert typo.status_code == 400


def test_hold_and_release_hold_over_the_api(world: ReleaseWorld, qa: Any, api_as: Any) -> None:
    lot = world.ready_lot()
    base = f"/api/v1/lots/{lot.lot_number}"
    held = _post(api_as(qa), f"{base}/hold/", {"reason": "environmental excursion in grade A"})
    assert held.status_code == 201 and held.json()["status_after"] == "on_hold"
    assert held.json()["signature"] is None
    back = _post(api_as(qa), f"{base}/release-hold/", {"reason": "excursion assessed"})
    assert back.status_code == 201 and back.json()["status_after"] == "ready_for_review"
    again = _post(api_as(qa), f"{base}/release-hold/", {"reason": "x"})
    assert again.status_code == 409


@pytest.mark.requirement("21CFR610.1")
@pytest.mark.requirement("FDA-OOS")
def test_the_oos_workflow_over_the_api(
    world: ReleaseWorld, analyst: Any, reviewer: Any, qa: Any, password: str, api_as: Any
) -> None:
    lot = world.lot()
    world.results(lot, LAL="0.80")
    world.evaluate(lot)
    listing = api_as(qa).get(f"/api/v1/investigations/?lot={lot.lot_number}&kind=oos").json()
    assert listing["count"] == 1
    number = listing["results"][0]["number"]
    assert listing["results"][0]["result"]["value"] == "0.80"
    base = f"/api/v1/investigations/{number}"
    check = _post(
        api_as(analyst),
        f"{base}/entries/",
        {"entry_type": "check", "text": "standard curve and spike recovery checked"},
    )
    assert check.status_code == 201, check.content
    concluded = _post(
        api_as(reviewer),
        f"{base}/phase-one-conclusion/",
        {
            "assignable_cause": True,
            "reason": "wrong dilution factor in the run",
            "password": password,
            "meaning": "concluded",
        },
    )
    assert concluded.status_code == 201, concluded.content
    same = _post(
        api_as(reviewer), f"{base}/invalidate-result/", {"password": password, "reason": "agree"}
    )
    assert same.status_code == 409
    assert "a second person must sign it" in same.json()["errors"][0]["reason"]
    signed = _post(
        api_as(qa),
        f"{base}/invalidate-result/",
        {"password": password, "reason": "run record confirms it", "meaning": "invalidated"},
    )
    assert signed.status_code == 201, signed.content
    assert signed.json()["proposed_by"] == "reviewer"
    detail = api_as(qa).get(f"{base}/").json()
    assert detail["phase"] == "closed" and detail["conclusion"] == "invalidated"
    assert [e["entry_type"] for e in detail["entries"]] == [
        "opened",
        "check",
        "phase_one_concluded",
        "invalidation_proposed",
        "result_invalidated",
        "retest_allowed",
    ]
    assert api_as(qa).get("/api/v1/investigations/?open=true").json()["count"] == 0


def test_qa_opens_a_deviation_that_blocks_approval(
    world: ReleaseWorld, reviewer: Any, qa: Any, password: str, api_as: Any
) -> None:
    lot = world.ready_lot()
    _review_over_api(api_as, lot, reviewer, qa, password)
    opened = _post(
        api_as(qa),
        "/api/v1/investigations/",
        {"lot": lot.lot_number, "summary": "filter integrity test repeated"},
    )
    assert opened.status_code == 201, opened.content
    number = opened.json()["number"]
    refused = _post(
        api_as(qa), f"/api/v1/lots/{lot.lot_number}/approve/", {"password": password, "reason": "x"}
    )
    assert refused.status_code == 409
    assert any(number in r for r in [e["reason"] for e in refused.json()["errors"]])
    closed = _post(
        api_as(qa),
        f"/api/v1/investigations/{number}/conclude/",
        {"password": password, "reason": "second test passed; no impact", "conclusion": "assessed"},
    )
    assert closed.status_code == 201, closed.content
    assert closed.json()["entries"][-1]["signature"]["meaning"] == "concluded"
    assert Investigation.objects.get(number=number).phase == "closed"


def test_conditional_release_over_the_api(
    transactional_db: None, reviewer: Any, qa: Any, qp: Any, password: str, api_as: Any
) -> None:
    world = release_world(conditional=True)
    lot = world.lot()
    world.results(lot, skip=("STERILITY",))
    world.evaluate(lot)
    _review_over_api(api_as, lot, reviewer, qa, password)
    response = _post(
        api_as(qp),
        f"/api/v1/lots/{lot.lot_number}/conditional-release/",
        {"password": password, "reason": "10-day shelf life", "pending_tests": ["STERILITY"]},
    )
    assert response.status_code == 201, response.content
    assert response.json()["pending_tests"] == ["STERILITY"]
    lot.refresh_from_db()
    assert lot.status == LotStatus.CONDITIONALLY_RELEASED


def test_notifications_are_listed_and_marked_read(
    world: ReleaseWorld, qa: Any, api_as: Any
) -> None:
    lot = world.ready_lot()
    client = api_as(qa)
    unread = client.get("/api/v1/notifications/?unread=true").json()
    assert unread["count"] == 1 and unread["results"][0]["lot"] == lot.lot_number
    note_id = unread["results"][0]["id"]
    assert client.post(f"/api/v1/notifications/{note_id}/read/").json() == {"marked_read": 1}
    assert client.get("/api/v1/notifications/?unread=true").json()["count"] == 0
    assert Notification.objects.get(pk=note_id).read_at is not None
    assert client.post("/api/v1/notifications/999999/read/").status_code == 404
