"""What QC services raise when they refuse; the API turns these into 400/404/409."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputError:
    """One problem with the input: which item (``index``), which field, and why."""

    field: str | None
    reason: str
    index: int | None = None


class InvalidInput(Exception):
    """The input is refused; nothing was stored."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        super().__init__("; ".join(e.reason for e in errors[:3]))
        self.errors = list(errors)

    @classmethod
    def single(cls, field: str | None, reason: str) -> InvalidInput:
        return cls([InputError(field, reason)])


class NotFound(Exception):
    """The record named in the request does not exist."""


class StateConflict(Exception):
    """The request conflicts with the current state of a record (a duplicate, a frozen spec)."""


class NotAllowed(Exception):
    """The actor may not do this (checked again here, behind the API's permission classes)."""
