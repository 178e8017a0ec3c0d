"""QC refusals: the platform's one domain error (services.errors), under QC's names.

Transitional: the QC services raise these names; each is the platform's error type.
"""

from __future__ import annotations

from services.errors import InvalidInput, NotAllowed, NotFound, Problem
from services.errors import Refused as StateConflict

__all__ = ["InputError", "InvalidInput", "NotAllowed", "NotFound", "StateConflict"]


def InputError(field: str | None, reason: str, index: int | None = None) -> Problem:
    return Problem("invalid", reason, field, index)
