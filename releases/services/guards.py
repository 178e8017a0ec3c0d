"""Release guards: every check a lot decision needs, all run, every reason collected.

Run inside the deciding transaction, with the lot row locked (SELECT ... FOR
UPDATE), so nothing can change between the checks and the decision.  The same
checks feed the UI's checklist (``lot_readiness`` with no transaction needed).

Clauses: 21 CFR 211.165(a) (conformance to final specifications before release),
211.192 (QC unit reviews all records; investigations), 211.194(a)(8) (second-person
review; the certifier neither performed nor reviewed), EU GMP Annex 16 (QP
certifies after QA; deviations and OOS assessed), FDA OOS guidance (retests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qc.evaluation.types import LineVerdict, verdict_words
from qc.models import Evaluation, Lot, LotStatus, Result, SpecificationStatus
from qc.selectors import CurrentEvaluation, EvaluationLine, Staleness, lot_current_evaluation
from releases.lifecycle import lot_expired, status_text
from releases.models import (
    BLOCKING_KINDS,
    PHASED_KINDS,
    AuditTrailReview,
    Decision,
    Disposition,
    Investigation,
    InvestigationPhase,
    ResultReview,
)
from releases.policy import (
    ACTIONS,
    CHECKLIST_ACTION,
    ActionKey,
    Checklist,
    lot_state_problems,
    role_names,
)
from services.accounts.models import User
from services.errors import Problem

S = LotStatus
# The checklists are named by the decisions they guard (``?action=`` in the API).
Action = Checklist

_LINE_CODES = {
    "does_not_conform": "line_out_of_specification",
    "invalid": "line_invalid",
    "missing": "line_missing",
}


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    title: str
    problems: tuple[Problem, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Readiness:
    lot: Lot
    action: Action
    evaluation: Evaluation | None
    checks: tuple[Check, ...]

    @property
    def problems(self) -> list[Problem]:
        return [problem for check in self.checks for problem in check.problems]

    @property
    def ready(self) -> bool:
        return not self.problems


def signer_roles(lot: Lot, action: Action) -> tuple[str, ...]:
    """Who signs the decision on this lot's product (``releases.policy`` says)."""
    return ACTIONS[CHECKLIST_ACTION[action]].roles_for(lot)


def lot_readiness(
    *,
    lot: Lot,
    action: Action,
    signer: User | None = None,
    pending_tests: Sequence[str] = (),
) -> Readiness:
    """Every check of ``action`` on ``lot`` (for ``signer``, when given), none skipped."""
    current = lot_current_evaluation(lot=lot, recompute=True)
    evaluation = current.evaluation if current is not None else None
    checks = [
        _status_check(lot, action),
        _expiry_check(lot),
        _evaluation_check(lot, current, action, pending_tests),
        _specification_check(lot),
        _investigations_check(lot),
        _audit_trail_review_check(lot, evaluation),
        _result_review_check(lot),
        _retest_check(lot),
    ]
    if action == Action.RELEASE and lot.product.requires_qp_certification:
        checks.append(_approval_check(lot, evaluation))
    if signer is not None:
        checks.append(_role_check(lot, action, signer))
        checks.append(_segregation_check(lot, signer))
    return Readiness(lot=lot, action=action, evaluation=evaluation, checks=tuple(checks))


# --- the checks -------------------------------------------------------------------


_DONE = {
    Action.APPROVE: S.APPROVED,
    Action.RELEASE: S.RELEASED,
    Action.CONDITIONAL_RELEASE: S.CONDITIONALLY_RELEASED,
    Action.FINALISE: S.RELEASED,
}


def _status_check(lot: Lot, action: Action) -> Check:
    title = "The lot is at the right step of its lifecycle (21 CFR 11.10(f))"
    problems = [
        Problem("already_decided", f"Lot {lot.lot_number} is already {status_text(lot.status)}.")
        if code == "wrong_state" and lot.status == _DONE[action]
        else Problem(code, words)
        for code, words in lot_state_problems(CHECKLIST_ACTION[action], lot)
    ]
    return Check("status", title, tuple(problems))


def _line_problem(line: EvaluationLine, suffix: str = "") -> Problem:
    name, reason = line.name, line.reason
    words = verdict_words(line.verdict)
    if reason.startswith(name):  # the engine's reasons start with the line's name
        reason = reason[len(name) :].lstrip(" :—-")
    text = f"{name}: {words} — {reason}" if reason and reason != words else f"{name}: {words}"
    return Problem(_LINE_CODES.get(line.verdict, "line_not_conforming"), text + suffix)


