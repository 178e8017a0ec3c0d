"""``--validation-json=PATH``: write every test's result and requirement markers as JSON.

At the end of the session the plugin records, next to the per-test outcomes, what the
run ran on: the git commit, the versions of Python, Django, PostgreSQL (``SELECT
version()``) and Redis (``INFO server``), every pin in ``requirements-dev.lock`` with
the version actually installed, and the date.  ``python -m tests.validation.report``
turns that file into the HTML and PDF traceability matrix (``make validation-report``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
LOCK_FILE = BASE_DIR / "requirements-dev.lock"
SCHEMA = "evrelease-validation-results/1"

# nodeid -> {"nodeid", "requirements", "outcome", "phases": {when: outcome}, "longrepr"}
_results: dict[str, dict[str, Any]] = {}
_collection_errors: list[dict[str, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("evrelease").addoption(
        "--validation-json",
        metavar="PATH",
        default=None,
        help="write per-test results with their requirement markers as JSON (validation report)",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("validation_json", default=None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    report.validation_requirements = [m.args[0] for m in item.iter_markers("requirement")]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(
        report.nodeid,
        {"nodeid": report.nodeid, "requirements": [], "phases": {}, "longrepr": ""},
    )
    entry["requirements"] = list(getattr(report, "validation_requirements", entry["requirements"]))
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    entry["phases"][report.when] = outcome
    if report.failed and not entry["longrepr"]:
        entry["longrepr"] = report.longreprtext[-4000:]


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        error = {"nodeid": report.nodeid, "longrepr": report.longreprtext[-4000:]}
        _collection_errors.append(error)


def _outcome(phases: dict[str, str]) -> str:
    """One verdict per test: a failure in any phase fails it (an error in set-up too)."""
    values = phases.values()
    if "failed" in values:
        return "failed"
    if "xpassed" in values:
        return "xpassed"
    if phases.get("setup") == "skipped" or phases.get("call") == "skipped":
        return "skipped"
    if phases.get("call") == "xfailed" or phases.get("setup") == "xfailed":
        return "xfailed"
    if phases.get("call") == "passed":
        return "passed"
    return "failed"  # started and never finished its call: not proven


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _postgres_version() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return "unknown (no DATABASE_URL)"
    try:
        import psycopg

        with psycopg.connect(url, dbname="postgres", connect_timeout=10) as connection:
            row = connection.execute("SELECT version()").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception as exc:
        return f"unknown ({type(exc).__name__}: {exc})"


def _redis_server() -> dict[str, Any]:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return {"error": "no REDIS_URL"}
    try:
        import redis

        info = redis.Redis.from_url(url, socket_connect_timeout=5).info("server")
        return {str(k): v for k, v in dict(info).items()}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _pins() -> list[dict[str, str]]:
    pins = []
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = ""
        pins.append({"name": name, "pinned": version, "installed": installed})
    return pins


def environment() -> dict[str, Any]:
    import django

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
        "django": django.get_version(),
        "postgresql": _postgres_version(),
        "redis": _redis_server(),
        "lock_file": LOCK_FILE.name,
        "pins": _pins(),
    }


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not _enabled(config) or hasattr(config, "workerinput"):
        return
    path = Path(config.getoption("validation_json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tests = []
    for entry in _results.values():
        tests.append({**entry, "outcome": _outcome(entry["phases"])})
    document = {
        "schema": SCHEMA,
        "exitstatus": int(exitstatus),
        "args": list(config.invocation_params.args),
        "environment": environment(),
        "tests": tests,
        "collection_errors": _collection_errors,
    }
    path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
