"""The release policy table is the one place each action's rule lives (21 CFR 11.10(d),(f),(g)).

These tests walk the table: every action has an endpoint whose permission is read
from it, a web-UI form (or is listed below as not yet having one), and a test that
exercises it; and the statement a signer confirms is the same, returned by the API
before signing and stored with the signature.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from qc.api.permissions import PolicyRoles
from qc.hooks import person_policy
from releases.api.commands import CommandView
from releases.api.investigations import InvestigationListView
from releases.policy import ACTIONS, ActionKey, Subject
from releases.ui.actions import INVESTIGATION_ACTIONS, LOT_ACTIONS
from releases.ui.specifications import ApproveForm, LineForm
from releases.ui.trends import BaselineForm
from services.esign.models import Signature
from tests.releases.factories import ReleaseWorld

TESTS = Path(__file__).resolve().parents[1]
# Actions whose endpoint is not a CommandView of the policy (it checks the same table).
OTHER_ENDPOINTS = {
    ActionKey.OPEN_DEVIATION: InvestigationListView,
}
# Actions with no web-UI form yet.
NO_UI_FORM_YET: set[ActionKey] = set()
# Actions whose form is on their own page, not a lot's or an investigation's panel.
PAGE_FORMS = {
    ActionKey.CONTROL_BASELINE: BaselineForm,
    ActionKey.SPECIFICATION_AUTHOR: LineForm,
    ActionKey.SPECIFICATION_APPROVE: ApproveForm,
}
# Actions whose endpoint lives in the qc app (it may not import the policy; see the note).
QC_ENDPOINTS = {
    ActionKey.CONTROL_BASELINE,
    ActionKey.SPECIFICATION_AUTHOR,
    ActionKey.SPECIFICATION_APPROVE,
    ActionKey.SPECIFICATION_REBIND,
}


def _views(patterns: list[Any]) -> list[Any]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            found.append(getattr(pattern.callback, "view_class", None))
    return found


def _command_views() -> dict[ActionKey, type[CommandView]]:
    return {
        view.key: view
        for view in _views(get_resolver().url_patterns)
        if isinstance(view, type) and issubclass(view, CommandView)
    }


def test_every_action_of_the_policy_has_an_endpoint_that_reads_its_roles() -> None:
    views = _command_views()
    for key, action in ACTIONS.items():
        if key in QC_ENDPOINTS:
            continue
        if key in OTHER_ENDPOINTS:
            assert OTHER_ENDPOINTS[key] in _views(get_resolver().url_patterns), key
            continue
        assert key in views, f"{key} has no endpoint"
        (permission,) = views[key].permission_classes
        assert permission.roles == action.all_roles, key  # type: ignore[attr-defined]


def test_qc_asks_the_policy_who_may_write_approve_and_rebind() -> None:
    """qc may not import the policy; its permissions and services ask it (qc.hooks)."""
    for key in QC_ENDPOINTS:
        assert tuple(PolicyRoles(key.value)) == ACTIONS[key].all_roles
        assert person_policy.roles(key.value) == ACTIONS[key].all_roles


def test_every_lot_and_investigation_action_has_a_ui_form() -> None:
    forms = {spec.key for spec in (*LOT_ACTIONS.values(), *INVESTIGATION_ACTIONS.values())}
    for key, action in ACTIONS.items():
        if key in PAGE_FORMS:
            # A signing form asks for both components of the signature (11.200(a)).
            asked = {"reason", "password"} if action.signs else {"reason"}
            assert asked <= set(PAGE_FORMS[key].base_fields), key
            continue
        if key in NO_UI_FORM_YET:
            assert key not in forms, f"{key} has a form now: take it off NO_UI_FORM_YET"
            continue
        assert key in forms, f"{key} has no web-UI form"
        assert action.subject in {Subject.LOT, Subject.INVESTIGATION}


def test_every_action_is_exercised_by_a_test() -> None:
    corpus = "\n".join(
        path.read_text()
        for path in TESTS.rglob("test_*.py")
        if path.resolve() != Path(__file__).resolve()
    )
    views = _command_views()
    qc_services = {  # the qc app's endpoints, by their path
        ActionKey.SPECIFICATION_AUTHOR: "/lines/",
        ActionKey.SPECIFICATION_APPROVE: "/api/v1/specifications/{spec_id}/approve/",
        ActionKey.SPECIFICATION_REBIND: '/specification/"',
        ActionKey.CONTROL_BASELINE: "control_baseline_sign(",
    }
    for key in ACTIONS:
        names = {f"/{key.value}/", f'"{key.value}"', qc_services.get(key, f"/{key.value}/")}
        if key in views:
            names.add(views[key].service.__name__)
        assert any(name in corpus for name in names), f"no test exercises {key}"


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.django_db(transaction=True)
def test_the_api_returns_the_statement_before_signing_and_the_signature_stores_it(
    world: ReleaseWorld, reviewer: Any, qa: Any, password: str, api_as: Any
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    base = f"/api/v1/lots/{lot.lot_number}"
    checklist = api_as(qa).get(f"{base}/release-checklist/?action=approve").json()
    assert checklist["meaning"] == "approved"
    offers = {offer["key"]: offer for offer in checklist["actions"]}
    assert offers["approve"]["statement"] == checklist["statement"]
    assert offers["approve"]["allowed"] and offers["approve"]["applies"]
    assert not offers["release"]["allowed"]  # a QA officer does not certify
    assert lot.lot_number in checklist["statement"] and "EU GMP Annex 16" in checklist["statement"]
    approved = api_as(qa).post(
        f"{base}/approve/", {"password": password, "reason": "records reviewed"}, format="json"
    )
    assert approved.status_code == 201, approved.content
    signature = Signature.objects.get(pk=approved.json()["signature"]["id"])
    assert signature.statement == checklist["statement"]
    assert approved.json()["signature"]["statement"] == checklist["statement"]


@pytest.mark.requirement("21CFR11.50")
@pytest.mark.django_db(transaction=True)
def test_the_web_ui_shows_the_words_the_api_returns(
    world: ReleaseWorld, reviewer: Any, qa: Any, api_as: Any, client: Any
) -> None:
    lot = world.reviewed(world.ready_lot(), reviewer, qa)
    checklist = api_as(qa).get(f"/api/v1/lots/{lot.lot_number}/release-checklist/").json()
    client.force_login(qa)
    page = client.get(f"/lots/{lot.lot_number}/").content.decode()
    statements = {offer["key"]: offer["statement"] for offer in checklist["actions"]}
    shown = re.sub(r"\s+", " ", page.replace("&#x27;", "'"))
    assert statements["approve"] in shown


def test_every_investigation_form_and_input_asks_for_a_password_exactly_when_it_signs() -> None:
    """One signature per act, with the policy's meaning: a signing action's form and API
    input take the password, the others never do (21 CFR 11.200(a))."""
    views = _command_views()
    for spec in INVESTIGATION_ACTIONS.values():
        action = ACTIONS[spec.key]
        assert ("password" in spec.form_class.base_fields) == action.signs, spec.key
        assert ("password" in views[spec.key].input_class().fields) == action.signs, spec.key
    assert ACTIONS[ActionKey.PHASE_ONE].meaning == ACTIONS[ActionKey.CONCLUDE].meaning


def test_conclude_applies_after_phase_two_only_once_its_findings_are_recorded() -> None:
    from django.utils import timezone

    from releases.models import Investigation
    from releases.policy import investigation_state_problems

    def codes(**fields: Any) -> list[str]:
        investigation = Investigation(kind="oos", **fields)
        return [code for code, _ in investigation_state_problems(ActionKey.CONCLUDE, investigation)]

    assert codes(phase="phase_1") == ["wrong_phase"]
    assert codes(phase="phase_2") == ["phase_two_not_recorded"]
    assert codes(phase="phase_2", phase_two_recorded_at=timezone.now()) == []
    assert codes(phase="closed") == ["closed"]
    deviation = Investigation(kind="deviation", phase="phase_1")
    assert investigation_state_problems(ActionKey.CONCLUDE, deviation) == []
    assert [c for c, _ in investigation_state_problems(ActionKey.PHASE_TWO, deviation)] == [
        "not_phased",
        "wrong_phase",
    ]
