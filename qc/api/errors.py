"""Transitional: QC views no longer map errors; the API's one handler does (services.api.errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def domain_errors() -> Iterator[None]:
    yield
