"""Helpers shared by the benchmark scripts: their own throwaway database, and a log line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` (a socket URL keeps its ``?host=...``)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``server_url``; return its URL."""
    import psycopg

    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    server_url: str  # the server's URL as given (DATABASE_URL), to drop the database after
    env: dict[str, str]  # the environment the benchmark and its subprocesses run in


def django_on_fresh_database(suffix: str, *, redis_db: int, **settings: str) -> BenchDatabase:
    """Create ``<DATABASE_URL's name><suffix>`` (dropped first) and migrate it; point this
    process at it and at Redis database ``redis_db`` (``settings`` add variables), and
    set Django up."""
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evrelease")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = (urlsplit(server_url).path.lstrip("/") or "evrelease") + suffix
    parts = urlsplit(redis_url)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=create_database(server_url, name),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="warning",
        DJANGO_SETTINGS_MODULE="services.settings",
        REDIS_URL=urlunsplit((parts.scheme, parts.netloc, f"/{redis_db}", "", "")),
        **settings,
    )
    env.pop("CELERY_KEY_PREFIX", None)
    log(f"database {name} (dropped and created), migrating")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        check=True,
    )
    os.environ.update(env)
    import django

    django.setup()
    return BenchDatabase(name=name, server_url=server_url, env=env)
