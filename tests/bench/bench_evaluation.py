"""Benchmarks of evaluation: commit-to-verdict latency and re-evaluation throughput.

Run from the repository root (PostgreSQL and Redis must answer)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evrelease \\
    REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python tests/bench/bench_evaluation.py [--latency-lots 1000] [--lots 10000]

or ``make bench``.  It creates its own database (``<name>_evalbench``, dropped and
made again, migrated), seeds the demo world (product EVX-MSC-01, its approved
11-line specification, reference materials), and measures in the same run:

1. **Latency** from the commit of a lot's last result to its stored evaluation,
   over ``--latency-lots`` lots, each posted through the ingestion service
   (validation, units, audit, publish on commit) while one real Celery worker
   (prefork, 1 process) consumes the ``evaluation`` queue on real Redis.  The
   lot is posted, then the script waits for its evaluation before the next, so
   the figure is latency, not queueing.  Latency = the evaluation row's
   ``evaluated_at`` (worker clock, same machine) minus the moment the posting
   transaction committed; the time until this script saw the row is shown too.
   Baseline in the same run: the broker's own round trip, a Celery
   ``control.ping`` to the same worker and back (publish, deliver, reply).
2. **Throughput** of re-evaluation: ``--lots`` lots of 30 results each
   (bulk-inserted, not timed) evaluated against a draft specification exactly as
   ``spec_impact`` does (inputs loaded in chunks with a fixed number of queries,
   spec compiled once), beside the naive per-lot path (``lot_evaluate_now``:
   queries per lot, spec compiled per lot) on a sample, rate extrapolated.

Targets on this 2-core machine: latency p95 <= 100 ms; throughput >= 1,000 lots/s
(``spec_impact`` over 10,000 lots in <= 10 s).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from tests.bench.common import django_on_fresh_database, log  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-password-1"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seed_world() -> Any:
    from qc import demo
    from services.accounts.demo import demo_accounts_seed

    demo_accounts_seed(password=PASSWORD)
    out = io.StringIO()
    demo.seed_demo(stdout=out, password=PASSWORD)
    from services.accounts.models import ApiClient

    return ApiClient.objects.get(name="DEMO-MES")


def new_lot(client: Any, lot_number: str) -> None:
    from qc.services.lots import lot_create

    lot_create(
        lot_number=lot_number,
        product_code="EVX-MSC-01",
        manufactured_on=date(2026, 1, 8),
        by=client,
        process={
            "isolation_method": "TFF + SEC",
            "culture_supplement": "FCS-free",
            "cell_source": "UC-MSC",
        },
    )


def results_for(lot_number: str) -> list[dict[str, Any]]:
    """The demo's conforming set; EVX-24-001's runs serve every lot (one run, many samples)."""
    from tests.qc.pipeline.conftest import conforming_results

    return conforming_results("EVX-24-001")


# ---------------------------------------------------------------------------
# 1. Latency
# ---------------------------------------------------------------------------


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log_file = (BASE_DIR / "var" / "bench-worker.log").open("wb")
    return subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "services",
            "worker",
            "-Q",
            "evaluation",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "-n",
            "bench@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def wait_worker() -> str:
    from services.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        for reply in replies:
            name = next(iter(reply))
            if name.startswith("bench@"):
                return name
    raise RuntimeError("the bench worker did not start (see var/bench-worker.log)")


def broker_round_trips(worker: str, count: int = 200) -> list[float]:
    from services.celery import app

    samples = []
    for _ in range(count):
        started = time.perf_counter()
        reply = app.control.ping(destination=[worker], timeout=1.0, limit=1)
        if reply:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def latency(client: Any, lots: int) -> tuple[list[float], list[float]]:
    from django.db import transaction

    from qc.models import Evaluation, Lot
    from qc.services.ingestion import results_record

    stored, seen = [], []
    for n in range(lots):
        lot_number = f"LAT-{n:05d}"
        new_lot(client, lot_number)
        items = results_for(lot_number)
        with transaction.atomic():
            results_record(lot_number=lot_number, items=items, by=client)
        committed = time.time()  # the publish ran on commit, just before this line
        lot_id = Lot.objects.values_list("pk", flat=True).get(lot_number=lot_number)
        while True:
            evaluated_at = (
                Evaluation.objects.filter(lot_id=lot_id)
                .values_list("evaluated_at", flat=True)
                .first()
            )
            if evaluated_at is not None:
                seen.append((time.time() - committed) * 1000)
                stored.append((evaluated_at.timestamp() - committed) * 1000)
                break
            if time.time() - committed > 30:
                raise RuntimeError(f"{lot_number} was not evaluated within 30 s")
            time.sleep(0.001)
    return stored, seen


# ---------------------------------------------------------------------------
# 2. Throughput
# ---------------------------------------------------------------------------


def bulk_lots(count: int) -> None:
    """``count`` lots x 30 results, inserted in bulk (setup, not timed)."""
    from django.db import connection
    from django.utils import timezone

    from qc.models import Lot, Result
    from qc.services.ingestion import results_record

    template_lot = "TPL-00000"
    client = seed_client()
    new_lot(client, template_lot)
    items = results_for(template_lot)
    extra = (
        [  # 12 more results of tests the spec reads: repeats of each
            {"test": "BCA", "value": str(4.0 + i / 10), "unit": "µg/mL"} for i in range(3)
        ]
        + [{"test": "MYCO", "value": "not detected"} for _ in range(3)]
        + [{"test": "STERILITY", "value": "no growth"} for _ in range(2)]
        + [
            {"test": code, "value": "detected"}
            for code in ("WB-CD9", "WB-CD63", "WB-CD81", "WB-TSG101")
        ]
    )
    results_record(lot_number=template_lot, items=items + extra, by=client)
    template = list(Result.objects.filter(lot__lot_number=template_lot).values())
    assert len(template) == 30, len(template)
    specification = Lot.objects.get(lot_number=template_lot).specification
    product = specification.product
    now = timezone.now()
    lots = Lot.objects.bulk_create(
        [
            Lot(
                lot_number=f"THR-{n:05d}",
                product=product,
                specification=specification,
                manufactured_on=now.date(),
                process={"isolation_method": "TFF + SEC", "culture_supplement": "FCS-free"},
                data_version=1,
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('qc_result', 'id'), "
            "(SELECT max(id) FROM qc_result))"
        )
    rows = []
    for lot in lots:
        for row in template:
            data = {k: v for k, v in row.items() if k not in {"id", "lot_id", "supersedes_id"}}
            rows.append(Result(lot_id=lot.pk, **data))
        if len(rows) >= 30_000:
            Result.objects.bulk_create(rows, batch_size=5000)
            rows = []
    Result.objects.bulk_create(rows, batch_size=5000)


def seed_client() -> Any:
    from services.accounts.models import ApiClient

    return ApiClient.objects.get(name="DEMO-MES")


def draft_specification() -> Any:
    """A draft tightening endotoxin to <= 0.04 EU/mL: what spec_impact is for."""
    from django.db.models import Max

    from qc.models import Specification, SpecificationLine

    effective = Specification.objects.get(product__code="EVX-MSC-01", status="effective")
    # After the demo's own draft v2.
    latest = Specification.objects.filter(product=effective.product).aggregate(v=Max("version"))
    draft = Specification.objects.create(
        product=effective.product,
        version=latest["v"] + 1,
        based_on=effective,
        change_reason="bench",
    )
    lines = []
    for line in effective.lines.all():
        params = dict(line.params)
        if line.test.code == "LAL":
            params["max"] = "0.04"
        lines.append(
            SpecificationLine(
                specification=draft,
                position=line.position,
                name=line.name,
                test=line.test,
                criterion_type=line.criterion_type,
                params=params,
                alert_params=None,
                decimals=line.decimals,
                required=line.required,
            )
        )
    SpecificationLine.objects.bulk_create(lines)
    return draft


def throughput(count: int, naive_sample: int) -> dict[str, float]:
    from qc.models import Lot
    from qc.services.evaluation import lot_evaluate_now
    from qc.services.impact import specification_impact

    draft = draft_specification()
    started = time.perf_counter()
    impacts = list(specification_impact(specification=draft, processes=1))
    one_process_seconds = time.perf_counter() - started
    started = time.perf_counter()
    impacts = list(specification_impact(specification=draft, processes=2))
    impact_seconds = time.perf_counter() - started
    changed = sum(1 for impact in impacts if impact.changes)
    sample = list(
        Lot.objects.filter(lot_number__startswith="THR-")
        .select_related("specification")
        .order_by("pk")[:naive_sample]
    )
    started = time.perf_counter()
    for lot in sample:
        lot_evaluate_now(lot=lot)
    naive_seconds = time.perf_counter() - started
    return {
        "lots": len(impacts),
        "seconds": impact_seconds,
        "one_process_seconds": one_process_seconds,
        "changed": changed,
        "naive_lots": len(sample),
        "naive_seconds": naive_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-lots", type=int, default=1000)
    parser.add_argument("--lots", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()

    bench = django_on_fresh_database("_evalbench", redis_db=args.redis_db)
    from services.celery import app

    client = seed_world()
    app.control.purge()
    worker = start_worker(bench.env)
    try:
        worker_name = wait_worker()
        log(f"worker {worker_name} up; broker round trips")
        round_trips = broker_round_trips(worker_name)
        log(f"latency over {args.latency_lots} lots (post, commit, wait for the verdict)")
        stored, seen = latency(client, args.latency_lots)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    log(f"throughput: {args.lots} lots x 30 results (bulk insert, not timed)")
    bulk_lots(args.lots)
    figures = throughput(args.lots, args.naive_sample)

    print()
    print("Evaluation latency, commit of the last result -> stored evaluation (ms)")
    print(f"  {'':38} {'p50':>8} {'p95':>8} {'max':>8}")
    for label, values in (
        ("stored evaluation (evaluated_at)", stored),
        ("seen by the poster (poll 1 ms)", seen),
        ("baseline: broker round trip (ping)", round_trips),
    ):
        print(
            f"  {label:38} {statistics.median(values):8.1f} {percentile(values, 0.95):8.1f}"
            f" {max(values):8.1f}"
        )
    rate = figures["lots"] / figures["seconds"]
    naive_rate = figures["naive_lots"] / figures["naive_seconds"]
    print()
    print(f"Re-evaluation throughput ({figures['lots']} lots x 30 results, draft spec)")
    print(
        f"  spec_impact, 2 procs  {rate:10.0f} lots/s   ({figures['seconds']:.2f} s; "
        f"{figures['changed']} verdicts would change)"
    )
    one = figures["lots"] / figures["one_process_seconds"]
    print(f"  spec_impact, 1 proc   {one:10.0f} lots/s   ({figures['one_process_seconds']:.2f} s)")
    print(
        f"  baseline: per-lot     {naive_rate:10.0f} lots/s   ({figures['naive_lots']} lots "
        f"in {figures['naive_seconds']:.2f} s, extrapolated "
        f"{figures['lots'] / naive_rate:.1f} s for all)"
    )
    print(f"  speed-up              {rate / naive_rate:10.1f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
