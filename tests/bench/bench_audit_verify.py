"""Benchmark of ``audit_verify`` (the chain and every GMP row it binds) against a bare loop.

Run from the repository root (PostgreSQL must answer)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evrelease \\
        .venv/bin/python tests/bench/bench_audit_verify.py [--events 1000000] [--results 1000000]

It creates its own database (``<name of DATABASE_URL>_verifybench``, dropped and
made again, migrated) and writes ``--results`` results (one INSERT ... SELECT) and
``--events`` audit events with a real chain (hashed in Python, written with COPY):
one ``lot.results_recorded`` event per ``--per-request`` results, binding them by
the content hash PostgreSQL computes, the rest small status events.  Then, in
the same run:

* ``verify``     ``services.audit.selectors.audit_chain_verify()`` to the end: every
  event's chained hash recomputed, every bound row's content hash recomputed and
  compared with its binding.
* ``bare loop``  the same rows read and hashed with nothing checked: the events'
  columns from a server-side cursor, each hashed with ``event_hash``, and every
  result read with its content hash computed by PostgreSQL in the same SELECT.

Rows/s counts events plus results in both.  Target: verify >= 50 % of the bare loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from tests.bench.common import create_database, log, with_database  # noqa: E402

PYTHON = sys.executable

RESULTS_SQL = """
INSERT INTO qc_result (lot_id, test_id, run_id, replicate, value_as_posted, unit_as_posted,
    qualifier, numeric_value, canonical_value, canonical_unit, text_value, raw_data,
    performed_by, performed_at, supersede_reason, posted_by_client_id, received_at, request_id)
SELECT %(lot)s, %(test)s, %(run)s, 1 + g %% 3, to_char(0.05 + (g %% 997) / 1000.0, 'FM0.000'),
    'EU/mL', '', 0.05 + (g %% 997) / 1000.0, 0.05 + (g %% 997) / 1000.0, 'EU/mL', '',
    CASE WHEN g %% 10 = 0 THEN '{"frames": 1498, "camera_level": 14}'::jsonb END,
    'LAL analyst', now() - interval '1 hour', '', NULL, now(), 'req-' || (g / 1000)::text
