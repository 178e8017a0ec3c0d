"""Strict configuration from the environment.

Every setting that comes from the environment is parsed here, once, at start-up.
A malformed value stops the process with a message naming the variable, so a
typo in a deployment never turns into a silently different system (EU GMP
Annex 11 §4: validated configuration).  Any variable may instead be read from a
file named by ``<NAME>_FILE`` (Docker and Kubernetes secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    """A configuration variable is missing or malformed."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"Configuration error in {name}: {reason}")
        self.name = name


def raw(name: str) -> str | None:
    """The value of ``name``, or the content of the file named by ``name_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    value = os.environ.get(name)
    if file_name and value is not None:
        raise ConfigError(name, f"set either {name} or {name}_FILE, not both")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE", f"cannot read {file_name!r}: {exc.strerror}") from exc
    return value


def string(name: str, default: str | None = None) -> str:
    value = raw(name)
    if value is None or value == "":
        if default is None:
            raise ConfigError(name, "is required")
        return default
    return value


def optional(name: str) -> str | None:
    value = raw(name)
    return value or None


def boolean(name: str, default: bool) -> bool:
    value = raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(name, f"expected true or false, got {value!r}")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {number}")
    return number


def string_list(name: str, default: list[str]) -> list[str]:
    value = raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def text_lines(name: str, default: tuple[str, ...], *, max_length: int = 200) -> tuple[str, ...]:
    """Printed lines (an address): one per line of the value, or separated by ``|`` when
    the value must fit on one line; blank lines dropped, no other control characters."""
    value = raw(name)
    if value is None or value.strip() == "":
        return default
    lines = tuple(part.strip() for part in value.replace("|", "\n").splitlines() if part.strip())
    for line in lines:
        if any(ord(char) < 32 or ord(char) == 127 for char in line):
            raise ConfigError(name, "control characters are not allowed")
        if len(line) > max_length:
            raise ConfigError(name, f"a line is longer than {max_length} characters")
    return lines


def text_line(name: str, default: str, *, max_length: int = 200) -> str:
    """One printed line (a name): ``text_lines`` with exactly one line."""
    lines = text_lines(name, (default,), max_length=max_length)
    if len(lines) != 1:
        raise ConfigError(name, "expected one line")
    return lines[0]


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = string(name, default).strip().lower()
    if value not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def database(name: str, value: str) -> dict[str, object]:
    """Parse a PostgreSQL URL; only PostgreSQL is supported (triggers, locks, JSONB)."""
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ConfigError(name, f"expected a postgres:// URL, got scheme {scheme!r}")
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # django-environ raises a variety of errors
        raise ConfigError(name, f"malformed URL: {exc}") from exc
    if not config.get("NAME"):
        raise ConfigError(name, "the URL names no database")
    return dict(config)


def redis_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(name, f"expected a redis:// URL, got scheme {parts.scheme!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(name, "the URL names no host")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise ConfigError(name, "the port is not a number") from None
    return value
