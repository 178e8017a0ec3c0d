"""deploy/gunicorn.conf.py: loads with runpy, every setting is one gunicorn knows
and accepts, the environment tunes it, and the access log is JSON with the
request id."""

import io
import json
import logging
import os
import runpy
from datetime import timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from gunicorn.config import Config

pytestmark = []  # no Django settings, no database

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
TUNING = (
    "PORT",
    "WEB_CONCURRENCY",
    "WEB_CONCURRENCY_MAX",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "FORWARDED_ALLOW_IPS",
    "LOG_FORMAT",
    "ACCESS_LOG_PROBES",
)


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in TUNING:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    namespace = runpy.run_path(str(CONF))
    assert dict(os.environ) == before, "loading the config must not change the environment"
    return namespace


def settings_of(namespace: dict) -> dict:
    """The names gunicorn reads: not private, imported or a class definition."""
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and not (isinstance(value, type) and value.__name__ == name)
        and name != "annotations"  # from __future__ import annotations
    }


def gunicorn_config(namespace: dict) -> Config:
    config = Config()
    for name, value in settings_of(namespace).items():
        config.set(name, value)  # runs gunicorn's validators (types, hook arity)
    return config


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = load(monkeypatch)
    assert namespace["bind"] == "0.0.0.0:8000"
    assert namespace["worker_class"] == "gthread"
    assert namespace["threads"] >= 2
    assert 3 <= namespace["workers"] <= 8
    assert namespace["timeout"] > 0 and namespace["graceful_timeout"] > 0
    assert namespace["max_requests"] > 0 and namespace["max_requests_jitter"] > 0
    assert namespace["worker_tmp_dir"] == "/dev/shm"
    assert namespace["preload_app"] is False
    assert namespace["accesslog"] == "-"
    assert namespace["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert namespace["control_socket_disable"] is True


def test_every_setting_is_known_to_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = load(monkeypatch)
    known = set(Config().settings)
    unknown = set(settings_of(namespace)) - known
    assert not unknown, f"gunicorn ignores these silently: {sorted(unknown)}"
    config = gunicorn_config(namespace)
    assert config.logger_class is namespace["AccessLogger"]
    assert config.worker_class_str == "gthread"
    assert config.address == [("0.0.0.0", 8000)]


def test_environment_tunes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = load(
        monkeypatch,
        PORT="9000",
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="120",
        FORWARDED_ALLOW_IPS="*",
    )
    assert namespace["bind"] == "0.0.0.0:9000"
    assert namespace["workers"] == 3
    assert namespace["threads"] == 8
    assert namespace["timeout"] == 120
    assert namespace["forwarded_allow_ips"] == "*"
    assert load(monkeypatch, WEB_CONCURRENCY_MAX="1")["workers"] == 1


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_bad_values_stop_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        load(monkeypatch, WEB_CONCURRENCY=value)


def _access_line(namespace: dict, path: str, status: str = "200 OK") -> str:
    config = gunicorn_config(namespace)
    logger = config.logger_class(config)
    stream = io.StringIO()
    logger.access_log.handlers = [logging.StreamHandler(stream)]
    logger.access_log.propagate = False
    response = SimpleNamespace(
        status=status, headers=[("Content-Type", "text/html"), ("X-Request-ID", "abc-123")], sent=42
    )
    request = SimpleNamespace(
        headers=[("USER-AGENT", 'probe "quoted"'), ("X-FORWARDED-FOR", "203.0.113.9")]
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + "?page=2",
        "PATH_INFO": path,
        "QUERY_STRING": "page=2",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_USER_AGENT": 'probe "quoted"',
    }
    logger.access(response, request, environ, timedelta(milliseconds=12, microseconds=500))
    return stream.getvalue()


def test_json_access_log_carries_the_request_id(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _access_line(load(monkeypatch), "/api/v1/lots/")
    record = json.loads(line)
    assert record["request_id"] == "abc-123"
    assert record["status"] == 200
    assert record["method"] == "GET"
    assert record["path"] == "/api/v1/lots/"
    assert record["query"] == "page=2"
    assert record["duration_ms"] == 12.5
    assert record["user_agent"] == 'probe "quoted"'
    assert record["forwarded_for"] == "203.0.113.9"
    assert record["event"] == "request"


def test_successful_probes_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = load(monkeypatch)
    assert _access_line(namespace, "/healthz/live") == ""
    assert _access_line(namespace, "/metrics") == ""
    assert json.loads(_access_line(namespace, "/healthz/ready", "503 Service Unavailable"))
    assert _access_line(load(monkeypatch, ACCESS_LOG_PROBES="true"), "/healthz/live")


def test_console_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _access_line(load(monkeypatch, LOG_FORMAT="console"), "/audit/")
    assert "abc-123" in line and '"GET /audit/?page=2 HTTP/1.1" 200' in line


def test_prometheus_multiprocess_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_text("stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    namespace = load(monkeypatch)
    namespace["on_starting"](server=None)
    assert directory.is_dir() and not any(directory.iterdir())
