"""One domain error for every refusal, whichever app raises it (HackSoft's ApplicationError).

A service that refuses raises a :class:`DomainError` subclass: a machine-readable
``code``, a ``headline`` a person understands, and every :class:`Problem` found
(each with its own code, the reason in words, and the field and item index it
concerns).  The edges translate it once: the API's exception handler
(``services.api.errors``) into ``{"detail": headline, "errors": [...]}`` with the
HTTP status of its kind, and the web UI's adapter (``releases.ui.refusals``) into
the page's refusal panel.  Clients and tests rely on the codes, never on the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """What kind of refusal it is; each edge maps a kind to one answer (400/403/404/409/429)."""

    INVALID = "invalid"  # the request is malformed: nothing was done
    NOT_FOUND = "not_found"  # the record named does not exist
    NOT_ALLOWED = "not_allowed"  # the actor may not (role, machine client, wrong password)
    CONFLICT = "conflict"  # the state of the records does not allow it now
    THROTTLED = "throttled"  # too many failed attempts: retry later (429, Retry-After)


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason for a refusal: its code, the words, and which field (and item) it concerns."""

    code: str
    reason: str
    field: str | None = None
    index: int | None = None


class DomainError(Exception):
    """A refusal: nothing of the refused request was stored."""

    kind: ClassVar[ErrorKind] = ErrorKind.CONFLICT
    default_code: ClassVar[str] = "refused"

    def __init__(
        self, headline: str, problems: Sequence[Problem] = (), *, code: str | None = None
    ) -> None:
        self.code = code or (problems[0].code if len(problems) == 1 else self.default_code)
        self.headline = headline
        self.problems = list(problems) or [Problem(self.code, headline)]
        super().__init__(
            headline
            if not problems
            else headline + ": " + "; ".join(p.reason for p in self.problems[:5])
        )

    @property
    def reasons(self) -> list[str]:
        return [problem.reason for problem in self.problems]

    @property
    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]


class InvalidInput(DomainError):
    """The input is malformed; every problem names its field (and item index in bulk)."""

    kind = ErrorKind.INVALID
    default_code = "invalid"

    def __init__(
        self, problems: Sequence[Problem], *, headline: str = "", code: str | None = None
    ) -> None:
        count = len(problems)
        super().__init__(
            headline or f"{count} problem{'s' if count != 1 else ''} in the request",
            problems,
            code=code,
        )

    @classmethod
    def single(cls, field: str | None, reason: str, code: str = "invalid") -> InvalidInput:
        return cls([Problem(code, reason, field)])


class NotFound(DomainError):
    """The record named in the request does not exist."""

    kind = ErrorKind.NOT_FOUND
    default_code = "not_found"

    def __init__(self, headline: str, *, code: str | None = None, field: str | None = None):
        super().__init__(headline, [Problem(code or self.default_code, headline, field)])


class NotAllowed(DomainError):
    """The actor may not do this (21 CFR 11.10(d),(g)); machine clients never sign (11.100)."""

    kind = ErrorKind.NOT_ALLOWED
    default_code = "not_allowed"

    def __init__(self, headline: str, *, code: str | None = None):
        super().__init__(headline, [Problem(code or self.default_code, headline)])


class Refused(DomainError):
    """The current state does not allow it; ``problems`` lists every reason found."""

    kind = ErrorKind.CONFLICT
    default_code = "refused"


class TooManyAttempts(DomainError):
    """Too many failed attempts: refused before any password was checked (429).

    ``retry_after`` is the number of seconds to wait (the ``Retry-After`` header).
    """

    kind = ErrorKind.THROTTLED
    default_code = "too_many_attempts"

    def __init__(self, headline: str, *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(headline, [Problem(code or self.default_code, headline)])
        self.retry_after = retry_after


def lot_not_found(lot_number: str) -> NotFound:
    """The one "lot … does not exist" refusal, wherever a lot is looked up."""
    return NotFound(f"lot {lot_number} does not exist", code="lot_not_found", field="lot")
