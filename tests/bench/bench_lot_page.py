"""Benchmark of the lot page: server time with 300 results beside the same page with 10.

Run from the repository root (PostgreSQL and Redis must answer)::

    make bench BENCH=tests/bench/bench_lot_page.py
    .venv/bin/python tests/bench/bench_lot_page.py [--rounds 15] [--large 300]

It creates its own database (``<name of DATABASE_URL>_lotpagebench``, dropped and
made again, migrated), seeds the whole demo (four lots, the 23 history lots of the
control chart), then posts and evaluates two more lots of the product through the
real services: one with the demo's 10 conforming results and one with the same
10 plus protein replicates up to ``--large`` results. Both pages carry the same
pictures, runs and sparklines; only the number of result rows differs.

It measures, in the same run, ``GET /lots/<lot>/`` as the QA officer through
Django's test client (in-process: no socket, so the figure is the server's
work: queries, selectors, template rendering), the two pages alternating,
``--rounds`` times each after a warm-up, and reports the median and the best
of each, their queries, and the ratio of the medians.

Target: the page with ``--large`` results takes at most 2x the page with 10.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

from tests.bench.common import django_on_fresh_database, log, with_database  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-password-1"
TARGET = 2.0


def _seed(large: int) -> None:
    from qc import demo
    from services.accounts.demo import demo_accounts_seed
    from tests.releases.ui.lots import lot_with_results

    demo_accounts_seed(password=PASSWORD)
    demo.seed_demo(stdout=io.StringIO(), password=PASSWORD)
    lot_with_results("EVX-BENCH-010", 10, days_before=3)
    lot_with_results(f"EVX-BENCH-{large:03d}", large, days_before=2)


def _get(client: Any, lot_number: str) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(f"/lots/{lot_number}/")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return elapsed * 1000, len(queries), len(response.content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    # as ``make run``: DEBUG off, static files from the source tree (no collectstatic)
    bench = django_on_fresh_database(
        "_lotpagebench", redis_db=args.redis_db, ALLOW_INSECURE_LOCAL="true"
    )
    from django.test import Client

    from services.accounts.models import User

    log(f"seeding the demo and two lots (10 and {args.large} results)")
    _seed(args.large)
    client = Client()
    client.force_login(User.objects.get(username="qa"))
    small, large = "EVX-BENCH-010", f"EVX-BENCH-{args.large:03d}"
    for lot_number in (small, large):  # warm-up: templates compiled, caches filled
        _get(client, lot_number)
    times: dict[str, list[float]] = {small: [], large: []}
    queries: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for _ in range(args.rounds):
        for lot_number in (small, large):
            ms, count, size = _get(client, lot_number)
            times[lot_number].append(ms)
            queries[lot_number], sizes[lot_number] = count, size

    print()
    print(f"Lot page, GET as QA, in-process, {args.rounds} rounds (ms)")
    print(f"  {'':22} {'median':>8} {'best':>8} {'queries':>8} {'KiB':>6}")
    for label, lot_number in ((f"{args.large} results", large), ("10 results (baseline)", small)):
        values = times[lot_number]
        print(
            f"  {label:22} {statistics.median(values):8.1f} {min(values):8.1f}"
            f" {queries[lot_number]:8d} {sizes[lot_number] / 1024:6.0f}"
        )
    ratio = statistics.median(times[large]) / statistics.median(times[small])
    print(f"  ratio of the medians  {ratio:.2f}x (target <= {TARGET:.0f}x)")
    ok = ratio <= TARGET and queries[large] == queries[small]
    if not args.keep:
        from django.db import connection

        connection.close()
        import psycopg

        with psycopg.connect(with_database(bench.server_url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{bench.name}" WITH (FORCE)')
    log("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
