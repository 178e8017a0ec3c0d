"""Gunicorn settings for the api and web services.

    gunicorn -c deploy/gunicorn.conf.py services.wsgi:application

Every value can be tuned from the environment; the defaults suit a container
with a CPU limit of one or two cores behind a TLS-terminating proxy.  Loading
this file has no side effects (the test suite loads it with runpy): anything
that touches the filesystem or the environment happens in the server hooks.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
from pathlib import Path

from gunicorn import glogging


def _whole_number(name: str, default: int, *, minimum: int = 1) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def _available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU limit."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


# --- Socket ------------------------------------------------------------------
bind = f"0.0.0.0:{_whole_number('PORT', 8000)}"
backlog = _whole_number("GUNICORN_BACKLOG", 2048)

# --- Workers: processes x threads --------------------------------------------
# WEB_CONCURRENCY wins; otherwise 2 x CPUs + 1, capped (a node's 64 cores are
# not this container's).
worker_class = "gthread"
workers = _whole_number(
    "WEB_CONCURRENCY",
    min(2 * _available_cpus() + 1, _whole_number("WEB_CONCURRENCY_MAX", 8)),
)
threads = _whole_number("GUNICORN_THREADS", 4)
preload_app = False  # each worker imports the app: no DB connections shared across fork

# --- Timeouts ----------------------------------------------------------------
timeout = _whole_number("GUNICORN_TIMEOUT", 60)
graceful_timeout = _whole_number("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _whole_number("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then, so a slow leak never reaches the memory limit;
# the jitter keeps them from all restarting at once.
max_requests = _whole_number("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _whole_number("GUNICORN_MAX_REQUESTS_JITTER", 100, minimum=0)

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers (gunicorn docs,
# "Blocking OS calls").  /dev/shm exists in every Linux container.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# No control socket: it would live under $HOME, and a container has nothing to
# control it with.
control_socket_disable = True

# --- Proxy -------------------------------------------------------------------
# Addresses allowed to set X-Forwarded-Proto and friends; "*" behind an ingress
# whose pods' addresses are not known in advance.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logging -----------------------------------------------------------------
_LOG_FORMAT = os.environ.get("LOG_FORMAT", "json").strip().lower()
_ACCESS_LOG_PROBES = os.environ.get("ACCESS_LOG_PROBES", "false").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
_PROBE_PATHS = ("/healthz/", "/metrics")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Used when LOG_FORMAT=console; LOG_FORMAT=json writes one JSON object a line.
access_log_format = '%(h)s %({x-request-id}o)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
proc_name = f"evrelease-{os.environ.get('EVRELEASE_ROLE', 'web')}"


class AccessLogger(glogging.Logger):
    """Access log lines as JSON (the app's structlog keys), with the request id.

    Successful probes (/healthz/*, /metrics) are left out unless
    ACCESS_LOG_PROBES=true: the kubelet and Prometheus ask every few seconds.
    """

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = self.atoms(resp, req, environ, request_time)
        status = str(atoms["s"])
        path = environ.get("PATH_INFO", "")
        if not _ACCESS_LOG_PROBES and status.startswith("2") and path.startswith(_PROBE_PATHS):
            return
        if _LOG_FORMAT != "json":
            super().access(resp, req, environ, request_time)
            return
        if not self.cfg.accesslog:
            return
        self.access_log.info(json.dumps(_access_record(atoms), separators=(",", ":")))


def _access_record(atoms: dict[str, object]) -> dict[str, object]:
    """One access-log record from gunicorn's atoms (request headers are ``{name}i``)."""
    request_id = atoms.get("{x-request-id}o") or atoms.get("{x-request-id}i") or None
    status = str(atoms.get("s", ""))
    return {
        "timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": "info",
        "logger": "gunicorn.access",
        "event": "request",
        "request_id": request_id,
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q") or None,
        "status": int(status) if status.isdigit() else status,
        "bytes": atoms.get("B"),
        "duration_ms": round(int(str(atoms.get("D", 0))) / 1000, 3),
        "remote_addr": atoms.get("h"),
        "forwarded_for": atoms.get("{x-forwarded-for}i"),
        "user_agent": atoms.get("a"),
        "referer": atoms.get("f"),
        "protocol": atoms.get("H"),
    }


logger_class = AccessLogger


# --- Hooks -------------------------------------------------------------------
def on_starting(server):  # type: ignore[no-untyped-def]
    """Prometheus multiprocess mode: /metrics adds up every worker, not one at random.

    The directory is emptied at each start (counters restart with the server);
    django-prometheus aggregates it whenever PROMETHEUS_MULTIPROC_DIR is set.
    """
    directory = Path(
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus-multiproc")  # noqa: S108
    )
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
