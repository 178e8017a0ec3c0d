"""``make run`` and ``manage.py`` on the embedded defaults leave nothing running.

One system is started for the module, as ``make run`` starts it (``python -m
services.launcher run``: no DATABASE_URL, no REDIS_URL, a var directory of its
own), and the tests run in order against it:

1. a ``manage.py`` command run beside it uses its PostgreSQL and leaves it running;
2. Ctrl-C (SIGINT to the launcher's process group, as a terminal sends it) ends
   web, worker, beat and the embedded PostgreSQL: no process of it remains;
3. a ``manage.py`` command run alone starts the embedded PostgreSQL and stops it
   when it exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from services import embedded

BASE_DIR = embedded.BASE_DIR
# Set by the test launcher for the suite's own database and broker: a local run has none.
NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME", "CELERY_KEY_PREFIX", "HOST"}


def environment(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env["EVRELEASE_VAR_DIR"] = str(var_dir)
    env["EVRELEASE_TESTING"] = "true"  # fast password hashing for the demo accounts
    env.update(extra)
    return env


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pid: int) -> bool:
    try:
        return not alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


def postgres_processes_of(pgdata: Path) -> list[psutil.Process]:
    """Every postmaster started on ``pgdata`` (its command line names the directory)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in cmdline and alive(process):
            found.append(process)
    return found


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return bool(condition())  # type: ignore[operator]


class LocalRun:
    """``python -m services.launcher run`` in a var directory of its own."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.pgdata = (var_dir / "pgdata").resolve()
        self.port = embedded.free_port()
        self.log_path = var_dir / "launcher.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.launcher", "run"],
                cwd=BASE_DIR,
                env=environment(var_dir, PORT=str(self.port)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, like a terminal job
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/healthz/ready"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.interrupt()
                pytest.fail(f"the local run did not become ready:\n{self.log[-4000:]}")
            time.sleep(0.3)

    def interrupt(self, timeout: float = 90) -> int | None:
        """Ctrl-C: SIGINT to the launcher's process group; wait for it to end."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=environment(self.var_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def clean_up(self) -> None:
        """Whatever a failed test left behind: this test's processes only."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for process in postgres_processes_of(self.pgdata):
            process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def local_run() -> Iterator[LocalRun]:
    # Not under pytest's basetemp: as root the server runs as the user "pgserver",
    # and every pytest run on the machine makes /tmp/pytest-of-root private again.
    var_dir = Path(tempfile.mkdtemp(prefix="evrelease-local-run-"))
    system = LocalRun(var_dir)
    try:
        system.wait_ready(timeout=240)
        yield system
    finally:
        system.clean_up()
        shutil.rmtree(var_dir, ignore_errors=True)


def test_a_manage_command_beside_make_run_uses_its_postgres(local_run: LocalRun) -> None:
    postmaster = embedded.postgres_pid(local_run.pgdata)
    assert postmaster is not None

    result = local_run.manage("check", "--database", "default")

    assert result.returncode == 0, result.stderr
    assert embedded.postgres_pid(local_run.pgdata) == postmaster
    assert [p.pid for p in postgres_processes_of(local_run.pgdata)] == [postmaster]
    assert local_run.ready()


def test_b_ctrl_c_stops_web_worker_beat_and_postgres(local_run: LocalRun) -> None:
    launcher = psutil.Process(local_run.process.pid)
    children = launcher.children(recursive=True)
    names = " ".join(" ".join(child.cmdline()) for child in children)
    assert "gunicorn" in names and "worker" in names and "beat" in names, names
    postmaster_pid = embedded.postgres_pid(local_run.pgdata)
    assert postmaster_pid is not None
    postmaster = psutil.Process(postmaster_pid)
    backends = postmaster.children(recursive=True)

    code = local_run.interrupt()

    assert code == 0, local_run.log[-4000:]
    everything = [*children, postmaster, *backends]
    # The launcher waited for all of them; a signalled watchdog may take a moment.
    wait_until(lambda: not any(alive(p) for p in everything), timeout=5)
    left = [p for p in everything if alive(p)]
    assert left == [], (left, local_run.log[-4000:])
    assert postgres_processes_of(local_run.pgdata) == []
    assert not (local_run.pgdata / "postmaster.pid").exists()
    assert "embedded PostgreSQL stopped" in local_run.log


def test_c_manage_command_alone_stops_the_postgres_it_started(local_run: LocalRun) -> None:
    local_run.interrupt()  # test b did it already, unless it ran alone
    assert embedded.postgres_pid(local_run.pgdata) is None

    shown = "from services import embedded; print('postmaster', embedded.postgres_pid())"
    result = local_run.manage("shell", "-c", shown)

    assert result.returncode == 0, result.stderr
    started = int(result.stdout.split("postmaster ", 1)[1].split()[0])  # it started one
    assert gone(started)
    assert postgres_processes_of(local_run.pgdata) == []
    assert not (local_run.pgdata / "postmaster.pid").exists()


def test_d_a_killed_command_leaves_no_server_either(local_run: LocalRun) -> None:
    """SIGKILL runs no exit handler: the embedded watchdog stops the server instead."""
    local_run.interrupt()
    wait = "from services import embedded; print('postmaster', embedded.postgres_pid()); input()"
    command = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", wait],
        cwd=BASE_DIR,
        env=environment(local_run.var_dir, PYTHONUNBUFFERED="1"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert command.stdout is not None
        line = ""
        while not line.startswith("postmaster "):
            line = command.stdout.readline()
            assert line, "the command ended before printing the postmaster's pid"
        started = int(line.split()[1])
        assert psutil.pid_exists(started)
    finally:
        command.kill()
        command.wait()

    assert wait_until(lambda: gone(started), timeout=15)
    assert postgres_processes_of(local_run.pgdata) == []
    assert not (local_run.pgdata / "postmaster.pid").exists()
