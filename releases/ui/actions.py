"""What a person can do from the web UI, and what signing each one means, in words.

Each action names the roles that may take it (the forms are shown only to
them), when it applies to a lot or an investigation, the form that collects
its input, the service that does it, and the statement the signer reads
before signing (21 CFR 11.50: the meaning of the signature, shown on screen).
The services check everything again; a refusal comes back with every reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest

from qc.models import Lot, LotStatus
from releases.lifecycle import HOLDABLE_STATES, REJECTABLE_STATES, RELEASED_STATES, status_text
from releases.models import PHASED_KINDS, Investigation, InvestigationPhase
from releases.services.decisions import (
    lot_approve,
    lot_conditionally_release,
    lot_finalise_conditional_release,
    lot_reject,
    lot_release,
)
from releases.services.guards import Action, signer_roles, unreviewed_result_ids
from releases.services.holds import lot_hold, lot_release_hold
from releases.services.investigations import investigation_add_entry
from releases.services.oos import (
    investigation_allow_retest,
    investigation_conclude,
    investigation_conclude_phase_one,
    investigation_invalidate_result,
    investigation_record_phase_two,
)
from releases.services.recalls import lot_record_recall_decision
from releases.services.reviews import lot_record_audit_trail_review, lot_record_result_review
from releases.ui import forms as ui_forms
from services.accounts.models import Role, User
from services.esign.models import Meaning

S = LotStatus
QA = (Role.QA_OFFICER,)
QP = (Role.QUALIFIED_PERSON,)
QA_OR_QP = (Role.QA_OFFICER, Role.QUALIFIED_PERSON)
LAB_SUPERVISORS = (Role.QC_REVIEWER, Role.QA_OFFICER)
CONTRIBUTORS = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA_OFFICER, Role.QUALIFIED_PERSON)


@dataclass(frozen=True)
class Facts:
    """What the statements quote: the lot (or investigation) and a few numbers."""

    lot: Lot
    user: User
    results: int = 0
    up_to_sequence: int | None = None
    investigation: Investigation | None = None
    proposal_cause: str = ""
    proposed_by: str = ""

    @property
    def lot_words(self) -> str:
        lot = self.lot
        spec = lot.specification
        return f"lot {lot.lot_number} of {lot.product.code} (specification v{spec.version})"


def _distributed(lot: Lot) -> bool:
    return lot.status in RELEASED_STATES or (
        lot.status == S.ON_HOLD and lot.status_before_hold in RELEASED_STATES
    )


def _qp_product(lot: Lot) -> bool:
    return bool(lot.product.requires_qp_certification)


@dataclass(frozen=True)
class LotAction:
    key: str
    title: str
    button: str
    form_class: type[forms.Form]
    service: Callable[..., Any]
    roles: Callable[[Lot], tuple[str, ...]]
    applies: Callable[[Lot], bool]
    statement: Callable[[Facts], str]
    done: str  # the success message; {lot} is the lot number
    meaning: str = ""  # the signature's meaning; "" when nothing is signed
    guard: Action | None = None  # the checklist this decision runs
    danger: bool = False

    def form(self, lot: Lot, data: Any = None, initial: dict[str, Any] | None = None) -> forms.Form:
        kwargs: dict[str, Any] = {"prefix": self.key, "initial": initial}
        if self.form_class is ui_forms.ConditionalReleaseForm:
            kwargs["missing"] = missing_tests(lot)
        if self.form_class is ui_forms.RecallDecisionForm:
            kwargs["lot"] = lot
        return self.form_class(data, **kwargs)

    def run(self, *, lot: Lot, user: User, form: forms.Form, request: HttpRequest) -> Any:
        kwargs = form.service_kwargs()  # type: ignore[attr-defined]
        return self.service(lot_number=lot.lot_number, by=user, request=request, **kwargs)

    def allowed(self, user: Any, lot: Lot) -> bool:
        return bool(getattr(user, "has_role", None)) and user.has_role(*self.roles(lot))

    @property
    def meaning_label(self) -> str:
        return str(Meaning(self.meaning).label) if self.meaning else ""


def missing_tests(lot: Lot) -> list[tuple[str, str]]:
    """Required tests of the current evaluation still without a result (code, name)."""
    evaluation = lot.evaluations.order_by("-pk").first()
    if evaluation is None:
        return []
    return [
        (str(line["test_code"]), f"{line.get('display_name') or ''} ({line['test_code']})")
        for line in evaluation.lines
        if line.get("verdict") == "missing" and line.get("test_code")
    ]


def _fixed(*roles: str) -> Callable[[Lot], tuple[str, ...]]:
    return lambda lot: roles


LOT_ACTIONS: dict[str, LotAction] = {
    action.key: action
    for action in [
        LotAction(
            key="result-review",
            title="Review the laboratory results",
            button="Sign the result review",
            form_class=ui_forms.ReviewForm,
            service=lot_record_result_review,
            roles=_fixed(Role.QC_REVIEWER),
            applies=lambda lot: lot.status != S.REJECTED and bool(unreviewed_result_ids(lot)),
            meaning=Meaning.REVIEWED,
            statement=lambda f: (
                f"By signing, I confirm that I reviewed all {f.results} result(s) of "
                f"{f.lot_words} for accuracy, completeness and compliance with the method and "
                "the specification, and that I performed none of them "
                "(21 CFR 211.194(a)(8))."
            ),
            done="The results of lot {lot} are reviewed.",
        ),
        LotAction(
            key="audit-trail-review",
            title="Review the lot's audit trail",
            button="Sign the audit-trail review",
            form_class=ui_forms.AuditTrailReviewForm,
            service=lot_record_audit_trail_review,
            roles=_fixed(*QA),
            applies=lambda lot: lot.status not in {S.RELEASED, S.REJECTED},
            meaning=Meaning.REVIEWED,
            statement=lambda f: (
                f"By signing, I confirm that I reviewed the audit trail of {f.lot_words}"
                + (f" up to event #{f.up_to_sequence}" if f.up_to_sequence else "")
                + ", and found no unexplained change, deletion or late entry "
                "(21 CFR 211.192)."
            ),
            done="The audit-trail review of lot {lot} is recorded.",
        ),
        LotAction(
            key="approve",
            title="Approve for QP certification",
            button="Sign: approve",
            form_class=ui_forms.SignatureForm,
            service=lot_approve,
            roles=lambda lot: signer_roles(lot, Action.APPROVE),
            applies=lambda lot: _qp_product(lot) and lot.status == S.READY_FOR_REVIEW,
            meaning=Meaning.APPROVED,
            guard=Action.APPROVE,
            statement=lambda f: (
                f"By signing, I approve {f.lot_words} for release: its records are reviewed "
                "and it conforms to its specification. A Qualified Person certifies it next "
                "(EU GMP Annex 16)."
            ),
            done="Lot {lot} is approved by QA; the Qualified Persons are told it awaits "
            "certification.",
        ),
        LotAction(
            key="release",
            title="Certify and release",
            button="Sign: certify and release",
            form_class=ui_forms.SignatureForm,
            service=lot_release,
            roles=lambda lot: signer_roles(lot, Action.RELEASE),
            applies=lambda lot: (
                lot.status == (S.APPROVED if _qp_product(lot) else S.READY_FOR_REVIEW)
            ),
            meaning=Meaning.RELEASED,
            guard=Action.RELEASE,
            statement=lambda f: (
                (
                    f"By signing, I certify as Qualified Person that {f.lot_words} was "
                    "manufactured and tested in accordance with its specification and GMP, "
                    "that every deviation and out-of-specification result was assessed, and "
                    "I release it for use (EU GMP Annex 16)."
                )
                if _qp_product(f.lot)
                else f"By signing, I release {f.lot_words} for use: it conforms to its "
                "specification and its records are reviewed."
            ),
            done="Lot {lot} is released; its Certificate of Analysis is being generated.",
        ),
        LotAction(
            key="conditional-release",
            title="Conditional release (tests pending)",
            button="Sign: release conditionally",
            form_class=ui_forms.ConditionalReleaseForm,
            service=lot_conditionally_release,
            roles=_fixed(*QP),
            applies=lambda lot: (
                bool(lot.product.conditional_release_allowed) and lot.status == S.IN_TESTING
            ),
            meaning=Meaning.CONDITIONALLY_RELEASED,
            guard=Action.CONDITIONAL_RELEASE,
            statement=lambda f: (
                f"By signing, I release {f.lot_words} for use before the tests listed below "
                "have their results; every other required test conforms. The release stays "
                "conditional until a Qualified Person finalises it, and a failing result "
                "stops the lot at once."
            ),
            done="Lot {lot} is conditionally released; the pending tests are awaited.",
        ),
        LotAction(
            key="finalise",
            title="Finalise the conditional release",
            button="Sign: finalise the release",
            form_class=ui_forms.SignatureForm,
            service=lot_finalise_conditional_release,
            roles=_fixed(*QP),
            applies=lambda lot: lot.status == S.CONDITIONALLY_RELEASED,
            meaning=Meaning.RELEASED,
            guard=Action.FINALISE,
            statement=lambda f: (
                f"By signing, I confirm that the tests pending at the conditional release of "
                f"{f.lot_words} now conform, and I finalise its release (21 CFR 610.1)."
            ),
            done="The release of lot {lot} is final; a new Certificate of Analysis is being "
            "generated.",
        ),
        LotAction(
            key="hold",
            title="Put on hold",
            button="Put the lot on hold",
            form_class=ui_forms.HoldForm,
            service=lot_hold,
            roles=_fixed(*QA_OR_QP),
            applies=lambda lot: lot.status in HOLDABLE_STATES,
            statement=lambda f: (
                f"A hold stops lot {f.lot.lot_number} where it stands ("
                f"{status_text(f.lot.status)}); releasing the hold returns it there."
            ),
            done="Lot {lot} is on hold.",
        ),
        LotAction(
            key="release-hold",
            title="Release the hold",
            button="Release the hold",
            form_class=ui_forms.HoldForm,
            service=lot_release_hold,
            roles=_fixed(*QA_OR_QP),
            applies=lambda lot: lot.status == S.ON_HOLD,
            statement=lambda f: (
                f"Lot {f.lot.lot_number} returns to the state it left: "
                f"{status_text(f.lot.status_before_hold) if f.lot.status_before_hold else '—'}."
            ),
            done="The hold on lot {lot} is released.",
        ),
        LotAction(
            key="reject",
            title="Reject the lot",
            button="Sign: reject",
            form_class=ui_forms.RejectForm,
            service=lot_reject,
            roles=_fixed(*QA),
            applies=lambda lot: lot.status in REJECTABLE_STATES and not _distributed(lot),
            meaning=Meaning.REJECTED,
            danger=True,
            statement=lambda f: (
                f"By signing, I reject {f.lot_words}: it must never be released or used "
                "(21 CFR 211.165(f)). A rejection cannot be undone."
            ),
            done="Lot {lot} is rejected.",
        ),
        LotAction(
            key="recall-decision",
            title="Record the recall decision",
            button="Sign the recall decision",
            form_class=ui_forms.RecallDecisionForm,
            service=lot_record_recall_decision,
            roles=_fixed(*QA),
            applies=_distributed,
            meaning=Meaning.APPROVED,
            danger=True,
            statement=lambda f: (
                f"By signing, I decide whether distributed product of {f.lot_words} is "
                "recalled. A recall also rejects the lot (21 CFR 211.165(f)); without one, the "
                "lot stays on hold until the hold is released."
            ),
            done="The recall decision on lot {lot} is recorded.",
        ),
    ]
}

# The order the forms appear in: reviews, then the decision, then holds and refusals.
DECISION_KEYS = ("approve", "release", "conditional-release", "finalise")


def checklist_action(lot: Lot, user: Any) -> tuple[Action | None, bool]:
    """The decision whose checklist the viewer sees, and whether the viewer signs it.

    QA sees its approval; a Qualified Person the certification (or the finalisation
    of a conditional release, or a conditional release while tests are pending);
    everyone else the lot's next step, read-only.  Decided lots have none.
    """
    if lot.status in {S.RELEASED, S.REJECTED}:
        return None, False
    role = getattr(user, "role", "")
    if lot.status == S.CONDITIONALLY_RELEASED:
        nxt = Action.FINALISE
    elif lot.status == S.APPROVED:
        nxt = Action.RELEASE
    elif (
        role == Role.QUALIFIED_PERSON
        and lot.status == S.IN_TESTING
        and lot.product.conditional_release_allowed
        and missing_tests(lot)
    ):
        nxt = Action.CONDITIONAL_RELEASE
    elif _qp_product(lot) and role != Role.QUALIFIED_PERSON:
        nxt = Action.APPROVE
    else:
        nxt = Action.RELEASE
    signs = bool(getattr(user, "has_role", None)) and user.has_role(*signer_roles(lot, nxt))
    return nxt, signs


# --- investigations -------------------------------------------------------------------


@dataclass(frozen=True)
class InvestigationAction:
    key: str
    title: str
    button: str
    form_class: type[forms.Form]
    service: Callable[..., Any]
    roles: tuple[str, ...]
    applies: Callable[[Investigation, dict[str, Any]], bool]
    statement: Callable[[Facts], str]
    done: str  # {number} is the investigation's number
    meaning: str = ""
    danger: bool = False

    def form(self, investigation: Investigation, data: Any = None) -> forms.Form:
        kwargs: dict[str, Any] = {"prefix": self.key}
        if self.form_class in (ui_forms.PhaseTwoForm, ui_forms.ConcludeForm):
            kwargs["investigation"] = investigation
        return self.form_class(data, **kwargs)

    def run(
        self, *, investigation: Investigation, user: User, form: forms.Form, request: HttpRequest
    ) -> Any:
        kwargs = form.service_kwargs()  # type: ignore[attr-defined]
        if isinstance(form, ui_forms.SignatureForm):
            kwargs["request"] = request
        return self.service(number=investigation.number, by=user, **kwargs)

    def allowed(self, user: Any) -> bool:
        return bool(getattr(user, "has_role", None)) and user.has_role(*self.roles)

    @property
    def meaning_label(self) -> str:
        return str(Meaning(self.meaning).label) if self.meaning else ""


def _phased(investigation: Investigation) -> bool:
    return investigation.kind in PHASED_KINDS


def _conclude_statement(f: Facts) -> str:
    investigation = f.investigation
    assert investigation is not None
    if _phased(investigation):
        lot = f.lot
        after = (
            "the lot was released, so QA then records the recall decision"
            if _distributed(lot)
            else f"lot {lot.lot_number} is rejected with my signature (21 CFR 211.165(f))"
        )
        return (
            f"By signing, I conclude investigation {investigation.number}: the "
            "out-of-specification result is confirmed after the laboratory and production "
            f"investigations; {after}."
        )
    return (
        f"By signing, I conclude investigation {investigation.number}: assessed, with no "
        f"impact on lot {f.lot.lot_number}."
    )


INVESTIGATION_ACTIONS: dict[str, InvestigationAction] = {
    action.key: action
    for action in [
        InvestigationAction(
            key="entry",
            title="Record a check or a note",
            button="Add to the log",
            form_class=ui_forms.EntryForm,
            service=investigation_add_entry,
            roles=CONTRIBUTORS,
            applies=lambda inv, state: inv.is_open,
            statement=lambda f: "Entries are appended to the log; nothing is ever edited.",
            done="Added to the log of {number}.",
        ),
        InvestigationAction(
            key="phase-one",
            title="Conclude Phase I (laboratory investigation)",
            button="Record the Phase I conclusion",
            form_class=ui_forms.PhaseOneForm,
            service=investigation_conclude_phase_one,
            roles=LAB_SUPERVISORS,
            applies=lambda inv, state: (
                _phased(inv)
                and inv.phase == InvestigationPhase.PHASE_1
                and state.get("proposal") is None
            ),
            statement=lambda f: (
                "An assignable laboratory error (a calculation, instrument, standard or "
                "sample-preparation mistake shown by the checks) proposes invalidating the "
                "result; a second person signs the invalidation. Without one, the "
                "investigation goes on to Phase II and the result stands (FDA OOS guidance)."
            ),
            done="Phase I of {number} is concluded.",
        ),
        InvestigationAction(
            key="invalidate",
            title="Invalidate the result (second person)",
            button="Sign: invalidate the result",
            form_class=ui_forms.InvalidationForm,
            service=investigation_invalidate_result,
            roles=LAB_SUPERVISORS,
            applies=lambda inv, state: inv.is_open and state.get("proposal") is not None,
            meaning=Meaning.INVALIDATED,
            danger=True,
            statement=lambda f: (
                f"By signing, I, the second person, invalidate result #"
                f"{f.investigation.result_id if f.investigation else ''} of lot "
                f"{f.lot.lot_number} for the assignable laboratory cause proposed by "
                f"{f.proposed_by}: “{f.proposal_cause}”. The result stays on record, struck "
                "through; the lot is re-evaluated and a retest by another analyst is allowed "
                "(21 CFR 610.1)."
            ),
            done="The result is invalidated by {number}; the lot is being re-evaluated.",
        ),
        InvestigationAction(
            key="allow-retest",
            title="Allow a retest",
            button="Allow the retest",
            form_class=ui_forms.AllowRetestForm,
            service=investigation_allow_retest,
            roles=LAB_SUPERVISORS,
            applies=lambda inv, state: (
                _phased(inv)
                and inv.is_open
                and inv.phase == InvestigationPhase.PHASE_2
                and inv.retest_allowed_at is None
            ),
            statement=lambda f: (
                "A retest is done by another analyst, within the method's retest budget fixed "
                "before the investigation opened; every result is kept, and an OOS result is "
                "never averaged with passing retests (FDA OOS guidance)."
            ),
            done="A retest is allowed by {number}.",
        ),
        InvestigationAction(
            key="phase-two",
            title="Record Phase II (production investigation)",
            button="Record Phase II",
            form_class=ui_forms.PhaseTwoForm,
            service=investigation_record_phase_two,
            roles=QA,
            applies=lambda inv, state: _phased(inv) and inv.phase == InvestigationPhase.PHASE_2,
            statement=lambda f: (
                "Record which other lots the production investigation checked, and what it "
                "found (21 CFR 211.192)."
            ),
            done="Phase II findings are recorded in {number}.",
        ),
        InvestigationAction(
            key="conclude",
            title="Conclude the investigation",
            button="Sign: conclude",
            form_class=ui_forms.ConcludeForm,
            service=investigation_conclude,
            roles=QA,
            applies=lambda inv, state: (
                inv.is_open and (not _phased(inv) or inv.phase == InvestigationPhase.PHASE_2)
            ),
            meaning=Meaning.CONCLUDED,
            danger=True,
            statement=_conclude_statement,
            done="Investigation {number} is concluded.",
        ),
    ]
}
