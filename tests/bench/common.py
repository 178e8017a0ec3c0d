"""Helpers shared by the benchmark scripts: their own throwaway database, and a log line."""

from __future__ import annotations

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