def staleness_problems(lot: Lot, current: CurrentEvaluation) -> list[Problem]:
    """Why the stored evaluation no longer stands for the lot's data (empty: it does)."""
    evaluation = current.evaluation
    words = {
        Staleness.SPECIFICATION_REBOUND: (
            "evaluation_specification_changed",
            f"The current evaluation #{evaluation.pk} judged specification "
            f"v{evaluation.specification.version}, but the lot is now bound to "
            f"v{lot.specification.version}: it must be re-evaluated.",
        ),
        Staleness.DATA_CHANGED: (
            "evaluation_data_changed",
            f"The lot's data changed after the current evaluation #{evaluation.pk} "
            f"(data version {evaluation.data_version}, now {lot.data_version}): "
            "wait for the re-evaluation.",
        ),
        Staleness.INPUTS_CHANGED: (
            "evaluation_inputs_changed",
            f"The evaluation on record (#{evaluation.pk}) no longer matches the lot's data: a "
            "fresh computation gives another inputs digest, so it is stale and must be "
            "re-evaluated.",
        ),
        Staleness.NOT_RECOMPUTABLE: (
            "evaluation_not_reproducible",
            "The lot could not be re-evaluated to confirm the evaluation: "
            f"{current.recompute_error}",
        ),
    }
    return [Problem(*words[staleness]) for staleness in current.staleness]


def _evaluation_check(
    lot: Lot, current: CurrentEvaluation | None, action: Action, pending_tests: Sequence[str]
) -> Check:
    title = "The current evaluation conforms and is up to date (21 CFR 211.165(a))"
    if current is None:
        return Check(
            "evaluation",
            title,
            (Problem("not_evaluated", f"Lot {lot.lot_number} has not been evaluated yet."),),
        )
    problems = staleness_problems(lot, current)
    failing = [line for line in current.required_lines if not line.conforms]
    if action == Action.CONDITIONAL_RELEASE:
        problems += _pending_problems(failing, pending_tests)
    else:
        problems += [_line_problem(line) for line in failing]
    return Check("evaluation", title, tuple(problems))


def _pending_problems(failing: list[EvaluationLine], pending_tests: Sequence[str]) -> list[Problem]:
    """Conditional release: the only non-conforming lines are missing and listed as pending."""
    pending = {str(code).strip() for code in pending_tests if str(code).strip()}
    problems: list[Problem] = []
    if not pending:
        problems.append(
            Problem(
                "pending_tests_required",
                "A conditional release must list the tests still pending.",
                "pending_tests",
            )
        )
    missing_codes = set()
    for line in failing:
        if line.verdict != LineVerdict.MISSING:
            problems.append(
                _line_problem(line, " (only tests without a result yet may be pending)")
            )
            continue
        missing_codes.add(line.test_code)
        if line.test_code not in pending:
            problems.append(
                Problem(
                    "pending_test_not_listed",
                    f"{line.name} ({line.test_code}) has no result yet and is not listed as "
                    "pending.",
                    "pending_tests",
                )
            )
    for code in sorted(pending - missing_codes):
        problems.append(
            Problem(
                "pending_test_not_missing",
                f"Test {code} is listed as pending, but it is not a required test without a "
                "result.",
                "pending_tests",
            )
        )
    return problems


def _expiry_check(lot: Lot) -> Check:
    """21 CFR 211.137: a lot past its expiration date is never approved or released."""
    title = "The lot is within its expiry date (21 CFR 211.137)"
    if lot_expired(lot):
        return Check(
            "expiry",
            title,
            (
                Problem(
                    "lot_expired",
                    f"Lot {lot.lot_number} expired on {lot.expires_on:%Y-%m-%d}: an expired lot "
                    "cannot be approved or released.",
                ),
            ),
        )
    return Check("expiry", title)


def _specification_check(lot: Lot) -> Check:
    title = "The lot is bound to an approved specification version"
    spec = lot.specification
    approved = spec.approved_at is not None and spec.status in {
        SpecificationStatus.EFFECTIVE,
        SpecificationStatus.SUPERSEDED,
    }
    problems: tuple[Problem, ...] = ()
    if not approved:
        problems = (
            Problem(
                "specification_not_approved",
                f"Lot {lot.lot_number} is bound to specification v{spec.version}, which is "
                f"{spec.status} and was never approved by QA with a signature.",
            ),
        )
    return Check("specification", title, problems)


def open_blocking_investigations(lot: Lot) -> list[Investigation]:
    return list(
        Investigation.objects.filter(lot=lot, kind__in=BLOCKING_KINDS)
        .exclude(phase=InvestigationPhase.CLOSED)
        .order_by("opened_at", "pk")
    )


def _investigations_check(lot: Lot) -> Check:
    title = "No OOS investigation or deviation is open (EU GMP Annex 16; 21 CFR 211.192)"
    problems = []
    for investigation in open_blocking_investigations(lot):
        about = f", {investigation.line_name}" if investigation.line_name else ""
        problems.append(
            Problem(
                "investigation_open",
                f"Investigation {investigation.number} ({investigation.get_kind_display()}"
                f"{about}) is still open ({investigation.get_phase_display()}).",
            )
        )
    return Check("investigations", title, tuple(problems))


