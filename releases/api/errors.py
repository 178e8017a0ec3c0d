"""Transitional: release views no longer map errors; the API's one handler does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def release_errors() -> Iterator[None]:
    yield
