"""deploy/Dockerfile and .dockerignore, read instruction by instruction (no docker)."""

import json
import re
import runpy
import shlex
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

pytestmark = []  # no Django settings, no database

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


INSTRUCTIONS = instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in INSTRUCTIONS:
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


STAGES = _stages()
RUNTIME = STAGES[-1]


def _args(keyword: str, stage: list[tuple[str, str]] = RUNTIME) -> list[str]:
    return [arguments for kw, arguments in stage if kw == keyword]


def _exec_form(arguments: str) -> list[str]:
    assert arguments.startswith("["), f"use the exec form: {arguments}"
    return json.loads(arguments)


def test_parser_joins_continuations() -> None:
    text = "# c\nFROM a AS b\nRUN one \\\n    # note\n    && two\nUSER 1\n"
    assert instructions(text) == [("FROM", "a AS b"), ("RUN", "one && two"), ("USER", "1")]


def test_multi_stage_on_python_311_slim() -> None:
    assert len(STAGES) >= 2
    default_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert default_image and default_image.group(1) == "python:3.11-slim"
    for stage in STAGES:
        image = stage[0][1].split()[0]
        assert image in {"${PYTHON_IMAGE}", "python:3.11-slim"}
    assert _args("FROM", STAGES[0])[0].endswith(" AS builder")
    assert any("--from=builder" in run or "from=builder" in run for run in _args("RUN"))


def test_runs_as_a_numeric_non_root_user() -> None:
    users = _args("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert user == "10001"
    assert [kw for kw, _ in RUNTIME].index("USER") > [kw for kw, _ in RUNTIME].index("COPY")


def test_installs_from_the_lock_file_then_the_project_without_deps() -> None:
    runs = " ".join(_args("RUN"))
    assert "-r /tmp/requirements.lock" in runs or "-r requirements.lock" in runs
    assert "--no-deps" in runs
    assert "--no-cache-dir" in runs


def test_weasyprint_system_libraries() -> None:
    runs = " ".join(_args("RUN"))
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz0b", "fonts-dejavu-core"):
        assert package in runs
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_environment() -> None:
    env = " ".join(_args("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert "SECRET_KEY" not in env, "no key, not even a dummy one, is baked into the image"


def test_collectstatic_at_build_with_a_throwaway_key() -> None:
    (run,) = [run for run in _args("RUN") if "collectstatic" in run]
    words = shlex.split(run)
    assert "--noinput" in words
    assert any(w.startswith("SECRET_KEY=") and len(w) >= len("SECRET_KEY=") + 50 for w in words)
    assert "DATABASE_URL=postgres://build@localhost/build" in words


def test_healthcheck_expose_and_default_command() -> None:
    (healthcheck,) = _args("HEALTHCHECK")
    assert "CMD" in healthcheck and "/healthz/live" in healthcheck
    assert _args("EXPOSE") == ["8000"]
    (cmd,) = _args("CMD")
    assert _exec_form(cmd) == [
        "gunicorn",
        "-c",
        "deploy/gunicorn.conf.py",
        "services.wsgi:application",
    ]


def test_no_remote_add() -> None:
    for stage in STAGES:
        for arguments in _args("ADD", stage):
            assert not re.search(r"(^|\s)(https?|git)[:@]", arguments), arguments


@pytest.mark.parametrize("pattern", [".venv", "var", ".git", "__pycache__", "bench-results"])
def test_dockerignore_excludes_local_state(pattern: str) -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert pattern in ignored


def test_the_files_the_image_needs_are_not_ignored() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    needed = {
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "manage.py",
        "services",
        "deploy",
        "deploy/gunicorn.conf.py",
        "deploy/healthcheck.py",
    }
    assert not needed & ignored


# --- deploy/healthcheck.py (HEALTHCHECK and the compose health checks) ----------
HEALTHCHECK = runpy.run_path(str(ROOT / "deploy" / "healthcheck.py"))


def test_healthcheck_sends_an_allowed_host() -> None:
    probe_host = HEALTHCHECK["probe_host"]
    assert probe_host("evrelease.example.com,10.0.0.1") == "evrelease.example.com"
    assert probe_host(" .example.com") == "example.com"
    assert probe_host("*") == "localhost"
    assert probe_host("") == "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        self.send_response(200 if self.path == "/healthz/live" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_healthcheck_exit_status(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("PORT", str(server.server_address[1]))
        monkeypatch.setenv("ALLOWED_HOSTS", "evrelease.example.com")
        main = HEALTHCHECK["main"]
        assert main(["healthcheck.py", "/healthz/live"]) == 0
        assert main(["healthcheck.py", "/healthz/ready"]) == 1
        assert _Handler.hosts[-1] == "evrelease.example.com"
    finally:
        server.shutdown()
        server.server_close()
    assert main(["healthcheck.py"]) == 1  # nothing listens any more