FROM generate_series(1, %(n)s) AS g
"""

_COLUMNS = (
    "id",
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_name",
    "reason",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "old_values",
    "new_values",
    "records",
    "previous_hash",
    "hash",
)


def seed_results(count: int) -> tuple[str, list[int]]:
    """A lot, a test, a run and ``count`` results; the lot number and the result ids."""
    from django.db import connection

    from qc.models import AssayRun, Lot, Product, Specification, TestMethod

    product = Product.objects.create(code="EV-VERIFY", name="Verify bench")
    test = TestMethod.objects.create(
        code="LAL",
        name="Endotoxin",
        attribute_class="safety",
        technique="LAL",
        result_kind="numeric",
        canonical_unit="EU/mL",
    )
    spec = Specification.objects.create(product=product, version=1)
    lot = Lot.objects.create(
        lot_number="VERIFY-1",
        product=product,
        specification=spec,
        manufactured_on=datetime.now(UTC).date(),
    )
    run = AssayRun.objects.create(
        external_run_id="RUN-LAL", method=test, started_at=datetime.now(UTC) - timedelta(hours=2)
    )
    with connection.cursor() as cursor:
        cursor.execute(RESULTS_SQL, {"lot": lot.pk, "test": test.pk, "run": run.pk, "n": count})
        cursor.execute("SELECT id FROM qc_result ORDER BY id")
        ids = [pk for (pk,) in cursor.fetchall()]
    return lot.lot_number, ids


def result_hashes() -> Iterator[tuple[int, str]]:
    """Every result with its content hash computed by PostgreSQL in the same SELECT,
    from a server-side cursor on a connection of its own."""
    import psycopg

    from qc.models import Result
    from services.audit.records import gmp_table

    table = gmp_table(Result)
    sql = f"SELECT t.id, {table.hash_sql('t')} FROM qc_result t ORDER BY t.id"
    with (
        psycopg.connect(os.environ["DATABASE_URL"]) as conn,
        conn.cursor(name="result_hashes") as cursor,
    ):
        conn.execute("SET TIME ZONE 'UTC'")
        cursor.itersize = 10_000
        cursor.execute(sql)
        yield from cursor


def seed_events(events: int, lot_number: str, per_request: int) -> int:
    """Write ``events`` chained events with COPY; return how many results they bind."""
    from django.db import connection, transaction

    from services.audit.chain import GENESIS_HASH, event_hash

    hashes = result_hashes()
    bound = 0
    previous = GENESIS_HASH
    start = datetime.now(UTC) - timedelta(days=30)
    exhausted = False
    with transaction.atomic(), connection.cursor() as cursor:
        copy_sql = f"COPY audit_auditevent ({', '.join(_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for sequence in range(1, events + 1):
                records = None
                # Every tenth event records a request's results while there are results left.
                if sequence % 10 == 1 and not exhausted:
                    records = []
                    for pk, digest in hashes:
                        records.append({"table": "qc_result", "id": pk, "hash": digest})
                        if len(records) == per_request:
                            break
                    exhausted = len(records) < per_request
                    records = records or None
                if records is not None:
                    bound += len(records)
                    action, new_values = (
                        "lot.results_recorded",
                        {"results": len(records), "tests": ["LAL"]},
                    )
                else:
                    action, new_values = "lot.status_changed", {"status": "in_testing"}
                fields: dict[str, Any] = {
                    "sequence": sequence,
                    "occurred_at": start + timedelta(microseconds=sequence * 7),
                    "actor_type": "client",
                    "actor_id": "AbC12345",
                    "actor_name": "MES-LINE-1",
                    "action": action,
                    "object_type": "lot",
                    "object_id": lot_number,
                    "old_values": None,
                    "new_values": new_values,
                    "reason": "",
                    "request_id": f"req-{sequence}",
                    "records": records,
                }
                digest = event_hash(previous, fields)
                copy.write_row(
                    (
                        sequence,
                        sequence,
                        fields["occurred_at"],
                        "client",
                        "AbC12345",
                        "MES-LINE-1",
                        "",
                        fields["request_id"],
                        action,
                        "lot",
                        lot_number,
                        None,
                        json.dumps(new_values),
                        None if records is None else json.dumps(records),
                        previous,
                        digest,
                    )
                )
                previous = digest
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), %s)", [events]
        )
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE qc_result")
    return bound


def verify() -> tuple[float, int, int]:
    from services.audit.selectors import ChainBreak, RecordsChecked, audit_chain_verify

    started = time.perf_counter()
    events = records = 0
    for outcome in audit_chain_verify():
        if isinstance(outcome, ChainBreak):
            raise SystemExit(
                f"the seeded chain does not verify: #{outcome.sequence} {outcome.problem}"
            )
        if isinstance(outcome, RecordsChecked):
            records = outcome.count
        else:
            events = outcome
    return time.perf_counter() - started, events, records


def bare_loop() -> tuple[float, int, int]:
    """Read and hash the same rows, checking nothing."""
    from services.audit.chain import CHAINED_FIELDS, event_hash
    from services.audit.models import AuditEvent

    names = (*CHAINED_FIELDS, "records")
    started = time.perf_counter()
    events = 0
    rows = (
        AuditEvent.objects.order_by("sequence")
        .values_list(*names, "previous_hash")
        .iterator(chunk_size=5000)
    )
    for row in rows:
        event_hash(row[-1], dict(zip(names, row, strict=False)))
        events += 1
    results = sum(1 for _ in result_hashes())
    return time.perf_counter() - started, events, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--per-request", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    if args.events // 10 * args.per_request < args.results:
        raise SystemExit("--events / 10 x --per-request must cover --results")

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evrelease")
    name = (urlsplit(server_url).path.lstrip("/") or "evrelease") + "_verifybench"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=with_database(server_url, name),
        LOG_LEVEL="warning",
        DJANGO_SETTINGS_MODULE="services.settings",
    )
    log(f"database {name} (dropped and created), migrating")
    create_database(server_url, name)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    log(f"writing {args.results:,} results")
    started = time.perf_counter()
    lot_number, _ = seed_results(args.results)
    log(f"writing {args.events:,} chained events ({time.perf_counter() - started:.0f} s so far)")
    bound = seed_events(args.events, lot_number, args.per_request)
    log(f"seeded in {time.perf_counter() - started:.0f} s; {bound:,} results bound")

    log("bare loop (read and hash, nothing checked)")
    bare_time, bare_events, bare_results = bare_loop()
    log("audit_chain_verify")
    verify_time, events, records = verify()
    if (events, records) != (args.events, bound):
        raise SystemExit(f"verified {events} events and {records} records")
    if not args.keep:
        connection.close()
        create_database(server_url, name)  # leave an empty database behind

    bare_rate = (bare_events + bare_results) / bare_time
    verify_rate = (events + records) / verify_time
    print()
    print(f"{'path':<46}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    print(
        f"{'bare loop (read + hash events and results)':<46}"
        f"{bare_events + bare_results:>12,}{bare_time:>10.1f}{bare_rate:>12,.0f}"
    )
    print(
        f"{'audit_verify (chain + bound records)':<46}"
        f"{events + records:>12,}{verify_time:>10.1f}{verify_rate:>12,.0f}"
    )
    print()
    ratio = verify_rate / bare_rate * 100
    print(f"verify = {ratio:.0f}% of the bare loop (target >= 50%)")
    return 0 if ratio >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
