"""An off-the-shelf client generated from openapi.yaml imports and does the integrator's job.

``openapi-python-client`` (a pinned dev dependency) generates a Python package from
the committed schema, as an integrator would; every module of it must import, and
with that package alone (no hand-written HTTP) a machine client registers a lot,
posts an assay run with its control and the lot's results in bulk, reads them back
and reads the evaluation, against a live test server.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCHEMA = Path(__file__).resolve().parents[2] / "openapi.yaml"
PACKAGE = "evrelease_generated_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported (every module of it), then forgotten again."""
    root = tmp_path_factory.mktemp("client")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: what is generated is tested
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(SCHEMA),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The one warning allowed: a PDF download has no JSON body for the client to parse
    # (the client then returns the raw response, which is what a download needs).
    output = done.stdout + done.stderr
    warnings = [
        line
        for line in output.splitlines()
        if line.startswith("WARNING") and "certificate.pdf" not in line
    ]
    assert not warnings, output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_every_module_of_the_generated_client_imports(generated: ModuleType) -> None:
    names = [m.name for m in pkgutil.walk_packages(generated.__path__, f"{PACKAGE}.")]
    failures = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # every failure is listed
            failures[name] = repr(exc)
    assert len(names) > 100 and failures == {}


def _call(module: Any, **kwargs: Any) -> Any:
    """Call an operation; the parsed answer, after checking it is a 2xx."""
    response = module.sync_detailed(**kwargs)
    assert 200 <= response.status_code < 300, (response.status_code, response.content)
    return response.parsed


