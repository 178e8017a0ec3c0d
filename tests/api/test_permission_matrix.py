"""The permission matrix: every API operation and every web-UI URL, with every identity
(21 CFR 11.10(d),(g); 11.100).

Each operation of ``openapi.yaml`` and each URL of the resolver (admin, static, the
Swagger UI/ReDoc pages and login/logout aside) is requested as anonymous, as a
machine client (``Api-Key``) and as each role.  *Allowed* means the request got past
authorization: any status but 401 and 403 (and, for a web page, no redirect to the
login page); a POST sends an empty body, so an allowed one is usually refused by
validation (400), never signed.  The expected set comes from one declaration:

* commands (``CommandView``): the people of ``ACTIONS[view.key].all_roles``;
  the web UI's action forms: ``ACTIONS[key].roles_for(lot)``; never a machine;
* QC writes (``QcViewMixin``): the view's ``writers`` (``MACHINE`` for API keys);
* everything else: the read rules of :data:`API_RULES` and :data:`UI_RULES` below.

An operation or URL with no rule is an error naming it, so a new endpoint cannot
ship without saying who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from qc.api.permissions import MACHINE
from qc.api.views import QcViewMixin
from releases.api.commands import CommandView
from releases.policy import ACTIONS, ActionKey
from releases.ui.actions import INVESTIGATION_ACTIONS, LOT_ACTIONS
from services.accounts.models import Role

pytestmark = [pytest.mark.requirement("21CFR11.10g")]

ROOT = Path(__file__).resolve().parents[2]

# --- who: the identities, and the sets the rules name ------------------------------

ANONYMOUS = "anonymous"
MES = "machine client"
PERSONS = {  # demo account -> role
    "analyst": Role.QC_ANALYST,
    "reviewer": Role.QC_REVIEWER,
    "qa": Role.QA_OFFICER,
    "qp": Role.QUALIFIED_PERSON,
    "auditor": Role.AUDITOR,
    "admin": Role.ADMINISTRATOR,
}
IDENTITIES = (ANONYMOUS, MES, *PERSONS)


def people(*roles: str) -> frozenset[str]:
    return frozenset(name for name, role in PERSONS.items() if role in roles)


EVERYONE = frozenset(IDENTITIES)  # operational endpoints, behind the ingress
PEOPLE = people(*Role.values)
READERS = PEOPLE | {MES}  # QC data and decisions: every person and machine clients
AUDIT_READERS = people(Role.AUDITOR, Role.QA_OFFICER, Role.QUALIFIED_PERSON, Role.ADMINISTRATOR)
QA_QP = people(Role.QA_OFFICER, Role.QUALIFIED_PERSON)

# Derived rules (markers): the policy table, or the QC view's writers.
POLICY = "policy"
WRITERS = "writers"

# --- the one declaration: what each operation and page is ------------------------

# API operations, by openapi path and method.  Commands and QC writes are POLICY or
# WRITERS (the roles come from the code they name); reads say who reads.
API_RULES: dict[str, dict[str, Any]] = {
    # QC data: machine clients and every person read; writers per view.
    "/api/v1/products/": {"get": READERS},
    "/api/v1/products/{code}/": {"get": READERS},
    "/api/v1/products/{code}/specification/": {"get": READERS},
    "/api/v1/products/{code}/specifications/": {"get": READERS, "post": WRITERS},
    "/api/v1/products/{code}/specifications/{version}/impact/": {"get": QA_QP},
    "/api/v1/test-methods/": {"get": READERS},
    "/api/v1/test-methods/{code}/": {"get": READERS},
    "/api/v1/instruments/": {"get": READERS},
    "/api/v1/instruments/{code}/": {"get": READERS},
    "/api/v1/reference-materials/": {"get": READERS},
    "/api/v1/reference-materials/{id}/": {"get": READERS},
    "/api/v1/specifications/": {"get": READERS},
    "/api/v1/specifications/{id}/": {"get": READERS},
    "/api/v1/specifications/{id}/approve/": {"post": WRITERS},
    "/api/v1/specifications/{id}/lines/": {"post": WRITERS},
    "/api/v1/specifications/{id}/new-draft/": {"post": WRITERS},
    "/api/v1/specifications/{id}/withdraw/": {"post": WRITERS},
    "/api/v1/lots/": {"get": READERS, "post": WRITERS},
    "/api/v1/lots/{lot_number}/": {"get": READERS},
    "/api/v1/lots/{lot_number}/specification/": {"post": WRITERS},
    "/api/v1/lots/{lot_number}/results/": {"get": READERS, "post": WRITERS},
    "/api/v1/lots/{lot_number}/evaluation/": {"get": READERS},
    "/api/v1/lots/{lot_number}/evaluations/": {"get": READERS},
    "/api/v1/assay-runs/": {"get": READERS, "post": WRITERS},
    "/api/v1/assay-runs/{external_run_id}/": {"get": READERS},
    "/api/v1/results/": {"get": READERS},
    "/api/v1/results/{id}/": {"get": READERS},
    "/api/v1/trends/{product}/{test}/": {"get": READERS},
    "/api/v1/trends/{product}/{test}/baselines/": {"post": ActionKey.CONTROL_BASELINE},
    # Decisions: every person and machine clients (an MES fetches the certificate).
    "/api/v1/releases/": {"get": READERS},
    "/api/v1/lots/{lot_number}/dispositions/": {"get": READERS},
    "/api/v1/lots/{lot_number}/certificate.json": {"get": READERS},
    "/api/v1/lots/{lot_number}/certificate.pdf": {"get": READERS},
    "/api/v1/lots/{lot_number}/certificates/": {"get": READERS},
    # The release workflow: people read it; the policy says who acts.
    "/api/v1/lots/{lot_number}/release-checklist/": {"get": PEOPLE},
    "/api/v1/lots/{lot_number}/approve/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/release/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/conditional-release/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/finalise/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/reject/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/hold/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/release-hold/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/audit-trail-review/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/result-review/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/recall-decision/": {"post": POLICY},
    "/api/v1/lots/{lot_number}/certificate/correct/": {"post": POLICY},
    "/api/v1/investigations/": {"get": PEOPLE, "post": ActionKey.OPEN_DEVIATION},
    "/api/v1/investigations/{number}/": {"get": PEOPLE},
    "/api/v1/investigations/{number}/entries/": {"post": POLICY},
    "/api/v1/investigations/{number}/phase-one-conclusion/": {"post": POLICY},
    "/api/v1/investigations/{number}/invalidate-result/": {"post": POLICY},
    "/api/v1/investigations/{number}/allow-retest/": {"post": POLICY},
    "/api/v1/investigations/{number}/phase-two/": {"post": POLICY},
    "/api/v1/investigations/{number}/conclude/": {"post": POLICY},
    "/api/v1/investigations/{number}/attachments/": {"post": POLICY},
    "/api/v1/investigations/{number}/attachments/{id}/": {"get": PEOPLE},
    "/api/v1/notifications/": {"get": PEOPLE},
    "/api/v1/notifications/read-all/": {"post": PEOPLE},
    "/api/v1/notifications/{id}/read/": {"post": PEOPLE},
    # The audit trail in every form: auditor, QA, QP and administrator.
    "/api/v1/audit-events/": {"get": AUDIT_READERS},
    "/api/v1/signatures/": {"get": AUDIT_READERS},
    "/api/v1/signatures/{id}/": {"get": AUDIT_READERS},
    "/api/v1/audit-chain/verifications/": {"get": AUDIT_READERS, "post": AUDIT_READERS},
    "/api/v1/audit-chain/verifications/{run_id}/": {"get": AUDIT_READERS},
}

# Web pages, by route (as the resolver spells it) and method; {lot}, {inv} etc. are
# filled below.  The action forms are POLICY, one URL per form.
UI_RULES: dict[str, dict[str, Any]] = {
    "": {"get": PEOPLE},
    "lots/": {"get": PEOPLE},
    "releases/": {"get": PEOPLE},
    "lots/<str:lot_number>/": {"get": PEOPLE},  # its audit-trail section: AUDIT_READERS
    "lots/<str:lot_number>/actions/<slug:key>/": {"post": POLICY},
    "lots/<str:lot_number>/history/": {"get": AUDIT_READERS},
    "lots/<str:lot_number>/certificates/v<int:version>.<str:kind>": {"get": PEOPLE},
    "investigations/": {"get": PEOPLE},
    "investigations/<str:number>/": {"get": PEOPLE},
    "investigations/<str:number>/actions/<slug:key>/": {"post": POLICY},
    "investigations/<str:number>/attachments/<int:pk>/": {"get": PEOPLE},
    "notifications/": {"get": PEOPLE},
    "notifications/<int:pk>/": {"get": PEOPLE},
    "trends/": {"get": PEOPLE},
    "trends/<str:product_code>/<str:test_code>/": {"get": PEOPLE},
    "trends/<str:product_code>/<str:test_code>/baseline/": {"post": POLICY},
    "specifications/": {"get": PEOPLE},
    "specifications/<str:product_code>/compare/": {"get": PEOPLE},
    "specifications/<str:product_code>/v<int:version>/": {"get": PEOPLE},
    "specifications/<str:product_code>/v<int:version>/impact/": {"get": QA_QP},
    "specifications/<str:product_code>/v<int:version>/lines/": {
        "post": ActionKey.SPECIFICATION_AUTHOR
    },
    "specifications/<str:product_code>/v<int:version>/lines/<int:line_id>/": {
        "post": ActionKey.SPECIFICATION_AUTHOR
    },
    "specifications/<str:product_code>/v<int:version>/lines/<int:line_id>/remove/": {
        "post": ActionKey.SPECIFICATION_AUTHOR
    },
    "specifications/<str:product_code>/v<int:version>/new-draft/": {
        "post": ActionKey.SPECIFICATION_AUTHOR
    },
    "specifications/<str:product_code>/v<int:version>/approve/": {
        "post": ActionKey.SPECIFICATION_APPROVE
    },
    "reference-materials/": {"get": PEOPLE},
    "reference-materials/<int:material_id>/": {"get": PEOPLE},
    "notifications/read-all/": {"post": PEOPLE},
    "notifications/<int:pk>/read/": {"post": PEOPLE},
    "audit/": {"get": AUDIT_READERS},
    "audit/chain/verify/": {"post": AUDIT_READERS},
    "audit/chain/<str:run_id>/": {"get": AUDIT_READERS},
    # Operational: probes; Prometheus only with its bearer token (none here: refused to
    # everyone, METRICS_PUBLIC opens it); the schema to people and machine clients.
    "healthz/live": {"get": EVERYONE},
    "healthz/ready": {"get": EVERYONE},
    "metrics": {"get": frozenset()},
    "api/schema/": {"get": READERS},
}
# "^api/" is the JSON 404 for anything else under /api/: it names no page.
UI_SKIPPED = (
    "admin/",
    "static/",
    "media/",
    "api/v1/",
    "api/docs/",
    "api/redoc/",
    "accounts/",
    "^api/",
)

LOT = "EVX-24-001"


# --- walking the schema and the resolver ---------------------------------------------


def api_operations() -> list[tuple[str, str]]:
    schema = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    methods = {"get", "post", "put", "patch", "delete"}
    return [(path, m) for path, ops in schema["paths"].items() for m in ops if m in methods]


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if not route.startswith(UI_SKIPPED):
                yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not route.startswith(UI_SKIPPED):
            yield route


def ui_routes() -> list[str]:
    return list(dict.fromkeys(_routes(get_resolver().url_patterns)))


def test_every_operation_and_page_has_a_rule() -> None:
    """No database: a new endpoint or page without an entry fails here, named."""
    missing = [
        f"{method.upper()} {path}"
        for path, method in api_operations()
        if method not in API_RULES.get(path, {})
    ]
    missing += [f"page {route!r}" for route in ui_routes() if route not in UI_RULES]
    assert not missing, "no rule in tests/api/test_permission_matrix.py for: " + ", ".join(missing)
    operations = {(path, method) for path, method in api_operations()}
    stale = [
        f"{m.upper()} {p}" for p, ms in API_RULES.items() for m in ms if (p, m) not in operations
    ]
    stale += [route for route in UI_RULES if route not in ui_routes()]
    assert not stale, f"rules for operations or pages that no longer exist: {stale}"


# --- the expected set ------------------------------------------------------------


def expected_api(path: str, method: str, url: str) -> frozenset[str]:
    rule = API_RULES[path][method]
    match = resolve(url.split("?")[0])
    view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    if rule == POLICY:
        assert isinstance(view, type) and issubclass(view, CommandView), f"{path}: not a command"
        return people(*ACTIONS[view.key].all_roles)
    if rule == WRITERS:
        assert isinstance(view, type) and issubclass(view, QcViewMixin), f"{path}: not QC"
        instance = view()
        actions = getattr(match.func, "actions", None) or {}
        instance.action = actions.get(method, "")
        writers = tuple(instance.writers)
        return people(*writers) | ({MES} if MACHINE in writers else set())
    if isinstance(rule, ActionKey):
        return people(*ACTIONS[rule].all_roles)
    return frozenset(rule)


# --- requests ----------------------------------------------------------------------


def _api_client(identity: str, key: str) -> APIClient:
    from services.accounts.models import User

    client = APIClient(REMOTE_ADDR=f"10.0.0.{IDENTITIES.index(identity) + 1}")
    if identity == MES:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    elif identity != ANONYMOUS:
        client.force_login(User.objects.get(username=identity))
    return client


def _ui_client(identity: str, key: str) -> Client:
    from services.accounts.models import User

    client = Client(REMOTE_ADDR=f"10.0.1.{IDENTITIES.index(identity) + 1}")
    if identity == MES:  # a machine's key means nothing to the web UI
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    elif identity != ANONYMOUS:
        client.force_login(User.objects.get(username=identity))
    return client


def _allowed(response: Any) -> bool:
    if response.status_code in {401, 403}:
        return False
    return not (
        response.status_code in {301, 302} and "/accounts/login/" in response.get("Location", "")
    )


def _call(client: Any, method: str, url: str) -> Any:
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data="{}", content_type="application/json")


def _demo_values() -> dict[str, str]:
    """Path parameters, from the seeded demo."""
    from qc.models import AssayRun, Instrument, ReferenceMaterial, Result, Specification, TestMethod
    from releases.models import Investigation
    from services.esign.models import Signature

    spec = Specification.objects.order_by("pk").first()
    signature = Signature.objects.order_by("pk").first()
    return {
        "lot_number": LOT,
        "code": "EVX-MSC-01",
        "number": Investigation.objects.order_by("pk").values_list("number", flat=True)[0],
        "id": str(spec.pk if spec else 1),
        "version": "2",
        "external_run_id": AssayRun.objects.values_list("external_run_id", flat=True)[0],
        "run_id": "no-such-run",
        "pk": "999999",
        "product": "EVX-MSC-01",
        "test": "NTA-CONC",
        # A line of v1 (the effective version: an allowed edit is refused, 409, never made).
        "line_id": str(spec.lines.values_list("pk", flat=True)[0] if spec else 1),
        # Per-path ids where {id} is not a specification:
        "reference-materials": str(ReferenceMaterial.objects.values_list("pk", flat=True)[0]),
        "results": str(Result.objects.values_list("pk", flat=True)[0]),
        "signatures": str(signature.pk if signature else 1),
        "notifications": "999999",
        "instruments": Instrument.objects.values_list("code", flat=True)[0],
        "test-methods": TestMethod.objects.values_list("code", flat=True)[0],
    }


def _fill_api(path: str, values: dict[str, str]) -> str:
    collection = path.removeprefix("/api/v1/").split("/")[0]

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in {"id", "code"} and collection in values:
            return values[collection]
        assert name in values, f"{path}: no demo value for the path parameter {{{name}}}"
        return values[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _ui_urls(route: str, values: dict[str, str]) -> list[tuple[str, str | None]]:
    """(url, policy action key) for a route; one URL per form for the action routes."""
    filled = route.replace("<str:lot_number>", LOT).replace("<str:number>", values["number"])
    filled = filled.replace("<int:version>", "1").replace("<str:kind>", "pdf")
    filled = filled.replace("<int:pk>", values["pk"]).replace("<str:run_id>", "no-such-run")
    filled = filled.replace("<int:line_id>", values["line_id"])
    filled = filled.replace("<int:material_id>", values["reference-materials"])
    filled = filled.replace("<str:product_code>", "EVX-MSC-01").replace(
        "<str:test_code>", "NTA-CONC"
    )
    if filled.endswith("/baseline/"):
        return [("/" + filled, "control-baseline")]
    if "<slug:key>" in filled:
        keys = LOT_ACTIONS if route.startswith("lots/") else INVESTIGATION_ACTIONS
        return [("/" + filled.replace("<slug:key>", key), key) for key in keys]
    assert "<" not in filled, f"page {route!r}: no demo value for its path parameters"
    return [("/" + filled, None)]


# --- the matrix ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_permission_matrix(evaluated_demo: None) -> None:
    """Every operation and page, with every identity, against the declaration."""
    from qc.models import Lot
    from services.accounts.services import api_client_create
    from services.audit.services import Actor

    _, key = api_client_create(name="MES-MATRIX", actor=Actor.system("tests"))
    values = _demo_values()
    lot = Lot.objects.select_related("product").get(lot_number=LOT)
    api = {identity: _api_client(identity, key) for identity in IDENTITIES}
    ui = {identity: _ui_client(identity, key) for identity in IDENTITIES}
    wrong: list[str] = []

    def check(label: str, expected: frozenset[str], clients: dict[str, Any], method: str) -> None:
        url = label.split(" ", 1)[1]
        got = {who for who in IDENTITIES if _allowed(_call(clients[who], method, url))}
        if got != expected:
            extra, lacking = sorted(got - expected), sorted(expected - got)
            wrong.append(f"{label}: also allowed {extra}, refused {lacking}")

    for path, method in api_operations():
        if method not in API_RULES.get(path, {}):
            wrong.append(f"{method.upper()} {path}: no rule")
            continue
        url = _fill_api(path, values)
        check(f"{method.upper()} {url}", expected_api(path, method, url), api, method)

    for route in ui_routes():
        if route not in UI_RULES:
            wrong.append(f"page {route!r}: no rule")
        for method, rule in UI_RULES.get(route, {}).items():
            for url, action in _ui_urls(route, values):
                if rule == POLICY:
                    assert action is not None
                    spec_key = ActionKey(action)
                    roles = ACTIONS[spec_key].roles_for(lot if route.startswith("lots/") else None)
                    expected = people(*roles)
                elif isinstance(rule, ActionKey):  # a page's own form (specifications)
                    expected = people(*ACTIONS[rule].all_roles)
                else:
                    expected = frozenset(rule)
                check(f"{method.upper()} {url}", expected, ui, method)

    # The lot's audit trail, wherever it is shown, follows the audit-trail rule.
    for identity in PERSONS:
        page = ui[identity].get(f"/lots/{LOT}/").content.decode()
        shown = 'id="audit-trail"' in page, f"/lots/{LOT}/history/" in page
        if shown != ((identity in AUDIT_READERS),) * 2:
            wrong.append(f"lot page's audit-trail section and history link for {identity}: {shown}")
        trail = api[identity].get(f"/api/v1/audit-events/?lot={LOT}").status_code
        if (trail == 200) != (identity in AUDIT_READERS):
            wrong.append(f"GET /api/v1/audit-events/?lot={LOT} for {identity}: {trail}")

    assert not wrong, "the permission matrix disagrees with its declaration:\n" + "\n".join(wrong)
