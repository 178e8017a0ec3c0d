"""Assert on a refusal's codes (what clients branch on), never on its English words."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from services.errors import DomainError


@contextmanager
def refused_with(*codes: str) -> Iterator[Any]:
    """``with refused_with("wrong_state"): ...`` — the block raises a domain error whose
    reasons include every code given."""
    with pytest.raises(DomainError) as caught:
        yield caught
    found = caught.value.codes
    assert set(codes) <= set(found), found
