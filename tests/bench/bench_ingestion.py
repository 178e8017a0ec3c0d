"""Benchmark of bulk result ingestion through the real HTTP stack into PostgreSQL.

Run from the repository root (PostgreSQL and, optionally, Redis must answer)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evrelease \\
    REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python tests/bench/bench_ingestion.py [--results 100000] [--batch 1000]

or ``make bench BENCH=tests/bench/bench_ingestion.py`` (on the test services).

It creates its own database (``<name of DATABASE_URL>_bench``, dropped and made
again, migrated) and data (a product, tests, an effective specification, lots,
assay runs and a machine client), starts gunicorn on 127.0.0.1 with 2 sync
workers, and measures in the same run:

* ``HTTP ingestion``  POST /api/v1/lots/<lot>/results/ with Idempotency-Key and an
  API key, ``--batch`` results per request, ``--clients`` connections at once;
  each result validated, converted to its test's unit, stored, and audited (one
  hash-chained ``lot.results_recorded`` event per request binding every result by
  the content hash PostgreSQL computes); the lot's data version bumped and its
  evaluation enqueued.  Request bodies are encoded before the clock starts.
* ``psycopg COPY``  the same rows written straight into qc_result with COPY: the
  physical limit of the table (no validation, no audit, no HTTP).
* ``plain DRF``  what a team would write first: a ``ModelSerializer(many=True)``
  that converts each value in ``validate`` and saves with ``.save()``, run
  in-process through DRF's request factory (no HTTP, no audit: a generous
  baseline) on ``--drf-results`` rows, rate extrapolated.

Evaluation tasks go to the broker at REDIS_URL with its database number replaced
by ``--redis-db`` (default 13), and that queue is emptied at the end, so the
benchmark never feeds lots of its own database to a real worker.  Target on a
2-core machine: >= 10,000 results/s sustained and >= 10x the plain DRF baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from tests.bench.common import create_database, log, with_database  # noqa: E402

PYTHON = sys.executable

# (test code, technique, result kind, canonical unit, ways of posting a value)
TESTS = [
    ("NTA-CONC", "NTA", "numeric", "particles/mL", ["particles/mL", "particles/uL", "x10^9/mL"]),
    ("NTA-SIZE", "NTA", "numeric", "nm", ["nm", "um"]),
    ("LAL", "LAL", "numeric", "EU/mL", ["EU/mL"]),
    ("PROTEIN", "BCA", "numeric", "ug/mL", ["ug/mL", "mg/mL"]),
    ("MYCO", "qPCR", "detection", "", [""]),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def seed(lots: int) -> dict[str, Any]:
    """Master data, an effective spec, lots, runs and a machine client (not timed)."""
    from qc.models import AssayRun, Lot, Product, Specification, SpecificationLine, TestMethod
    from services.accounts.services import api_client_create
    from services.audit.services import Actor

    product = Product.objects.create(
        code="EV-BENCH",
        name="Benchmark EV product",
        process_fields={"isolation_method": {"type": "choice", "choices": ["SEC"]}},
    )
    tests = {}
    for code, technique, kind, unit, _ in TESTS:
        tests[code] = TestMethod.objects.create(
            code=code,
            name=code,
            attribute_class="quantity",
            technique=technique,
            result_kind=kind,
            canonical_unit=unit,
        )
    spec = Specification.objects.create(product=product, version=1)
    SpecificationLine.objects.create(
        specification=spec,
        position=1,
        name="Concentration",
        test=tests["NTA-CONC"],
        criterion_type="numeric_range",
        params={"min": "1E+10", "max": "1E+13"},
    )
    spec.status = "effective"
    spec.save(update_fields=["status"])
    lot_numbers = []
    for index in range(lots + 2):
        lot = Lot.objects.create(
            lot_number=f"BENCH-{index:04d}",
            product=product,
            specification=spec,
            manufactured_on=datetime.now(UTC).date(),
            process={"isolation_method": "SEC"},
        )
        lot_numbers.append(lot.lot_number)
    runs = {}
    for code, *_ in TESTS:
        run = AssayRun.objects.create(
            external_run_id=f"RUN-{code}",
            method=tests[code],
            started_at=datetime.now(UTC) - timedelta(hours=2),
        )
        runs[code] = run.external_run_id
    _, key = api_client_create(name="bench-mes", actor=Actor.system("bench"))
    return {
        "lots": lot_numbers[:lots],
        "copy_lot": lot_numbers[lots],
        "drf_lot": lot_numbers[lots + 1],
        "runs": runs,
        "key": key,
        "tests": {code: t.pk for code, t in tests.items()},
    }


def make_items(count: int, runs: dict[str, str], rng: random.Random) -> list[dict[str, Any]]:
    """Results as instruments send them: mixed units, qualifiers, runs, raw data."""
    performed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    items = []
    for index in range(count):
        code, _, kind, _, units = TESTS[index % len(TESTS)]
        unit = rng.choice(units)
        item: dict[str, Any] = {
            "test": code,
            "run": runs[code],
            "replicate": index % 3 + 1,
            "performed_by": "NTA operator 7",
            "performed_at": performed,
        }
        if kind == "detection":
            item["value"] = rng.choice(["not detected", "Not detected"])
        else:
            if unit == "particles/mL":
                item["value"] = f"{rng.uniform(0.8, 3.0):.3f}e11"
            elif unit == "particles/uL":
                item["value"] = round(rng.uniform(0.8, 3.0) * 1e8, 1)
            elif unit == "x10^9/mL":
                item["value"] = f"{rng.uniform(80, 300):.1f}"
            elif code == "LAL":
                item["value"] = "< 0.05" if index % 2 else f"{rng.uniform(0.05, 0.4):.3f}"
            else:
                item["value"] = round(rng.uniform(60, 180), 2)
            item["unit"] = unit
            if index % 10 == 0:
                item["raw_data"] = {"frames": 1498, "camera_level": 14, "detection_threshold": 5}
        items.append(item)
    return items


# ---------------------------------------------------------------------------
# 1. Through HTTP
# ---------------------------------------------------------------------------


def start_gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "services.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env)
    deadline = time.monotonic() + 180  # a shared, loaded machine starts workers slowly
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz/live")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def post_all(
    port: int, key: str, bodies: list[tuple[str, bytes]], clients: int, prefix: str = "bench"
) -> tuple[float, list[float]]:
    """POST every body, ``clients`` connections at once; return wall time and latencies."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                index, (lot, body) = queue.pop(0)
            started = time.perf_counter()
            conn.request(
                "POST",
                f"/api/v1/lots/{lot}/results/",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Api-Key {key}",
                    "Idempotency-Key": f"{prefix}-{index}",
                },
            )
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 201:
                    failures.append(f"{response.status}: {payload[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return wall, latencies


# ---------------------------------------------------------------------------
# 2. psycopg COPY (the physical limit)
# ---------------------------------------------------------------------------


def copy_baseline(items: list[dict[str, Any]], data: dict[str, Any]) -> float:
    """The same rows, every column filled as ingestion fills it, written with one COPY."""
    from django.db import connection, transaction

    from qc.models import AssayRun, Lot, TestMethod
    from services.accounts.models import ApiClient

    lot_id = Lot.objects.get(lot_number=data["copy_lot"]).pk
    client_id = ApiClient.objects.get(name="bench-mes").pk
    runs = dict(AssayRun.objects.values_list("external_run_id", "pk"))
    units = dict(TestMethod.objects.values_list("code", "canonical_unit"))
    now = datetime.now(UTC)
    rows = []
    for item in items:
        numeric = "value" in item and item["test"] != "MYCO"
        raw = item.get("raw_data")
        rows.append(
            (
                lot_id,
                data["tests"][item["test"]],
                runs[item["run"]],
                item["replicate"],
                str(item["value"]),
                item.get("unit", ""),
                "",
                Decimal("1.5") if numeric else None,
                Decimal("150000000000") if numeric else None,
                units[item["test"]] if numeric else "",
                "" if numeric else "not detected",
                json.dumps(raw) if raw is not None else None,
                item["performed_by"],
                datetime.fromisoformat(item["performed_at"]),
                "",
                client_id,
                now,
                "",
            )
        )
    columns = (
        "lot_id, test_id, run_id, replicate, value_as_posted, unit_as_posted, qualifier, "
        "numeric_value, canonical_value, canonical_unit, text_value, raw_data, performed_by, "
        "performed_at, supersede_reason, posted_by_client_id, received_at, request_id"
    )
    started = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY qc_result ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------
# 3. Plain DRF ModelSerializer(many=True)
# ---------------------------------------------------------------------------


def drf_baseline(items: list[dict[str, Any]], data: dict[str, Any], batch: int) -> float:
    from django.utils import timezone
    from rest_framework import serializers
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory, force_authenticate
    from rest_framework.views import APIView

    from qc.models import Lot, Result, TestMethod
    from qc.units import parse_quantity, to_canonical
    from services.accounts.models import ApiClient

    class NaiveResultSerializer(serializers.ModelSerializer):
        test = serializers.SlugRelatedField(slug_field="code", queryset=TestMethod.objects.all())
        run = serializers.SlugRelatedField(
            slug_field="external_run_id",
            queryset=__import__("qc.models", fromlist=["AssayRun"]).AssayRun.objects.all(),
            required=False,
        )
        value = serializers.CharField(source="value_as_posted")
        unit = serializers.CharField(source="unit_as_posted", required=False, allow_blank=True)

        class Meta:
            model = Result
            fields = ("test", "run", "value", "unit", "replicate", "performed_by", "performed_at")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            test = attrs["test"]
            if test.result_kind == "numeric":
                quantity = parse_quantity(str(attrs["value_as_posted"]))
                attrs["qualifier"] = quantity.qualifier or ""
                attrs["canonical_value"] = to_canonical(
                    quantity.value, attrs["unit_as_posted"], test.canonical_unit
                )
                attrs["canonical_unit"] = test.canonical_unit
            else:
                attrs["text_value"] = attrs["value_as_posted"].lower()
            return attrs

    lot = Lot.objects.get(lot_number=data["drf_lot"])
    client = ApiClient.objects.get(name="bench-mes")

    class NaiveResultsView(APIView):
        def post(self, request: Any) -> Response:
            serializer = NaiveResultSerializer(data=request.data["results"], many=True)
            serializer.is_valid(raise_exception=True)
            serializer.save(lot=lot, posted_by_client=client, received_at=timezone.now())
            return Response({"count": len(serializer.data)}, status=201)

    view = NaiveResultsView.as_view()
    factory = APIRequestFactory()
    bodies = [
        json.dumps({"results": items[start : start + batch]}).encode()
        for start in range(0, len(items), batch)
    ]
    started = time.perf_counter()
    for body in bodies:
        request = factory.post("/naive/", data=body, content_type="application/json")
        force_authenticate(request, user=client)
        response = view(request)
        if response.status_code != 201:
            raise SystemExit(f"plain DRF baseline failed: {response.data}")
    return time.perf_counter() - started


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--lots", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--drf-results", type=int, default=10_000)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evrelease")
    name = (urlsplit(server_url).path.lstrip("/") or "evrelease") + "_bench"
    database_url = with_database(server_url, name)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="warning",
        DJANGO_SETTINGS_MODULE="services.settings",
    )
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        parts = urlsplit(redis_url)
        env["REDIS_URL"] = urlunsplit((parts.scheme, parts.netloc, f"/{args.redis_db}", "", ""))

    log(f"database {name} (dropped and created), migrating")
    create_database(server_url, name)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from qc.models import Result
    from services.audit.models import AuditEvent

    data = seed(args.lots)
    rng = random.Random(20251125)
    items = make_items(args.results, data["runs"], rng)
    bodies = []
    for number, start in enumerate(range(0, len(items), args.batch)):
        lot = data["lots"][number % len(data["lots"])]
        bodies.append((lot, json.dumps({"results": items[start : start + args.batch]}).encode()))
    connection.close()

    port = _free_port()
    log(f"gunicorn on 127.0.0.1:{port}, {args.workers} sync workers")
    server = start_gunicorn(env, port, args.workers)
    try:
        # Warm up each worker (imports, unit cache, connections) outside the clock.
        warm = make_items(50, data["runs"], rng)
        post_all(
            port,
            data["key"],
            [(data["lots"][0], json.dumps({"results": warm}).encode())] * args.workers * 2,
            args.workers,
            prefix="warm-up",
        )
        log(f"posting {len(items):,} results in {len(bodies)} requests of {args.batch:,}")
        wall, latencies = post_all(port, data["key"], bodies, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)

    stored = Result.objects.filter(lot__lot_number__in=data["lots"]).count()
    events = sum(
        len(records)
        for records in AuditEvent.objects.filter(action="lot.results_recorded").values_list(
            "records", flat=True
        )
    )
    expected = len(items) + 50 * args.workers * 2
    if stored != expected or events != expected:
        raise SystemExit(
            f"stored {stored} results and bound {events} in events, expected {expected}"
        )
    http_rate = len(items) / wall

    log("psycopg COPY baseline")
    copy_rate = len(items) / copy_baseline(items, data)

    drf_items = items[: args.drf_results]
    log(f"plain DRF ModelSerializer(many=True) baseline on {len(drf_items):,} results")
    drf_rate = len(drf_items) / drf_baseline(drf_items, data, args.batch)

    if redis_url:
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).delete("evaluation")
    if not args.keep:
        connection.close()
        create_database(server_url, name)  # leave an empty database behind

    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print()
    print(f"{'path':<38}{'results/s':>12}")
    print(f"{'HTTP ingestion (validated, audited)':<38}{http_rate:>12,.0f}")
    print(f"{'psycopg COPY (physical limit)':<38}{copy_rate:>12,.0f}")
    print(f"{'plain DRF ModelSerializer(many=True)':<38}{drf_rate:>12,.0f}")
    print()
    print(
        f"{len(items):,} results in {wall:.2f} s over HTTP; request of {args.batch:,}: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    print(
        f"HTTP ingestion = {http_rate / drf_rate:.1f}x plain DRF, "
        f"{http_rate / copy_rate * 100:.0f}% of raw COPY"
    )
    target = http_rate >= 10_000 and http_rate >= 10 * drf_rate
    print("target (>= 10,000/s and >= 10x plain DRF):", "met" if target else "NOT met")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
