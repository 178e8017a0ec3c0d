"""Idempotency-Key: a retry returns the first answer and stores nothing new."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import urllib.error
import urllib.request
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from qc.models import AssayRun, Lot, Result
from services.api.models import IdempotencyRecord
from services.audit.models import AuditEvent
from tests.qc.conftest import post_json

RESULTS = {"results": [{"test": "NTA-CONC", "value": "2.1e11", "unit": "particles/mL"}]}


def url(lot: Any) -> str:
    return f"/api/v1/lots/{lot.lot_number}/results/"


@pytest.mark.django_db
class TestRules:
    def test_a_retry_with_the_same_key_and_body_returns_the_first_answer(
        self, world: Any, lot: Any, mes_api: Any
    ) -> None:
        first = post_json(mes_api, url(lot), RESULTS, key="batch-42")
        events = AuditEvent.objects.count()
        retry = post_json(mes_api, url(lot), RESULTS, key="batch-42")
        assert (retry.status_code, retry.content) == (first.status_code, first.content)
        assert retry["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
        assert Result.objects.count() == 1
        assert AuditEvent.objects.count() == events
        assert Lot.objects.get().data_version == 1

    def test_the_same_key_with_another_body_is_422(
        self, world: Any, lot: Any, mes_api: Any
    ) -> None:
        post_json(mes_api, url(lot), RESULTS, key="batch-42")
        other = {"results": [{"test": "NTA-CONC", "value": "9e10", "unit": "particles/mL"}]}
        response = post_json(mes_api, url(lot), other, key="batch-42")
        assert response.status_code == 422
        assert [e["code"] for e in response.json()["errors"]] == ["idempotency_key_reused"]
        assert Result.objects.count() == 1

    def test_the_same_key_on_another_endpoint_is_422(
        self, world: Any, lot: Any, mes_api: Any
    ) -> None:
        post_json(mes_api, url(lot), RESULTS, key="k1")
        other_lot = world.lot("LOT-002")
        assert post_json(mes_api, url(other_lot), RESULTS, key="k1").status_code == 422

    def test_keys_belong_to_their_machine_client(self, world: Any, lot: Any, mes_api: Any) -> None:
        from rest_framework.test import APIClient

        from services.accounts.services import api_client_create
        from services.audit.services import Actor

        _, key = api_client_create(name="LIMS-2", actor=Actor.system("tests"))
        lims = APIClient()
        lims.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        assert post_json(mes_api, url(lot), RESULTS, key="shared").status_code == 201
        response = post_json(lims, url(lot), RESULTS, key="shared")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
        assert Result.objects.count() == 2

    @pytest.mark.parametrize(
        "path", ["/api/v1/lots/LOT-001/results/", "/api/v1/lots/", "/api/v1/assay-runs/"]
    )
    def test_a_machine_post_without_a_key_is_400(
        self, world: Any, lot: Any, mes_api: Any, path: str
    ) -> None:
        response = post_json(mes_api, path, RESULTS, key=None)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
        assert Result.objects.count() == 0

    @pytest.mark.parametrize("key", ["", "x" * 256, "with space", "é"])
    def test_a_malformed_key_is_400(self, world: Any, lot: Any, mes_api: Any, key: str) -> None:
        response = mes_api.post(url(lot), RESULTS, format="json", headers={"Idempotency-Key": key})
        assert response.status_code == 400

    def test_a_refused_request_releases_its_key_so_a_corrected_body_may_use_it(
        self, world: Any, lot: Any, mes_api: Any
    ) -> None:
        bad = {"results": [{"test": "NTA-CONC", "value": "2.1e11", "unit": "nm"}]}
        assert post_json(mes_api, url(lot), bad, key="fix-me").status_code == 400
        assert post_json(mes_api, url(lot), bad, key="fix-me").status_code == 400
        assert not IdempotencyRecord.objects.exists()
        corrected = post_json(mes_api, url(lot), RESULTS, key="fix-me")
        assert corrected.status_code == 201
        assert post_json(mes_api, url(lot), RESULTS, key="fix-me")["Idempotent-Replayed"]
        record = IdempotencyRecord.objects.get()
        assert (record.status, record.response_status) == ("completed", 201)
        assert json.loads(record.response_body) == corrected.json()

    def test_a_server_error_releases_the_key_and_stores_nothing(
        self, world: Any, lot: Any, mes_api: Any, monkeypatch: Any
    ) -> None:
        from qc.services import ingestion

        def explode(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(ingestion, "audit_record_many", explode)
        mes_api.raise_request_exception = False
        assert post_json(mes_api, url(lot), RESULTS, key="boom").status_code == 500
        assert Result.objects.count() == 0 and not IdempotencyRecord.objects.exists()
        monkeypatch.undo()
        assert post_json(mes_api, url(lot), RESULTS, key="boom").status_code == 201

    def test_people_may_send_a_key_and_get_the_same_guarantee(
        self, world: Any, lot: Any, analyst: Any, api_as: Any
    ) -> None:
        client = api_as(analyst)
        assert post_json(client, url(lot), RESULTS, key=None).status_code == 201
        first = post_json(client, url(lot), RESULTS, key="by-hand-1")
        again = post_json(client, url(lot), RESULTS, key="by-hand-1")
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert Result.objects.count() == 2

    def test_expired_keys_are_purged_and_then_free(
        self, world: Any, lot: Any, mes_api: Any, settings: Any
    ) -> None:
        post_json(mes_api, url(lot), RESULTS, key="old")
        IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        out = io.StringIO()
        call_command("idempotency_purge", stdout=out)
        assert "deleted 1" in out.getvalue()
        assert not IdempotencyRecord.objects.exists()
        assert post_json(mes_api, url(lot), RESULTS, key="old").status_code == 201
        assert Result.objects.count() == 2

    def test_an_expired_key_is_free_even_before_the_purge(
        self, world: Any, lot: Any, mes_api: Any
    ) -> None:
        post_json(mes_api, url(lot), RESULTS, key="old")
        IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        response = post_json(mes_api, url(lot), RESULTS, key="old")
        assert response.status_code == 201 and "Idempotent-Replayed" not in response

    def test_lots_and_runs_are_idempotent_too(self, world: Any, mes_api: Any) -> None:
        lot = {
            "lot_number": "L-77",
            "product": "EV-MSC-01",
            "manufactured_on": "2025-01-10",
            "process": {"isolation_method": "SEC"},
        }
        first = post_json(mes_api, "/api/v1/lots/", lot, key="lot-77")
        again = post_json(mes_api, "/api/v1/lots/", lot, key="lot-77")
        assert first.status_code == again.status_code == 201
        assert first.content == again.content and Lot.objects.count() == 1
        run = {
            "external_run_id": "R-1",
            "method": "NTA-SIZE",
            "started_at": "2025-01-11T08:00:00Z",
        }
        first = post_json(mes_api, "/api/v1/assay-runs/", run, key="run-1")
        again = post_json(mes_api, "/api/v1/assay-runs/", run, key="run-1")
        assert first.content == again.content and AssayRun.objects.count() == 1


def _fingerprint(path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"POST {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _other_connection() -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_is_in_flight_is_409_and_a_dead_claim_is_taken_over(
    world: Any, lot: Any, mes: Any, mes_api: Any, no_enqueue: list[int]
) -> None:
    body = json.dumps(RESULTS).encode()
    path = url(lot)
    now = timezone.now()
    record = IdempotencyRecord.objects.create(
        principal=f"client:{mes[0].prefix}",
        key="slow-1",
        method="POST",
        path=path,
        request_hash=_fingerprint(path, body),
        status="in_flight",
        created_at=now,
        expires_at=now + dt.timedelta(days=1),
    )
    # Another process is working on it: it holds the claim's row lock.
    with _other_connection() as other:
        other.execute("SELECT id FROM api_idempotencyrecord WHERE id = %s FOR UPDATE", [record.pk])
        response = post_json(mes_api, path, body, key="slow-1")
        assert response.status_code == 409
        assert [e["code"] for e in response.json()["errors"]] == ["in_flight"]
        other.rollback()  # that process died: its work and its lock are gone
    retry = post_json(mes_api, path, body, key="slow-1")
    assert retry.status_code == 201, retry.json()
    assert Result.objects.count() == 1
    assert no_enqueue == [lot.pk]


@pytest.mark.requirement("21CFR11.10e")
def test_concurrent_retries_over_http_store_exactly_one_copy(
    live_server: Any, world: Any, lot: Any, mes: Any, no_enqueue: list[int]
) -> None:
    """Eight connections send the same request at the same moment: one copy is stored."""
    items = [
        {"test": "NTA-CONC", "value": f"{i + 1}e9", "unit": "particles/mL"} for i in range(300)
    ]
    body = json.dumps({"results": items}).encode()
    barrier = threading.Barrier(8)

    def same_request() -> urllib.request.Request:
        return urllib.request.Request(
            f"{live_server.url}{url(lot)}",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Api-Key {mes[1]}",
                "Idempotency-Key": "same-batch",
            },
        )

    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def send() -> None:
        request = same_request()
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = (response.status, response.read())
        except urllib.error.HTTPError as error:
            answer = (error.code, error.read())
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert len({content for status, content in answers if status == 201}) == 1
    assert Result.objects.count() == 300, "exactly one copy of the batch"
    assert AuditEvent.objects.filter(action="lot.results_recorded").count() == 1
    assert Lot.objects.get(pk=lot.pk).data_version == 1
    # Once the first has finished, every retry gets its answer.
    retry = same_request()
    with urllib.request.urlopen(retry, timeout=60) as response:
        assert response.status == 201
        assert response.headers["Idempotent-Replayed"] == "true"
        first = next(content for status, content in answers if status == 201)
        assert response.read() == first
    assert Result.objects.count() == 300
