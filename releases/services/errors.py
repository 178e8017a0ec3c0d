"""Release refusals: the platform's one domain error (services.errors), under the release names.

A refused decision carries EVERY reason, each with its code: the checks are all
run and collected, never stopped at the first failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.errors import DomainError, InvalidInput, NotAllowed, NotFound, Problem
from services.errors import Refused as _Refused

__all__ = ["DomainError", "InvalidRequest", "NotAllowed", "NotFound", "Problem", "Refused"]


class Refused(_Refused):
    """The current state does not allow it; every problem found, each with its code."""

    def __init__(self, headline: str, problems: Sequence[Problem | str]) -> None:
        super().__init__(
            headline,
            [p if isinstance(p, Problem) else Problem("refused", p) for p in problems],
        )


class InvalidRequest(InvalidInput):
    """The request is malformed: ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str, code: str = "invalid") -> None:
        super().__init__([Problem(code, reason, field)])
        self.field = field
        self.reason = reason
