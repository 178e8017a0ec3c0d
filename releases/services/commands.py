"""Signed commands: the one way a person's action on a lot or an investigation runs.

The Part 11 order, for every action of the policy table (``releases.policy``):

1. the actor may take the action at all (a person, holding one of its roles);
2. the reason is given (EU GMP Annex 11 §9, §14);
3. the signer re-enters the password OUTSIDE any transaction (21 CFR 11.200(a)): a
   failure is committed to the audit trail and counts toward the lockout (11.300(d))
   even though the command that asked for it will not run;
4. one transaction locks the record (SELECT ... FOR UPDATE), checks the role again
   for the record's product and that the action applies in the record's state,
   fills the statement the signer confirms from the locked record, and runs the
   command's body, which writes the record, its signature and its audit event.

Fifty concurrent attempts on one lot give one decision: the others wait for the
lock, then find the lot already decided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.db.models import Model

from qc.models import Lot
from releases.lifecycle import lot_lock
from releases.models import Investigation
from releases.policy import (
    ACTIONS,
    ActionKey,
    Facts,
    PolicyAction,
    investigation_state_problems,
    lot_state_problems,
)
from releases.policy import require_person as policy_require_person
from releases.selectors import statement_facts
from releases.services.errors import Problem, Refused
from services.accounts.context import AuthContext
from services.accounts.models import User
from services.errors import InvalidInput, NotFound, lot_not_found
from services.esign.models import Signature
from services.esign.services import next_id, signature_record, signer_authenticate

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@dataclass(frozen=True)
class Act:
    """What a command's body receives: the authenticated person and what they confirm."""

    person: User
    reason: str
    action: PolicyAction
    statement: str

    def sign(self, record: M, *, label: str) -> tuple[M, Signature]:
        """Sign an append-only record with this act's meaning, then store it once.

        The id is drawn from the table's sequence first, so the signature names the
        row that will carry it, and the row is written in one INSERT (append-only
        tables refuse the UPDATE that signing after inserting would need).
        """
        record.pk = next_id(type(record))
        signature = self.signature_of(record, label=label)
        record.signature = signature  # type: ignore[attr-defined]
        record.save(force_insert=True)
        return record, signature

    def signature_of(self, record: Model, *, label: str, meaning: str = "") -> Signature:
        """Sign a record that is already stored (an investigation entry, say)."""
        return signature_record(
            signer=self.person,
            meaning=meaning or self.action.meaning,
            reason=self.reason,
            record=record,  # type: ignore[arg-type]
            record_label=label,
            statement=self.statement,
        )


def require_reason(reason: str | None, field: str = "reason") -> str:
    if not reason or not reason.strip():
        raise InvalidInput.single(
            field, "a reason is required (EU GMP Annex 11 §9, §14)", code="reason_required"
        )
    return reason.strip()


def require_meaningful_reason(reason: str | None, field: str = "reason") -> str:
    """A reason a reader years later can act on: a few words, not "x" or "ok".

    EU GMP Annex 11 §9 asks for the reason of a GMP change; a correction of an issued
    document is one, so a one-word or one-letter reason is refused.
    """
    text = require_reason(reason, field)
    words = [word for word in text.split() if any(ch.isalnum() for ch in word)]
    if len(words) < MEANINGFUL_REASON_WORDS or len(set(text.casefold())) < 4:
        raise InvalidInput.single(
            field,
            f"say why in at least {MEANINGFUL_REASON_WORDS} words (EU GMP Annex 11 §9)",
            code="reason_not_meaningful",
        )
    return text


MEANINGFUL_REASON_WORDS = 3


def _authenticated(
    action: PolicyAction, auth: AuthContext, password: str | None, signing_for: dict[str, str]
) -> User | None:
    """Step 3: the password, re-entered, when the action signs (or it was given anyway);
    a failed attempt names the lot (and investigation) it was for, and the action."""
    if action.signs or password:
        return signer_authenticate(
            auth=auth,
            password=password or "",
            signing_for={**signing_for, "action": action.key.value},
        )
    return None


