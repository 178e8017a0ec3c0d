"""What the release services raise when they refuse; the API maps them to 400/403/404/409.

A refused decision carries EVERY reason, in words a QA officer understands:
the checks are all run and collected, never stopped at the first failure.
"""

from __future__ import annotations

from collections.abc import Sequence


class ReleaseError(Exception):
    """Base of the release services' refusals."""


class NotFound(ReleaseError):
    """The lot, investigation or record named does not exist."""


class NotAllowed(ReleaseError):
    """The person's role does not allow this (21 CFR 11.10(d),(g)); machine clients never."""


class InvalidRequest(ReleaseError):
    """The request is malformed: ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Refused(ReleaseError):
    """The current state does not allow it; ``reasons`` lists every problem found."""

    def __init__(self, headline: str, reasons: Sequence[str]) -> None:
        super().__init__(headline + ": " + "; ".join(reasons))
        self.headline = headline
        self.reasons = list(reasons)
