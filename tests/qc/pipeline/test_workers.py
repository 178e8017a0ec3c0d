"""Evaluation by real Celery workers on Redis (issue: Evaluation engine and workers).

Each test runs worker processes as in production and checks the outcome in the
database; nothing is mocked.  Durations are printed, never asserted beyond a
generous ceiling: speed is measured in tests/bench/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from qc.models import Evaluation, Lot
from qc.services.evaluation import lot_evaluate_now, lots_pending_evaluation
from tests.fixtures.celery_worker import database_url_of_test_db
from tests.qc.pipeline.conftest import conforming_results, post_runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def create_lot(client: APIClient, lot_number: str) -> None:
    response = client.post(
        "/api/v1/lots/",
        {
            "lot_number": lot_number,
            "product": "EVX-MSC-01",
            "manufactured_on": "2026-01-08",
            "process": {
                "isolation_method": "TFF + SEC",
                "culture_supplement": "FCS-free",
                "cell_source": "UC-MSC",
            },
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"lot-{lot_number}",
    )
    assert response.status_code == 201, response.content


def post_results(client: APIClient, lot_number: str, items: list[dict[str, Any]], key: str) -> None:
    response = client.post(
        f"/api/v1/lots/{lot_number}/results/",
        {"results": items},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 201, response.content


def evaluated_up_to_date(lot_number: str) -> bool:
    lot = Lot.objects.get(lot_number=lot_number)
    current = Evaluation.objects.filter(lot=lot).order_by("-pk").first()
    return current is not None and lot.evaluated_version >= lot.data_version


@pytest.mark.requirement("21CFR211.165a")
def test_posted_results_are_evaluated_by_the_worker(
    demo_world: None, evaluation_worker: Any, mes_api: APIClient
) -> None:
    create_lot(mes_api, "EVX-W-001")
    post_runs(mes_api, "EVX-W-001")
    post_results(mes_api, "EVX-W-001", conforming_results("EVX-W-001"), "w-001")
    elapsed = wait_for(lambda: evaluated_up_to_date("EVX-W-001"), 15, "the evaluation")
    print(f"evaluated {elapsed * 1000:.0f} ms after the POST returned")
    evaluation = Evaluation.objects.filter(lot__lot_number="EVX-W-001").latest()
    assert evaluation.verdict == "conforms", evaluation.reasons


def _hold_lot_lock(lot_id: int) -> psycopg.Connection[Any]:
    """Hold the lot's evaluation lock from another session, so a task blocks on it."""
    from qc.services.evaluation import _EVALUATION_LOCK_NAMESPACE

    holder = psycopg.connect(
        database_url_of_test_db().replace("postgres://", "postgresql://"), autocommit=True
    )
    holder.execute("SELECT pg_advisory_lock(%s, %s)", [_EVALUATION_LOCK_NAMESPACE, lot_id])
    return holder


def _task_is_waiting_on_lock(lot_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = %s",
            [lot_id],
        )
        return bool(cursor.fetchone()[0])


def test_a_task_killed_mid_evaluation_is_redelivered(
    demo_world: None, celery_worker_factory: Any
) -> None:
    from qc.tasks import enqueue_lot_evaluation

    fast_redelivery = {"CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_INTERVAL": "1"}
    lot = Lot.objects.get(lot_number="EVX-24-001")
    holder = _hold_lot_lock(lot.pk)
    try:
        worker = celery_worker_factory(env=fast_redelivery)
        enqueue_lot_evaluation(lot.pk)
        wait_for(lambda: _task_is_waiting_on_lock(lot.pk), 15, "the task to start")
        worker.kill()  # SIGKILL mid-task: the message was never acknowledged
    finally:
        holder.close()
    assert not Evaluation.objects.filter(lot=lot).exists()
    celery_worker_factory(env=fast_redelivery)
    elapsed = wait_for(
        lambda: Evaluation.objects.filter(lot=lot).exists(), 60, "re-delivery of the killed task"
    )
    print(f"re-delivered and evaluated {elapsed:.1f} s after a new worker started")
    assert Evaluation.objects.get(lot=lot).verdict == "conforms"


def test_posts_succeed_while_redis_is_down_and_nothing_is_lost(
    demo_world: None, private_redis: Any, celery_worker_factory: Any, mes_api: APIClient
) -> None:
    celery_worker_factory(env={"RECONCILE_EVERY_SECONDS": "2"}, beat=True)
    lots = [f"EVX-R-{n:03d}" for n in range(1, 6)]
    for lot_number in lots:
        create_lot(mes_api, lot_number)
        post_runs(mes_api, lot_number)
    private_redis.stop()
    started = time.monotonic()
    for lot_number in lots:
        post_results(mes_api, lot_number, conforming_results(lot_number), f"r-{lot_number}")
    print(f"5 POSTs with Redis down took {time.monotonic() - started:.2f} s")
    private_redis.start()
    elapsed = wait_for(
        lambda: not lots_pending_evaluation(), 60, "evaluation of every lot after Redis returned"
    )
    print(f"all lots evaluated {elapsed:.1f} s after Redis returned")
    for lot_number in lots:
        assert Evaluation.objects.filter(lot__lot_number=lot_number).latest().verdict == "conforms"


def test_parallel_posts_to_one_lot_give_one_current_evaluation_covering_all(
    demo_world: None, celery_worker_factory: Any, mes: Any
) -> None:
    celery_worker_factory(concurrency=2)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {mes[1]}")
    create_lot(client, "EVX-P-001")
    post_runs(client, "EVX-P-001")
    items = conforming_results("EVX-P-001")
    errors: list[BaseException] = []

    def post(index: int, item: dict[str, Any]) -> None:
        try:
            own = APIClient()
            own.credentials(HTTP_AUTHORIZATION=f"Api-Key {mes[1]}")
            post_results(own, "EVX-P-001", [item], f"p-{index}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    wait_for(lambda: evaluated_up_to_date("EVX-P-001"), 30, "the final evaluation")
    lot = Lot.objects.get(lot_number="EVX-P-001")
    current = Evaluation.objects.filter(lot=lot).latest()
    assert current.inputs_digest == lot_evaluate_now(lot=lot).inputs_digest
    assert current.verdict == "conforms"
    digests = list(
        Evaluation.objects.filter(lot=lot).order_by("pk").values_list("inputs_digest", flat=True)
    )
    assert len(digests) == len(set(digests)), "an evaluation repeated unchanged inputs"
