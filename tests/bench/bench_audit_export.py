"""Benchmark of the audit-trail CSV export against PostgreSQL's own COPY.

Run from the repository root (PostgreSQL must answer)::

    make bench BENCH=tests/bench/bench_audit_export.py
    .venv/bin/python tests/bench/bench_audit_export.py [--events 1000000] [--small 100000]

It creates its own database (``<name of DATABASE_URL>_exportbench``, dropped and
made again, migrated), writes ``--events`` audit events shaped like result
events (one INSERT ... SELECT; the chain is not meant to verify) and a stored
chain verification, then measures in the same run:

* ``COPY``    ``COPY (SELECT <the export's columns, cast to text>) TO STDOUT (FORMAT csv)``
  read to the end with psycopg: the server's own speed for these rows.
* ``export``  ``GET /api/v1/audit-events/?format=csv`` through the DRF view and
  Django's StreamingHttpResponse, as an auditor, the body read to the end
  (in-process: no socket, so what is measured is the application's cost).
* memory      the export's peak Python allocation (tracemalloc) and the process's
  peak RSS growth, at ``--small`` events (a filter) and at every event.

Targets: export >= 50 % of COPY's rows/s; peak memory at --events within 20 % of --small.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from tests.bench.common import create_database, log, with_database  # noqa: E402

PYTHON = sys.executable

SEED_SQL = """
INSERT INTO audit_auditevent (sequence, occurred_at, actor_type, actor_id, actor_name, action,
    object_type, object_id, old_values, new_values, reason, request_id, previous_hash, hash)
SELECT g, now() - make_interval(secs => %(n)s - g), 'client', 'AbC12345', 'MES-LINE-1',
    'result.recorded', 'result', g::text, NULL,
    jsonb_build_object('lot', 'EVX-25-' || lpad((g %% 5000)::text, 4, '0'), 'test', 'NTA-CONC',
        'value', '2.05e11', 'unit', 'particles/mL', 'qualifier', '',
        'canonical_value', (2.05e11 + g)::text, 'canonical_unit', 'particles/mL',
        'text_value', '', 'replicate', 1 + g %% 3, 'run', 'RUN-' || (g / 30)::text,
        'performed_by', 'analyst', 'performed_at', '2026-01-10T10:00:00+00:00'),
    '', 'req-' || (g / 1000)::text,
    md5(g::text) || md5((g - 1)::text), md5(g::text || 'h') || md5(g::text)
FROM generate_series(1, %(n)s) AS g
"""


def _rss_peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _reset_rss_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _copy_baseline(columns_sql: str, n: int) -> tuple[float, int]:
    from django.db import connection

    select = f"SELECT {columns_sql} FROM audit_auditevent ORDER BY sequence"
    sql = f"COPY ({select}) TO STDOUT (FORMAT csv)"
    size = 0
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for block in copy:
            size += len(block)
    return time.perf_counter() - started, size


def _export(client: Any, query: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = client.get(f"/api/v1/audit-events/?format=csv{query}")
    assert response.status_code == 200, response.status_code
    size = rows = 0
    for block in response.streaming_content:
        size += len(block)
        rows += block.count(b"\n")
    return time.perf_counter() - started, size, rows


def _export_memory(client: Any, query: str) -> tuple[int, int]:
    """Peak traced Python allocation and peak RSS growth (KiB) of one export."""
    _reset_rss_peak()
    before = _rss_peak_kib()
    tracemalloc.start()
    tracemalloc.reset_peak()
    _export(client, query)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, max(0, _rss_peak_kib() - before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evrelease")
    name = (urlsplit(server_url).path.lstrip("/") or "evrelease") + "_exportbench"
    database_url = with_database(server_url, name)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
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
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.test import APIClient

    from services.accounts.models import Role, User
    from services.audit.exports import COLUMNS
    from services.audit.models import ChainVerification

    n = args.events
    log(f"writing {n:,} audit events")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"n": n})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")
    log(f"  written in {time.perf_counter() - started:.1f} s")
    now = timezone.now()
    ChainVerification.objects.create(
        run_id="bench",
        requested_by="bench",
        started_at=now,
        finished_at=now,
        head_sequence=n,
        head_hash="",
        checked=n,
        passed=True,
    )
    auditor = User.objects.create_user(username="bench-auditor", password="x", role=Role.AUDITOR)
    client = APIClient()
    client.force_authenticate(auditor)

    casts = {"occurred_at", "old_values", "new_values", "records"}
    columns_sql = ", ".join(f"{c}::text" if c in casts else c for c in COLUMNS)

    # Warm both paths (plans, caches), then measure each twice and keep the best.
    _copy_baseline(columns_sql, n)
    copy_s = min(_copy_baseline(columns_sql, n)[0] for _ in range(2))
    copy_bytes = _copy_baseline(columns_sql, n)[1]
    runs = [_export(client, "") for _ in range(2)]
    export_s, export_bytes, export_lines = min(runs)
    copy_rate, export_rate = n / copy_s, n / export_s
    log(f"COPY   {n:,} rows in {copy_s:.2f} s = {copy_rate:,.0f} rows/s ({copy_bytes:,} bytes)")
    log(
        f"export {n:,} rows in {export_s:.2f} s = {export_rate:,.0f} rows/s "
        f"({export_bytes:,} bytes, {export_lines:,} lines)"
    )
    ratio = export_rate / copy_rate
    log(f"export / COPY = {ratio:.0%} (target >= 50 %)")

    small_py, small_rss = _export_memory(client, _small_filter(args.small))
    big_py, big_rss = _export_memory(client, "")
    log(
        f"peak memory at {args.small:,}: Python {small_py / 1e6:.1f} MB, "
        f"RSS +{small_rss / 1024:.1f} MB"
    )
    log(f"peak memory at {n:,}: Python {big_py / 1e6:.1f} MB, RSS +{big_rss / 1024:.1f} MB")
    growth = big_py / small_py - 1
    log(f"Python peak growth {growth:+.0%} (target within 20 %)")
    ok = ratio >= 0.5 and growth <= 0.2
    if not args.keep:
        connection.close()
        with __import__("psycopg").connect(
            with_database(server_url, "postgres"), autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    log("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


def _small_filter(small: int) -> str:
    """A filter matching the first ``small`` events (by time: they are one second apart)."""
    from services.audit.models import AuditEvent

    cutoff = AuditEvent.objects.get(sequence=small + 1).occurred_at
    return "&until=" + cutoff.isoformat().replace("+", "%2B")


if __name__ == "__main__":
    raise SystemExit(main())