def _audit_trail_review_check(lot: Lot, evaluation: Evaluation | None) -> Check:
    """The newest review must have been made on the current evaluation (ids, not audit text)."""
    title = "QA reviewed the lot's audit trail (21 CFR 211.192)"
    review = AuditTrailReview.objects.filter(lot=lot).order_by("-pk").first()
    if review is None:
        return Check(
            "audit_trail_review",
            title,
            (
                Problem(
                    "audit_trail_not_reviewed",
                    f"QA has not recorded a review of lot {lot.lot_number}'s audit trail.",
                ),
            ),
        )
    if evaluation is None or review.evaluation_id == evaluation.pk:
        return Check("audit_trail_review", title)
    return Check(
        "audit_trail_review",
        title,
        (
            Problem(
                "audit_trail_review_outdated",
                f"The audit-trail review by {review.reviewer_name} covers events up to "
                f"#{review.up_to_sequence}, made on "
                + (
                    f"evaluation #{review.evaluation_id}"
                    if review.evaluation_id
                    else "an earlier evaluation"
                )
                + f"; the current evaluation is #{evaluation.pk}, recorded later: the audit "
                "trail must be reviewed again.",
            ),
        ),
    )


def ids_text(ids: Iterable[int], limit: int = 10) -> str:
    ids = list(ids)
    text = ", ".join(f"#{pk}" for pk in ids[:limit])
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def unreviewed_result_ids(lot: Lot) -> list[int]:
    reviewed: set[int] = set()
    for ids in ResultReview.objects.filter(lot=lot).values_list("result_ids", flat=True):
        reviewed.update(int(pk) for pk in ids)
    all_ids = Result.objects.filter(lot=lot).values_list("pk", flat=True)
    return sorted(set(all_ids) - reviewed)


def _result_review_check(lot: Lot) -> Check:
    title = "A second person reviewed every result (21 CFR 211.194(a)(8))"
    missing = unreviewed_result_ids(lot)
    problems: tuple[Problem, ...] = ()
    if missing:
        problems = (
            Problem(
                "results_not_reviewed",
                f"{len(missing)} result(s) of lot {lot.lot_number} have not been reviewed by a "
                f"second person (QC reviewer): {ids_text(missing)}.",
            ),
        )
    return Check("result_review", title, problems)


def review_pending(key: ActionKey, lot: Lot, evaluation: Evaluation | None) -> tuple[Problem, ...]:
    """Why the review ``key`` (results, audit trail) still blocks the lot's decision: the
    same check a decision runs (empty: done).  The worklists list what it returns."""
    if key == ActionKey.RESULT_REVIEW:
        return _result_review_check(lot).problems
    if key == ActionKey.AUDIT_TRAIL_REVIEW:
        return _audit_trail_review_check(lot, evaluation).problems
    raise ValueError(f"{key} is not a review a decision waits for")


def performed_by(result: Result, user: User) -> bool:
    """Did ``user`` perform (or enter) this result?  Names are compared as posted."""
    name = user.username.casefold()
    names = {result.performed_by.strip().casefold()}
    if result.run is not None:
        names.add(result.run.analyst.strip().casefold())
    return name in names or (
        result.entered_by_user_id is not None and result.entered_by_user_id == user.pk
    )


def same_performer(a: Result, b: Result) -> bool:
    who_a, who_b = a.performed_by.strip().casefold(), b.performed_by.strip().casefold()
    if who_a and who_a == who_b:
        return True
    return a.entered_by_user_id is not None and a.entered_by_user_id == b.entered_by_user_id


def retests_after(investigation: Investigation) -> tuple[list[Result], int]:
    """The retests of the investigation's result, and how many attempts they make.

    Every later result of the same test on the lot is a retest; a correction of a
    retest is the same retest, not another one; one run (or one request) is one
    attempt, counted against the method's retest budget.
    """
    original = investigation.result
    if original is None:
        return [], 0
    later = Result.objects.filter(
        lot_id=investigation.lot_id, test_id=original.test_id, pk__gt=original.pk
    )
    return _retests_among(original, later)


def _retests_among(original: Result, results: Iterable[Result]) -> tuple[list[Result], int]:
    """:func:`retests_after` over results already loaded (any of the lot's)."""
    later = sorted(
        (r for r in results if r.test_id == original.test_id and r.pk > original.pk),
        key=lambda r: r.pk,
    )
    later_ids = {r.pk for r in later}
    retests = [r for r in later if r.supersedes_id not in later_ids]
    attempts = len({r.run_id or r.request_id or f"result-{r.pk}" for r in retests})
    return retests, attempts


