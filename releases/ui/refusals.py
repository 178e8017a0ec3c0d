"""The web UI's one adapter from a domain refusal to what the page shows.

The services raise ``services.errors.DomainError``; a page shows its headline and
every reason, and answers the HTTP status of its kind (400, 403, 404, 409), as the
API does.  A malformed input goes back onto the form's field; a refused password
shows how close the account is to the lockout (21 CFR 11.300(d)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms

from services.accounts.models import User
from services.errors import DomainError, ErrorKind
from services.esign.services import SignatureRefused

STATUS_OF_KIND = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_ALLOWED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.THROTTLED: 429,
}
# The service's name of a field, where the form calls it otherwise.
_FORM_FIELD = {"comment": "reason", "findings": "findings", "summary": "reason"}


@dataclass
class Refusal:
    """Why an action was refused: every reason, in the services' words."""

    headline: str
    reasons: list[str] = field(default_factory=list)
    lockout_warning: str = ""
    codes: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[tuple[str, str]]:
        """(code, reason) pairs: the page shows the words and marks each with its code."""
        codes = self.codes if len(self.codes) == len(self.reasons) else [""] * len(self.reasons)
        return list(zip(codes, self.reasons, strict=True))


def sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def refusal_of(
    exc: DomainError, *, user: User, form: forms.Form | None, lockout_warning: str = ""
) -> tuple[Refusal, int]:
    """The refusal panel for ``exc`` and the page's status; invalid fields go on the form."""
    status = STATUS_OF_KIND[exc.kind]
    codes = exc.codes
    if isinstance(exc, SignatureRefused):
        if exc.code == "account_locked":
            return Refusal("Account locked", [sentence(exc.headline)], codes=codes), status
        return Refusal("Signature refused", [], lockout_warning, codes=codes), status
    if exc.kind == ErrorKind.INVALID and form is not None:
        for problem in exc.problems:
            name = _FORM_FIELD.get(problem.field or "", problem.field)
            form.add_error(name if name in form.fields else None, problem.reason)
        return Refusal("Please correct the form", [], codes=codes), status
    if exc.kind == ErrorKind.THROTTLED:
        return Refusal("Too many failed attempts", [sentence(exc.headline)], codes=codes), status
    if exc.kind == ErrorKind.NOT_ALLOWED:
        return Refusal("Not allowed", [sentence(r) for r in exc.reasons], codes=codes), status
    return Refusal(exc.headline, exc.reasons, codes=codes), status
