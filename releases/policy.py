"""The release policy: every action a person takes on a lot, an investigation, a
specification or a certificate, declared once (21 CFR 11.10(d),(f),(g); 11.50).

Each :class:`PolicyAction` says who may take it (roles), when it applies (the
lifecycle states of the lot, or the phases of the investigation), what the
signature means and the statement the signer confirms (filled from the record),
and which release checklist its guards run.  Everything else reads this table:

* the release guards (``releases.services.guards``) check the role and the state;
* the signed-command helper (``releases.services.commands``) authenticates the
  signer, locks the record and stores the statement with the signature;
* DRF permissions (``releases.api.permissions.PolicyPermission``) admit the roles;
* the web UI shows a form only where an action applies and to whom it may take it;
* the API's checklist endpoint returns each statement before anyone signs.

Changing who may approve is one line here; nothing else names the roles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qc import hooks as qc_hooks
from qc.models import Lot, LotStatus, Specification, SpecificationStatus
from releases.lifecycle import (
    HOLDABLE_STATES,
    REJECTABLE_STATES,
    lot_distributed,
    status_text,
)
from releases.models import PHASED_KINDS, Conclusion, Investigation, InvestigationPhase
from services.accounts.models import ApiClient, Role, User
from services.errors import NotAllowed
from services.esign.models import Meaning

S = LotStatus
P = InvestigationPhase


class ActionKey(StrEnum):
    """Every person-facing action (the keys are also the UI's and the API's slugs)."""

    RESULT_REVIEW = "result-review"
    AUDIT_TRAIL_REVIEW = "audit-trail-review"
    APPROVE = "approve"
    RELEASE = "release"
    CONDITIONAL_RELEASE = "conditional-release"
    FINALISE = "finalise"
    REJECT = "reject"
    HOLD = "hold"
    RELEASE_HOLD = "release-hold"
    RECALL_DECISION = "recall-decision"
    OPEN_DEVIATION = "open-deviation"
    INVESTIGATION_ENTRY = "entry"
    PHASE_ONE = "phase-one"
    INVALIDATE_RESULT = "invalidate"
    ALLOW_RETEST = "allow-retest"
    PHASE_TWO = "phase-two"
    CONCLUDE = "conclude"
    ATTACH = "attach"
    SPECIFICATION_AUTHOR = qc_hooks.SPECIFICATION_AUTHOR
    SPECIFICATION_APPROVE = qc_hooks.SPECIFICATION_APPROVE
    SPECIFICATION_REBIND = qc_hooks.SPECIFICATION_REBIND
    CERTIFICATE_CORRECTION = "certificate-correction"
    CONTROL_BASELINE = qc_hooks.CONTROL_BASELINE


class Checklist(StrEnum):
    """The release checklists the guards run (one per deciding action)."""

    APPROVE = "approve"
    RELEASE = "release"
    CONDITIONAL_RELEASE = "conditional_release"
    FINALISE = "finalise"


class Subject(StrEnum):
    LOT = "lot"
    INVESTIGATION = "investigation"
    SPECIFICATION = "specification"
    TREND = "trend"  # a product's control chart for one test


@dataclass(frozen=True)
class Facts:
    """What a statement quotes: the record signed and a few numbers about it."""

    lot: Lot | None = None
    investigation: Investigation | None = None
    results: int = 0
    up_to_sequence: int | None = None
    events: int = 0
    proposal_cause: str = ""
    proposed_by: str = ""
    pending_tests: tuple[str, ...] = ()
    specification_words: str = ""
    baseline_words: str = ""
    # The outcome a conclusion signs (empty: the statement names every outcome).
    conclusion: str = ""
    reject_lot: bool = False

    @property
    def lot_words(self) -> str:
        lot = self.lot
        if lot is None:
            return "the lot"
        spec = lot.specification
        return f"lot {lot.lot_number} of {lot.product.code} (specification v{spec.version})"


@dataclass(frozen=True)
class PolicyAction:
    key: ActionKey
    title: str
    subject: Subject
    roles: tuple[str, ...]
    statement: Callable[[Facts], str]
    meaning: str = ""  # the signature's meaning; "" when nothing is signed
    # Lot actions: the lifecycle states the action applies in (None: any state).
    states: frozenset[str] | None = None
    # Where the product needs no QP certification: other roles and states (EU GMP Annex 16).
    roles_without_qp: tuple[str, ...] | None = None
    states_without_qp: frozenset[str] | None = None
    # Further conditions on the lot, each a (test, why) pair checked with the states.
    lot_conditions: tuple[tuple[Callable[[Lot], bool], str], ...] = ()
    # Investigation actions: the phases, and whether only OOS/post-release kinds.
    phases: frozenset[str] | None = None
    phased_only: bool = False
    checklist: Checklist | None = None  # the release guards this decision runs
    done_words: str = ""  # "approved", "released": the lot "cannot be …"
    clauses: tuple[str, ...] = field(default=())

    @property
    def signs(self) -> bool:
        return bool(self.meaning)

    @property
    def all_roles(self) -> tuple[str, ...]:
        """Every role that may take it for some product (what an API permission admits)."""
        extra = self.roles_without_qp or ()
        return tuple(dict.fromkeys((*self.roles, *extra)))

    def roles_for(self, lot: Lot | None) -> tuple[str, ...]:
        if lot is not None and self.roles_without_qp is not None and not _qp_product(lot):
            return self.roles_without_qp
        return self.roles

    def states_for(self, lot: Lot) -> frozenset[str] | None:
        if self.states_without_qp is not None and not _qp_product(lot):
            return self.states_without_qp
        return self.states

    @property
    def meaning_label(self) -> str:
        return str(Meaning(self.meaning).label) if self.meaning else ""


def _qp_product(lot: Lot) -> bool:
    return bool(lot.product.requires_qp_certification)


def _effective_of(lot: Lot) -> Specification | None:
    return Specification.objects.filter(
        product_id=lot.product_id, status=SpecificationStatus.EFFECTIVE
    ).first()


def _bound_to_an_older_version(lot: Lot) -> bool:
    """A lot keeps the version it was created under; QA may move it to the effective one."""
    effective = _effective_of(lot)
    return effective is not None and effective.pk != lot.specification_id


def _effective_words(lot: Lot | None) -> str:
    effective = _effective_of(lot) if lot is not None else None
    if effective is None:
        return "its product's effective specification"
    return f"{lot.product.code if lot else ''} specification v{effective.version} (effective)"


def _not_distributed(lot: Lot) -> bool:
    return not lot_distributed(lot)


# Who acts (21 CFR 11.10(g)); machine clients never sign (11.100).
QA = (Role.QA_OFFICER,)
QP = (Role.QUALIFIED_PERSON,)
QA_OR_QP = (Role.QA_OFFICER, Role.QUALIFIED_PERSON)
REVIEWER = (Role.QC_REVIEWER,)
LAB_SUPERVISORS = (Role.QC_REVIEWER, Role.QA_OFFICER)
CONTRIBUTORS = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA_OFFICER, Role.QUALIFIED_PERSON)
OPEN_STATES = frozenset(set(S.values) - {S.RELEASED, S.REJECTED})


def _release_statement(f: Facts) -> str:
    if f.lot is not None and _qp_product(f.lot):
        return (
            f"By signing, I certify as Qualified Person that {f.lot_words} was manufactured and "
            "tested in accordance with its specification and GMP, that every deviation and "
            "out-of-specification result was assessed, and I release it for use "
            "(EU GMP Annex 16)."
        )
    return (
        f"By signing, I release {f.lot_words} for use: it conforms to its specification and "
        "its records are reviewed."
    )


def _phase_one_statement(f: Facts) -> str:
    number = f.investigation.number if f.investigation else ""
    return (
        f"By signing, I conclude Phase I of investigation {number}, the laboratory "
        "investigation, on the checks recorded in its log. An assignable laboratory error (a "
        "calculation, instrument, standard or sample-preparation mistake shown by the checks) "
        "proposes invalidating the result; a second person signs the invalidation. Without "
        "one, the investigation goes on to Phase II and the result stands (FDA OOS guidance)."
    )


def _rejection_words(f: Facts) -> str:
    lot_number = f.lot.lot_number if f.lot else ""
    if f.lot is not None and lot_distributed(f.lot):
        return "the lot was released, so QA then records the recall decision"
    return f"lot {lot_number} is rejected by this signature (21 CFR 211.165(f))"


def _conclude_statement(f: Facts) -> str:
    investigation = f.investigation
    number = investigation.number if investigation else ""
    lot_number = f.lot.lot_number if f.lot else ""
    if investigation is None or investigation.kind not in PHASED_KINDS:
        return (
            f"By signing, I conclude investigation {number}: assessed, with no impact on lot "
            f"{lot_number}."
        )
    head = f"By signing, I conclude investigation {number} after Phase II: "
    outcomes = {
        Conclusion.CONFIRMED_OOS: (
            "the out-of-specification result is confirmed after the laboratory and production "
            f"investigations; {_rejection_words(f)}."
        ),
        Conclusion.NOT_CONFIRMED: (
            "the result is not confirmed: the assignable laboratory cause I give proposes its "
            "invalidation, which a second person signs (21 CFR 610.1)."
        ),
        Conclusion.INCONCLUSIVE: (
            "the investigation is inconclusive; the result stands and is given full "
            "consideration in the lot's disposition, and on the justification I give "
            + (_rejection_words(f) if f.reject_lot else f"lot {lot_number} is not rejected")
            + " (FDA OOS guidance, 2022)."
        ),
    }
    if f.conclusion in outcomes:
        return head + outcomes[Conclusion(f.conclusion)]
    return head + (
        "either the OOS result is confirmed (the lot is rejected by this signature), or it is "
        "not confirmed for an assignable laboratory cause (a second person invalidates it), or "
        "the investigation is inconclusive and QA decides on the lot with a justification."
    )


ACTIONS: dict[ActionKey, PolicyAction] = {
    action.key: action
    for action in [
        PolicyAction(
            key=ActionKey.RESULT_REVIEW,
            title="Review the laboratory results",
            subject=Subject.LOT,
            roles=REVIEWER,
            states=frozenset(set(S.values) - {S.REJECTED}),
            meaning=Meaning.REVIEWED,
            clauses=("21CFR211.194a",),
            statement=lambda f: (
                f"By signing, I confirm that I reviewed all {f.results} result(s) of "
                f"{f.lot_words} for accuracy, completeness and compliance with the method and "
                "the specification, and that I performed none of them (21 CFR 211.194(a)(8))."
            ),
        ),
        PolicyAction(
            key=ActionKey.AUDIT_TRAIL_REVIEW,
            title="Review the lot's audit trail",
            subject=Subject.LOT,
            roles=QA,
            states=OPEN_STATES,
            meaning=Meaning.REVIEWED,
            clauses=("21CFR211.192",),
            statement=lambda f: (
                f"By signing, I confirm that I reviewed the audit trail of {f.lot_words}"
                + (f" up to event #{f.up_to_sequence}" if f.up_to_sequence else "")
                + (
                    f" ({f.events} events, its assay runs and controls included)"
                    if f.events
                    else ""
                )
                + ", and found no unexplained change, deletion or late entry (21 CFR 211.192)."
            ),
        ),
        PolicyAction(
            key=ActionKey.APPROVE,
            title="Approve for QP certification",
            subject=Subject.LOT,
            roles=QA,
            states=frozenset({S.READY_FOR_REVIEW}),
            lot_conditions=(
                (
                    _qp_product,
                    "its product needs no QP certification: a QA officer releases its lots "
                    "directly, without a separate approval",
                ),
            ),
            meaning=Meaning.APPROVED,
            checklist=Checklist.APPROVE,
            done_words="approved",
            clauses=("EU-GMP-Annex16",),
            statement=lambda f: (
                f"By signing, I approve {f.lot_words} for release: its records are reviewed and "
                "it conforms to its specification. A Qualified Person certifies it next "
                "(EU GMP Annex 16)."
            ),
        ),
        PolicyAction(
            key=ActionKey.RELEASE,
            title="Certify and release",
            subject=Subject.LOT,
            roles=QP,
            states=frozenset({S.APPROVED}),
            roles_without_qp=QA,
            states_without_qp=frozenset({S.READY_FOR_REVIEW}),
            meaning=Meaning.RELEASED,
            checklist=Checklist.RELEASE,
            done_words="released",
            clauses=("21CFR211.165a", "EU-GMP-Annex16"),
            statement=_release_statement,
        ),
        PolicyAction(
            key=ActionKey.CONDITIONAL_RELEASE,
            title="Conditional release (tests pending)",
            subject=Subject.LOT,
            roles=QP,
            states=frozenset({S.IN_TESTING}),
            lot_conditions=(
                (
                    lambda lot: bool(lot.product.conditional_release_allowed),
                    "its product does not allow conditional release",
                ),
            ),
            meaning=Meaning.CONDITIONALLY_RELEASED,
            checklist=Checklist.CONDITIONAL_RELEASE,
            done_words="conditionally released",
            statement=lambda f: (
                f"By signing, I release {f.lot_words} for use before the tests listed below have "
                "their results; every other required test conforms. The release stays "
                "conditional until a Qualified Person finalises it, and a failing result stops "
                "the lot at once."
            ),
        ),
        PolicyAction(
            key=ActionKey.FINALISE,
            title="Finalise the conditional release",
            subject=Subject.LOT,
            roles=QP,
            states=frozenset({S.CONDITIONALLY_RELEASED}),
            meaning=Meaning.RELEASED,
            checklist=Checklist.FINALISE,
            done_words="finalised",
            clauses=("21CFR610.1",),
            statement=lambda f: (
                f"By signing, I confirm that the tests pending at the conditional release of "
                f"{f.lot_words} now conform, and I finalise its release (21 CFR 610.1)."
            ),
        ),
        PolicyAction(
            key=ActionKey.HOLD,
            title="Put on hold",
            subject=Subject.LOT,
            roles=QA_OR_QP,
            states=HOLDABLE_STATES,
            statement=lambda f: (
                f"A hold stops lot {f.lot.lot_number if f.lot else ''} where it stands "
                f"({status_text(f.lot.status) if f.lot else ''}); releasing the hold returns "
                "it there."
            ),
        ),
        PolicyAction(
            key=ActionKey.RELEASE_HOLD,
            title="Release the hold",
            subject=Subject.LOT,
            roles=QA_OR_QP,
            states=frozenset({S.ON_HOLD}),
            statement=lambda f: (
                f"Lot {f.lot.lot_number if f.lot else ''} returns to the state it left: "
                + (
                    status_text(f.lot.status_before_hold)
                    if f.lot is not None and f.lot.status_before_hold
                    else "—"
                )
                + "."
            ),
        ),
        PolicyAction(
            key=ActionKey.REJECT,
            title="Reject the lot",
            subject=Subject.LOT,
            roles=QA,
            states=REJECTABLE_STATES,
            lot_conditions=(
                (
                    _not_distributed,
                    "product may be on the market, so QA records a recall decision instead",
                ),
            ),
            meaning=Meaning.REJECTED,
            done_words="rejected",
            clauses=("21CFR211.165f",),
            statement=lambda f: (
                f"By signing, I reject {f.lot_words}: it must never be released or used "
                "(21 CFR 211.165(f)). A rejection cannot be undone."
            ),
        ),
        PolicyAction(
            key=ActionKey.RECALL_DECISION,
            title="Record the recall decision",
            subject=Subject.LOT,
            roles=QA,
            lot_conditions=(
                (lot_distributed, "it was never released, so nothing is on the market"),
            ),
            meaning=Meaning.APPROVED,
            clauses=("21CFR211.192",),
            statement=lambda f: (
                f"By signing, I decide whether distributed product of {f.lot_words} is "
                "recalled. A recall also rejects the lot (21 CFR 211.165(f)); without one, the "
                "lot stays on hold until the hold is released."
            ),
        ),
        PolicyAction(
            key=ActionKey.OPEN_DEVIATION,
            title="Open a deviation",
            subject=Subject.LOT,
            roles=QA,
            statement=lambda f: (
                f"A deviation on lot {f.lot.lot_number if f.lot else ''} blocks its release "
                "until QA concludes it (EU GMP Annex 16)."
            ),
        ),
        PolicyAction(
            key=ActionKey.INVESTIGATION_ENTRY,
            title="Record a check or a note",
            subject=Subject.INVESTIGATION,
            roles=CONTRIBUTORS,
            phases=frozenset({P.PHASE_1, P.PHASE_2}),
            statement=lambda f: "Entries are appended to the log; nothing is ever edited.",
        ),
        PolicyAction(
            key=ActionKey.PHASE_ONE,
            title="Conclude Phase I (laboratory investigation)",
            subject=Subject.INVESTIGATION,
            roles=LAB_SUPERVISORS,
            phases=frozenset({P.PHASE_1}),
            phased_only=True,
            meaning=Meaning.CONCLUDED,
            clauses=("FDA-OOS",),
            statement=_phase_one_statement,
        ),
        PolicyAction(
            key=ActionKey.INVALIDATE_RESULT,
            title="Invalidate the result (second person)",
            subject=Subject.INVESTIGATION,
            roles=LAB_SUPERVISORS,
            phases=frozenset({P.PHASE_1, P.PHASE_2}),
            meaning=Meaning.INVALIDATED,
            clauses=("21CFR610.1", "FDA-OOS"),
            statement=lambda f: (
                f"By signing, I, the second person, invalidate result #"
                f"{f.investigation.result_id if f.investigation else ''} of lot "
                f"{f.lot.lot_number if f.lot else ''} for the assignable laboratory cause "
                f"proposed by {f.proposed_by}: “{f.proposal_cause}”. The result stays on "
                "record, struck through; the lot is re-evaluated and a retest by another "
                "analyst is allowed (21 CFR 610.1)."
            ),
        ),
        PolicyAction(
            key=ActionKey.ALLOW_RETEST,
            title="Allow a retest",
            subject=Subject.INVESTIGATION,
            roles=LAB_SUPERVISORS,
            phases=frozenset({P.PHASE_2}),
            phased_only=True,
            clauses=("FDA-OOS",),
            statement=lambda f: (
                "A retest is done by another analyst, within the method's retest budget fixed "
                "before the investigation opened; every result is kept, and an OOS result is "
                "never averaged with passing retests (FDA OOS guidance)."
            ),
        ),
        PolicyAction(
            key=ActionKey.PHASE_TWO,
            title="Record Phase II (production investigation)",
            subject=Subject.INVESTIGATION,
            roles=QA,
            phases=frozenset({P.PHASE_2}),
            phased_only=True,
            clauses=("21CFR211.192",),
            statement=lambda f: (
                "Record which other lots the production investigation checked, and what it "
                "found (21 CFR 211.192)."
            ),
        ),
        PolicyAction(
            key=ActionKey.CONCLUDE,
            title="Conclude the investigation",
            subject=Subject.INVESTIGATION,
            roles=QA,
            # OOS and post-release investigations conclude after Phase II; the others at once.
            phases=frozenset({P.PHASE_1, P.PHASE_2}),
            meaning=Meaning.CONCLUDED,
            clauses=("21CFR211.192", "21CFR211.165f"),
            statement=_conclude_statement,
        ),
        PolicyAction(
            key=ActionKey.ATTACH,
            title="Attach raw data",
            subject=Subject.INVESTIGATION,
            roles=CONTRIBUTORS,
            phases=frozenset({P.PHASE_1, P.PHASE_2}),
            clauses=("21CFR211.194a",),
            statement=lambda f: (
                "The file is kept with the investigation as raw data (21 CFR 211.194(a)): it "
                "can never be replaced or removed, and its SHA-256 is in the audit trail."
            ),
        ),
        PolicyAction(
            key=ActionKey.SPECIFICATION_AUTHOR,
            title="Write a specification draft",
            subject=Subject.SPECIFICATION,
            roles=QA,
            statement=lambda f: (
                "A draft (new lines, a new version, a withdrawal) changes nothing a lot is "
                "judged against until QA approves it with a signature."
            ),
        ),
        PolicyAction(
            key=ActionKey.SPECIFICATION_APPROVE,
            title="Approve the specification version",
            subject=Subject.SPECIFICATION,
            roles=QA,
            meaning=Meaning.APPROVED,
            statement=lambda f: (
                f"By signing, I approve {f.specification_words} as the effective release "
                "specification: lots bound to it are judged against exactly these lines, which "
                "can no longer change."
            ),
        ),
        PolicyAction(
            key=ActionKey.SPECIFICATION_REBIND,
            title="Bind the lot to another specification version",
            subject=Subject.LOT,
            roles=QA,
            states=OPEN_STATES,
            lot_conditions=(
                (
                    _bound_to_an_older_version,
                    "it is judged against its product's effective specification already",
                ),
            ),
            statement=lambda f: (
                f"Lot {f.lot.lot_number if f.lot else ''} is judged against "
                f"{f.specification_words or _effective_words(f.lot)} from now on; "
                "it is re-evaluated."
            ),
        ),
        PolicyAction(
            key=ActionKey.CERTIFICATE_CORRECTION,
            title="Request a corrected certificate",
            subject=Subject.LOT,
            roles=QA,
            # Certificates are issued for releasing decisions; a recall leaves them on record.
            states=frozenset({S.RELEASED, S.CONDITIONALLY_RELEASED, S.ON_HOLD, S.REJECTED}),
            meaning=Meaning.CORRECTION_APPROVED,
            statement=lambda f: (
                f"By signing, I approve a corrected Certificate of Analysis of {f.lot_words}, "
                "for the reason I give: the new version supersedes the current one, both stay "
                "on record, and the new one carries this signature (21 CFR 11.50)."
            ),
        ),
        PolicyAction(
            key=ActionKey.CONTROL_BASELINE,
            title="Sign the control limits",
            subject=Subject.TREND,
            roles=QA,
            meaning=Meaning.APPROVED,
            statement=lambda f: (
                f"By signing, I approve the control limits of {f.baseline_words}: every later "
                "lot is judged against exactly these limits (Nelson rules 1-8) until QA signs a "
                "new baseline; they are never recomputed (FDA Process Validation guidance, "
                "2011, stage 3)."
            ),
        ),
    ]
}

# The decisions a checklist is shown for, in the order the UI offers them.
DECISIONS: tuple[ActionKey, ...] = (
    ActionKey.APPROVE,
    ActionKey.RELEASE,
    ActionKey.CONDITIONAL_RELEASE,
    ActionKey.FINALISE,
)
CHECKLIST_ACTION: dict[Checklist, ActionKey] = {
    ACTIONS[key].checklist: key  # type: ignore[misc]
    for key in DECISIONS
}


def action_of(key: str) -> PolicyAction:
    return ACTIONS[ActionKey(key)]


# --- who --------------------------------------------------------------------------


def may_take(key: ActionKey, principal: Any, lot: Lot | None = None) -> bool:
    """Whether ``principal`` holds a role that may take the action (on this lot's product)."""
    if not isinstance(principal, User):
        return False
    return principal.has_role(*ACTIONS[key].roles_for(lot))


def role_names(roles: tuple[str, ...]) -> str:
    return " or ".join(str(Role(role).label) for role in roles)


def require_person(key: ActionKey, principal: Any, lot: Lot | None = None) -> User:
    """The acting person, if they may take the action; else NotAllowed with its code."""
    action = ACTIONS[key]
    if isinstance(principal, ApiClient) or not isinstance(principal, User):
        # 21 CFR 11.100: signatures and decisions belong to identified people.
        raise NotAllowed(
            f"only a person may {action.title.lower()}; machine clients never can",
            code="machine_client",
        )
    roles = action.roles_for(lot)
    if not principal.has_role(*roles):
        raise NotAllowed(
            f"only a {role_names(roles)} may {action.title[:1].lower()}{action.title[1:]}; "
            f"{principal.username} is {principal.get_role_display()}",
            code="role_required",
        )
    return principal


# --- when -------------------------------------------------------------------------


def lot_state_problems(key: ActionKey, lot: Lot) -> list[tuple[str, str]]:
    """Why the action does not apply to the lot now, as (code, words); empty: it applies."""
    action = ACTIONS[key]
    problems: list[tuple[str, str]] = []
    for test, why in action.lot_conditions:
        if not test(lot):
            problems.append(("not_applicable", f"Lot {lot.lot_number}: {why}."))
    states = action.states_for(lot)
    if states is not None and lot.status not in states:
        wanted = " or ".join(sorted(status_text(state) for state in states))
        problems.append(
            (
                "wrong_state",
                f"Lot {lot.lot_number} is {status_text(lot.status)}; to "
                f"{action.title[:1].lower()}{action.title[1:]}, it must be {wanted}.",
            )
        )
    return problems


def applies_to_lot(key: ActionKey, lot: Lot) -> bool:
    return not lot_state_problems(key, lot)


def investigation_state_problems(
    key: ActionKey, investigation: Investigation
) -> list[tuple[str, str]]:
    """Why the action does not apply to the investigation now, as (code, words); empty: it
    applies."""
    action = ACTIONS[key]
    problems: list[tuple[str, str]] = []
    phased = investigation.kind in PHASED_KINDS
    if action.phased_only and not phased:
        problems.append(
            (
                "not_phased",
                f"It is a {investigation.get_kind_display().lower()}; only OOS and post-release "
                "investigations have phases.",
            )
        )
    if action.phases is not None and investigation.phase not in action.phases:
        if investigation.phase == P.CLOSED:
            problems.append(("closed", "It is already closed."))
        else:
            wanted = " or ".join(str(P(phase).label) for phase in sorted(action.phases))
            problems.append(
                ("wrong_phase", f"It is in {investigation.get_phase_display()}, not {wanted}.")
            )
    if key == ActionKey.CONCLUDE and phased and investigation.phase == P.PHASE_1:
        problems.append(
            (
                "wrong_phase",
                "An OOS result is either invalidated for an assignable laboratory cause "
                "(Phase I) or concluded after Phase II.",
            )
        )
    if (
        key == ActionKey.CONCLUDE
        and phased
        and investigation.phase == P.PHASE_2
        and investigation.phase_two_recorded_at is None
    ):
        # FDA OOS guidance: the conclusion rests on the production investigation's findings.
        problems.append(
            (
                "phase_two_not_recorded",
                "Phase II has not recorded which other lots were checked and what it found "
                "(21 CFR 211.192: the investigation extends to other batches).",
            )
        )
    return problems


def applies_to_investigation(key: ActionKey, investigation: Investigation) -> bool:
    return not investigation_state_problems(key, investigation)


def install() -> None:
    """Answer QC's questions of who may take its person-facing actions (qc.hooks)."""
    qc_hooks.person_policy.install(
        require=lambda key, principal: require_person(ActionKey(key), principal),
        roles=lambda key: ACTIONS[ActionKey(key)].all_roles,
        signing=_signing,
    )


def _signing(key: str, **words: str) -> tuple[str, str]:
    action = ACTIONS[ActionKey(key)]
    return action.meaning, action.statement(Facts(**words))  # type: ignore[arg-type]