def lot_command(
    *,
    key: ActionKey,
    auth: AuthContext,
    lot_number: str,
    reason: str,
    body: Callable[[Lot, Act], T],
    password: str | None = None,
    reason_field: str = "reason",
    check_state: bool = True,
    facts: Callable[[Lot], Facts] | None = None,
) -> T:
    """Run ``body`` on the locked lot as the policy's action ``key`` (see the module doc).

    ``check_state=False`` for decisions whose release guards check the state
    themselves, with every other reason collected.
    """
    action = ACTIONS[key]
    found = Lot.objects.select_related("product").filter(lot_number=lot_number).first()
    if found is None:
        raise lot_not_found(lot_number)
    person = policy_require_person(key, auth.principal, found)
    reason = require_reason(reason, reason_field)
    person = _authenticated(action, auth, password, {"lot": lot_number}) or person
    with transaction.atomic():
        lot = lot_lock(lot_number=lot_number)
        if lot is None:
            raise lot_not_found(lot_number)
        policy_require_person(key, person, lot)
        if check_state:
            _refuse_unless_applies(key, lot)
        known = facts(lot) if facts is not None else statement_facts(lot=lot)
        act = Act(person=person, reason=reason, action=action, statement=action.statement(known))
        return body(lot, act)


def _refuse_unless_applies(key: ActionKey, lot: Lot) -> None:
    problems = lot_state_problems(key, lot)
    if problems:
        raise Refused(
            f"Lot {lot.lot_number}: {ACTIONS[key].title.lower()} is not possible now",
            [Problem(code, words) for code, words in problems],
        )


def investigation_command(
    *,
    key: ActionKey,
    auth: AuthContext,
    number: str,
    reason: str,
    body: Callable[[Investigation, Lot, Act], T],
    password: str | None = None,
    reason_field: str = "reason",
    facts: Callable[[Lot, Investigation], Facts] | None = None,
) -> T:
    """Run ``body`` on the locked investigation (and its lot) as the policy's action ``key``.

    ``facts``: what the statement quotes, when the input chooses among outcomes."""
    action = ACTIONS[key]
    lot_number = (
        Investigation.objects.filter(number=number)
        .values_list("lot__lot_number", flat=True)
        .first()
    )
    if lot_number is None:
        raise NotFound(
            f"investigation {number} does not exist",
            code="investigation_not_found",
            field="number",
        )
    person = policy_require_person(key, auth.principal)
    reason = require_reason(reason, reason_field)
    signing_for = {"lot": lot_number, "investigation": number}
    person = _authenticated(action, auth, password, signing_for) or person
    with transaction.atomic():
        investigation = investigation_locked(number=number)
        lot = (
            Lot.objects.select_for_update(of=("self",))
            .select_related("product", "specification")
            .get(pk=investigation.lot_id)
        )
        problems = investigation_state_problems(key, investigation)
        if problems:
            raise Refused(
                f"Investigation {number}: {action.title[:1].lower()}{action.title[1:]} is not "
                "possible now",
                [Problem(code, words) for code, words in problems],
            )
        known = (
            facts(lot, investigation)
            if facts is not None
            else statement_facts(lot=lot, investigation=investigation)
        )
        act = Act(person=person, reason=reason, action=action, statement=action.statement(known))
        return body(investigation, lot, act)


def investigation_locked(*, number: str) -> Investigation:
    """The investigation, its row locked until the caller's transaction ends."""
    investigation = (
        Investigation.objects.select_for_update(of=("self",))
        .select_related("lot", "result", "result__test")
        .filter(number=number)
        .first()
    )
    if investigation is None:
        raise NotFound(
            f"investigation {number} does not exist",
            code="investigation_not_found",
            field="number",
        )
    return investigation
