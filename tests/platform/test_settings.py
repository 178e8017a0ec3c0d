"""Configuration is parsed strictly: a malformed variable stops start-up, naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings; print('OK')"


def _start(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG"}}
    env.update(overrides)
    env["DJANGO_SETTINGS_MODULE"] = "services.settings"
    return subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db", "DATABASE_URL: expected a postgres:// URL"),
        ("REDIS_URL", "http://localhost", "REDIS_URL: expected a redis:// URL"),
        ("DEBUG", "maybe", "DEBUG: expected true or false"),
        ("SECRET_KEY", "short", "SECRET_KEY: must be at least 50 characters"),
        ("DATABASE_CONN_MAX_AGE", "ten", "DATABASE_CONN_MAX_AGE: expected a whole number"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: expected one of json, console"),
        (
            "REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS",
            "two weeks",
            "REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS: expected a whole number",
        ),
        ("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES: expected addresses or CIDR"),
        ("LOGIN_SLOWDOWN_AFTER", "-1", "LOGIN_SLOWDOWN_AFTER: must be at least 1"),
        (
            "INVESTIGATION_ATTACHMENT_MAX_BYTES",
            "5MB",
            "INVESTIGATION_ATTACHMENT_MAX_BYTES: expected a whole number",
        ),
        (
            "INVESTIGATION_ATTACHMENT_MAX_BYTES",
            "0",
            "INVESTIGATION_ATTACHMENT_MAX_BYTES: must be at least 1",
        ),
        ("MANUFACTURER_NAME", "Vesicle GmbH | Berlin", "MANUFACTURER_NAME: expected one line"),
        ("MANUFACTURER_ADDRESS", "Street 1|\x07Berlin", "MANUFACTURER_ADDRESS: control characters"),
        ("CERTIFICATE_OPTIONAL_LINES", "sometimes", "CERTIFICATE_OPTIONAL_LINES: expected true"),
    ],
)
def test_malformed_variable_stops_start_up_naming_it(
    variable: str, value: str, message: str
) -> None:
    result = _start(**{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_plain_http_is_only_for_the_loopback_interface() -> None:
    local = _start(ALLOW_INSECURE_LOCAL="true", ALLOWED_HOSTS="127.0.0.1,localhost")
    assert local.returncode == 0, local.stderr
    exposed = _start(ALLOW_INSECURE_LOCAL="true", ALLOWED_HOSTS="evrelease.example.com")
    assert exposed.returncode != 0
    assert "ALLOW_INSECURE_LOCAL: serves plain http" in exposed.stderr


def test_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s" * 50 + "\n")
    result = _start(SECRET_KEY_FILE=str(secret))
    assert result.returncode == 0, result.stderr
    missing = _start(SECRET_KEY_FILE=str(tmp_path / "nope"))
    assert "SECRET_KEY_FILE: cannot read" in missing.stderr


def test_production_settings_pass_check_deploy() -> None:
    # A test-only switch (the browser tests set it) must not reach a production check.
    dropped = {"DEBUG", "EVRELEASE_TESTING", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DEBUG="false",
        SECRET_KEY="q8#Vw2!kLp9@Zr4$Tn6^Bx1&Hm3*Fj5(Dc7)Gs0-Ya_Ue8+Ki2=Op4~Lw6",
        ALLOWED_HOSTS="evrelease.example.com",
        DJANGO_SETTINGS_MODULE="services.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