@pytest.mark.django_db(transaction=True)
def test_an_integrator_records_a_lot_and_reads_its_evaluation_with_the_generated_client(
    generated: ModuleType, demo_world: None, live_server: Any, monkeypatch: Any
) -> None:
    import qc.tasks
    from qc.models import Lot
    from qc.services.evaluation import lot_evaluate
    from services.accounts.services import api_client_create
    from services.audit.services import Actor
    from tests.qc.pipeline.conftest import conforming_results

    monkeypatch.setattr(qc.tasks, "enqueue_lot_evaluation", lambda lot_id: None)  # no worker
    _, key = api_client_create(name="INTEGRATOR", actor=Actor.system("tests"))

    def op(name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{name}")

    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.AuthenticatedClient(base_url=live_server.url, token=key, prefix="Api-Key")
    lot_number = "EVX-GEN-001"

    lot = _call(
        op("lots.v1_lots_create"),
        client=client,
        idempotency_key=f"lot-{lot_number}",
        body=models.LotCreateRequest(
            lot_number=lot_number,
            product="EVX-MSC-01",
            manufactured_on=datetime(2026, 1, 8).date(),
            process={
                "isolation_method": "TFF + SEC",
                "culture_supplement": "FCS-free",
                "cell_source": "UC-MSC",
            },
        ),
    )
    assert (lot.lot_number, lot.current_evaluation) == (lot_number, None)

    runs = {
        "NTA": ("NTA-CONC", "NIST-PS100", "2026-01", "NTA-MODE", "101", "nm"),
        "TRPS": ("TRPS-MODE", "NIST-PS100", "2026-01", "TRPS-MODE", "99", "nm"),
        "LAL": ("LAL", "CSE-2026", "L-0426", "LAL-SPIKE", "92", "%"),
        "POTENCY": ("POTENCY", "EVX-REF-001", "R1", "POTENCY", "100", "%"),
    }
    for name, (method, material, material_lot, test, value, unit) in runs.items():
        run = _call(
            op("assay_runs.v1_assay_runs_create"),
            client=client,
            idempotency_key=f"run-{lot_number}-{name}",
            body=models.AssayRunCreateRequest(
                external_run_id=f"{lot_number}-{name}",
                method=method,
                analyst="analyst",
                started_at=datetime(2026, 1, 10, 8, tzinfo=UTC),
                ended_at=datetime(2026, 1, 10, 9, tzinfo=UTC),
                controls=[
                    models.RunControlInputRequest(
                        reference_material=material,
                        reference_lot=material_lot,
                        test=test,
                        value=value,
                        unit=unit,
                    )
                ],
            ),
        )
        assert run.external_run_id == f"{lot_number}-{name}"

    posted = conforming_results(lot_number)
    items = [
        models.ResultItemInputRequest.from_dict(
            {key: value for key, value in item.items() if value != ""}
        )
        for item in posted
    ]
    receipt = _call(
        op("results.v1_lots_results_create"),
        lot_number=lot_number,
        client=client,
        idempotency_key=f"results-{lot_number}",
        body=models.ResultsInputRequest(results=items),
    )
    assert receipt.count == len(posted)

    page = _call(
        op("results.v1_lots_results_list"), lot_number=lot_number, client=client, page_size=1000
    )
    # Values come back exactly as posted (the literal, not a float's rendering).
    assert [r.value for r in page.results] == [item["value"] for item in posted]

    early = op("evaluations.v1_lots_evaluation_retrieve").sync_detailed(
        lot_number=lot_number, client=client
    )
    assert early.status_code == 404
    assert isinstance(early.parsed, models.Error)
    assert early.parsed.errors[0].code == "not_evaluated"

    lot_evaluate(lot_id=Lot.objects.get(lot_number=lot_number).pk)  # the worker's job

    evaluation = _call(
        op("evaluations.v1_lots_evaluation_retrieve"), lot_number=lot_number, client=client
    )
    assert (evaluation.lot, evaluation.verdict.value) == (lot_number, "conforms")
    detail = _call(op("lots.v1_lots_retrieve"), lot_number=lot_number, client=client)
    assert detail.current_evaluation.id == evaluation.id

    unknown = op("lots.v1_lots_retrieve").sync_detailed(lot_number="NO-SUCH-LOT", client=client)
    assert unknown.status_code == 404 and isinstance(unknown.parsed, models.Error)


def _signed_in(generated: ModuleType, base_url: str, username: str) -> Any:
    """The generated client as a person's browser would be: session cookie and CSRF token."""
    from django.conf import settings
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    from services.accounts.models import User

    browser = Client()
    browser.force_login(User.objects.get(username=username))
    token = _get_new_csrf_string()
    return generated.Client(
        base_url=base_url,
        cookies={
            settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value,
            settings.CSRF_COOKIE_NAME: token,
        },
        headers={"X-CSRFToken": token},
    )


@pytest.mark.django_db(transaction=True)
def test_people_release_the_lot_with_the_generated_client(
    generated: ModuleType, demo_world: None, live_server: Any, password: str, monkeypatch: Any
) -> None:
    """Result review, audit-trail review, QA approval, QP release: four signatures."""
    import qc.tasks
    from qc.models import Lot
    from qc.services.evaluation import lot_evaluate

    monkeypatch.setattr(qc.tasks, "enqueue_lot_evaluation", lambda lot_id: None)
    lot = Lot.objects.get(lot_number="EVX-24-001")  # the demo's conforming lot
    lot_evaluate(lot_id=lot.pk)
    models = importlib.import_module(f"{PACKAGE}.models")

    def sign(username: str, action: str, reason: str) -> Any:
        module = importlib.import_module(f"{PACKAGE}.api.release.v1_lots_{action}_create")
        return _call(
            module,
            lot_number=lot.lot_number,
            client=_signed_in(generated, live_server.url, username),
            body=models.SignedInputRequest(password=password, reason=reason),
        )

    qa = _signed_in(generated, live_server.url, "qa")
    checklist = importlib.import_module(f"{PACKAGE}.api.release.v1_lots_release_checklist_retrieve")
    assert _call(checklist, lot_number=lot.lot_number, client=qa) is not None

    sign("reviewer", "result_review", "raw data checked")
    sign("qa", "audit_trail_review", "no unexplained changes")
    approved = sign("qa", "approve", "batch record reviewed")
    released = sign("qp", "release", "certified (EU GMP Annex 16)")
    assert (approved.decision.value, released.decision.value) == ("approved", "released")
    assert released.status_after == "released"

    refused = importlib.import_module(f"{PACKAGE}.api.release.v1_lots_approve_create")
    again = refused.sync_detailed(
        lot_number=lot.lot_number,
        client=qa,
        body=models.SignedInputRequest(password=password, reason="once more"),
    )
    assert again.status_code == 409 and isinstance(again.parsed, models.Error)