def _retest_check(lot: Lot) -> Check:
    """FDA OOS guidance: retests only once allowed, within the budget, by another analyst."""
    title = "Retests were allowed, within the method's budget, by another analyst (FDA OOS)"
    problems: list[Problem] = []
    investigations = list(
        Investigation.objects.filter(lot=lot, kind__in=PHASED_KINDS, result__isnull=False)
        .select_related("result", "result__test")
        .order_by("pk")
    )
    # One query for the retests of every OOS, not one per investigation.
    tests = {i.result.test_id for i in investigations if i.result is not None}
    candidates = list(Result.objects.filter(lot=lot, test_id__in=tests)) if tests else []
    for investigation in investigations:
        original = investigation.result
        assert original is not None
        code = original.test.code
        retests, attempts = _retests_among(original, candidates)
        if not retests:
            continue
        if investigation.retest_allowed_at is None:
            problems.append(
                Problem(
                    "retest_not_allowed",
                    f"{code} was retested after OOS result #{original.pk} (result(s) "
                    f"{ids_text(r.pk for r in retests)}) without a retest allowed by "
                    f"investigation {investigation.number}: no retest before the laboratory "
                    "investigation.",
                )
            )
        else:
            early = [r.pk for r in retests if r.received_at < investigation.retest_allowed_at]
            if early:
                problems.append(
                    Problem(
                        "retest_too_early",
                        f"{code} retest result(s) {ids_text(early)} were received before "
                        f"investigation {investigation.number} allowed a retest.",
                    )
                )
        if attempts > investigation.retest_budget:
            problems.append(
                Problem(
                    "retest_budget_exceeded",
                    f"{code} was retested {attempts} time(s) after OOS result #{original.pk}; "
                    "the method's retest budget, fixed in advance, is "
                    f"{investigation.retest_budget}.",
                )
            )
        for retest in retests:
            if same_performer(retest, original):
                who = retest.performed_by or "the same person"
                problems.append(
                    Problem(
                        "retest_same_analyst",
                        f"{code} retest result #{retest.pk} was performed by {who}, the analyst "
                        f"of OOS result #{original.pk}; a retest needs a different analyst.",
                    )
                )
    return Check("retests", title, tuple(problems))


def _approval_check(lot: Lot, evaluation: Evaluation | None) -> Check:
    title = "QA approved the lot on its current evaluation (EU GMP Annex 16)"
    approval = (
        Disposition.objects.filter(lot=lot, decision=Decision.APPROVED)
        .order_by("-decided_at", "-pk")
        .first()
    )
    if approval is None:
        return Check(
            "approval",
            title,
            (
                Problem(
                    "approval_missing",
                    "No QA approval is recorded: a QA officer approves first, then a Qualified "
                    "Person certifies.",
                ),
            ),
        )
    if evaluation is not None and approval.evaluation_id != evaluation.pk:
        return Check(
            "approval",
            title,
            (
                Problem(
                    "approval_void",
                    f"The QA approval by {approval.decided_by_name} was based on evaluation "
                    f"#{approval.evaluation_id}; the current evaluation is #{evaluation.pk}, "
                    "so the approval is void and QA must approve again.",
                ),
            ),
        )
    return Check("approval", title)


def _role_check(lot: Lot, action: Action, signer: User) -> Check:
    roles = signer_roles(lot, action)
    title = "The signer holds the right role (21 CFR 11.10(g))"
    if signer.has_role(*roles):
        return Check("role", title)
    what = ACTIONS[CHECKLIST_ACTION[action]].title.lower()
    return Check(
        "role",
        title,
        (
            Problem(
                "role_required",
                f"Only a {role_names(roles)} may {what} (lot {lot.lot_number}).",
            ),
        ),
    )


def _segregation_check(lot: Lot, signer: User) -> Check:
    title = "The signer neither performed nor reviewed the lot's tests (21 CFR 211.194(a)(8))"
    results = Result.objects.filter(lot=lot).select_related("test", "run").order_by("pk")
    performed = [result for result in results if performed_by(result, signer)]
    problems: list[Problem] = []
    who = f"{signer.printed_name} ({signer.username})"
    if performed:
        codes = ", ".join(sorted({result.test.code for result in performed}))
        problems.append(
            Problem(
                "signer_performed_tests",
                f"{who} performed {len(performed)} of the lot's results ({codes}: "
                f"{ids_text(result.pk for result in performed)}); the person who approves or "
                "certifies must not have performed the tests.",
            )
        )
    if ResultReview.objects.filter(lot=lot, reviewer=signer).exists():
        problems.append(
            Problem(
                "signer_reviewed_results",
                f"{who} reviewed the lot's results as the second person; the approver or "
                "certifier must be someone else.",
            )
        )
    return Check("segregation", title, tuple(problems))
