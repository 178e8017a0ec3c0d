"""Reads for the QA and auditor web UI (review by exception: the lot page leads with
what needs a decision; everything else stays one click away)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.urls import reverse

from qc.evaluation.types import LineVerdict
from qc.models import Evaluation, Lot, LotStatus, Result
from qc.selectors import (
    EvaluationLine,
    lot_current_evaluation,
    lot_evaluations,
    lots_with_current_verdict,
)
from releases.models import (
    PHASED_KINDS,
    Certificate,
    Conclusion,
    Disposition,
    EntryType,
    Investigation,
    InvestigationAttachment,
    InvestigationEntry,
    InvestigationKind,
    InvestigationPhase,
)
from releases.policy import (
    ActionKey,
    Checklist,
    applies_to_lot,
)
from releases.selectors import (
    audit_exceptions,
    certificates_of,
    investigation_attachments,
    investigation_get,
    investigation_offers,
    lot_audit_trail,
    lot_dispositions,
    lot_signatures,
    pending_invalidation_proposal,
    statement_facts,
)
from releases.services.guards import (
    Readiness,
    lot_readiness,
    retests_after,
    unreviewed_result_ids,
)
from releases.services.oos import invalidation_signer_problems
from releases.ui.actions import DECISION_KEY, INVESTIGATION_ACTIONS, LOT_ACTIONS, checklist_action
from releases.ui.lot_sections import LotSections, lot_sections
from releases.ui.refusals import Refusal
from services.accounts.models import Role, User
from services.audit.models import AuditEvent
from services.esign.models import Signature
from services.esign.services import signature_verify

# Review by exception: out-of-specification first, then invalid data, missing, alerts.
EXCEPTION_ORDER = {
    LineVerdict.DOES_NOT_CONFORM: 0,
    LineVerdict.INVALID: 1,
    LineVerdict.MISSING: 2,
    LineVerdict.CONFORMS_WITH_ALERT: 3,
}


def lots_overview(
    *, status: str = "", product: str = "", query: str = "", verdict: str = ""
) -> QuerySet[Lot]:
    """Lots with their current verdict and open investigations; ``verdict`` "none": lots
    not evaluated yet."""
    lots = (
        lots_with_current_verdict(lots=Lot.objects.select_related("product", "specification"))
        .annotate(
            open_investigations=Count(
                "investigations",
                filter=~Q(investigations__phase=InvestigationPhase.CLOSED),
                distinct=True,
            ),
        )
        .order_by("-created_at")
    )
    if status:
        lots = lots.filter(status=status)
    if product:
        lots = lots.filter(product__code=product)
    if query:
        lots = lots.filter(lot_number__icontains=query)
    if verdict:
        # current_verdict: the annotation of lots_with_current_verdict (unknown to django-stubs)
        lots = lots.filter(current_verdict=None if verdict == "none" else verdict)  # type: ignore[misc]
    return lots


def investigations_overview(
    *, kind: str = "", phase: str = "", lot: str = ""
) -> QuerySet[Investigation]:
    investigations = Investigation.objects.select_related("lot")
    if kind:
        investigations = investigations.filter(kind=kind)
    if phase:
        investigations = investigations.filter(phase=phase)
    if lot:
        investigations = investigations.filter(lot__lot_number__icontains=lot)
    return investigations


def status_counts() -> dict[str, int]:
    counts = dict(Lot.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {value: counts.get(value, 0) for value in LotStatus.values}


@dataclass
class Attention:
    title: str
    lots: list[Lot] = field(default_factory=list)
    investigations: list[Investigation] = field(default_factory=list)


def attention_for(role: str) -> list[Attention]:
    """What this role should look at first."""
    items: list[Attention] = []
    open_oos = list(
        Investigation.objects.exclude(phase=InvestigationPhase.CLOSED)
        .select_related("lot")
        .order_by("-opened_at")[:20]
    )
    if role in {Role.QA_OFFICER, Role.QUALIFIED_PERSON, Role.ADMINISTRATOR}:
        items.append(
            Attention(
                "Ready for QA review",
                lots=list(lots_overview(status=LotStatus.READY_FOR_REVIEW)[:20]),
            )
        )
    if role in {Role.QUALIFIED_PERSON, Role.ADMINISTRATOR}:
        items.append(
            Attention(
                "Approved by QA, awaiting QP certification",
                lots=list(lots_overview(status=LotStatus.APPROVED)[:20]),
            )
        )
    if role in {Role.QA_OFFICER, Role.QC_REVIEWER, Role.QC_ANALYST, Role.ADMINISTRATOR}:
        items.append(Attention("Open investigations", investigations=open_oos))
    if role in {Role.QC_ANALYST, Role.QC_REVIEWER}:
        items.append(
            Attention("Lots in testing", lots=list(lots_overview(status=LotStatus.IN_TESTING)[:20]))
        )
    if role == Role.AUDITOR:
        items.append(
            Attention(
                "Recently decided lots",
                lots=list(
                    lots_overview().filter(
                        status__in=[
                            LotStatus.RELEASED,
                            LotStatus.REJECTED,
                            LotStatus.CONDITIONALLY_RELEASED,
                        ]
                    )[:20]
                ),
            )
        )
    return items


@dataclass
class LotPage:
    lot: Lot
    evaluation: Evaluation | None
    stale: bool
    exceptions: list[EvaluationLine]
    conforming: list[EvaluationLine]
    results: list[Result]
    investigations: list[Investigation]
    trail: LotTrail
    # Open out-of-trend notices (control-chart rules): part of the review by exception.
    out_of_trend: list[Investigation] = field(default_factory=list)
    # The results rows ready to print, the runs, the pictures (releases.ui.lot_sections).
    sections: LotSections | None = None


@dataclass
class LotTrail:
    """The lot's whole audit trail for review by exception (PIC/S PI 041 §9): the
    exceptions first, then every event, paged; ``count`` is what a review signs for."""

    count: int
    last_sequence: int | None
    exceptions: list[AuditEvent]
    page: Page[AuditEvent]


TRAIL_PAGE_SIZE = 50


def lot_trail(lot: Lot, page: str | int | None = 1) -> LotTrail:
    trail = lot_audit_trail(lot=lot)
    paginator = Paginator(trail, TRAIL_PAGE_SIZE)
    return LotTrail(
        count=paginator.count,
        last_sequence=trail.aggregate(last=Max("sequence"))["last"],
        exceptions=list(audit_exceptions(trail)[:200]),
        page=paginator.get_page(page),
    )


def lot_page(lot_number: str, trail_page: str | int | None = 1) -> LotPage:
    lot = Lot.objects.select_related("product", "specification").get(lot_number=lot_number)
    current = lot_current_evaluation(lot=lot)
    evaluation = current.evaluation if current is not None else None
    lines = list(current.lines) if current is not None else []
    exceptions = sorted(
        (line for line in lines if line.verdict in EXCEPTION_ORDER),
        key=lambda line: (EXCEPTION_ORDER[line.verdict], line.line_id),
    )
    conforming = [line for line in lines if line.verdict == LineVerdict.CONFORMS]
    stale = current is not None and current.stale
    results = list(
        Result.objects.filter(lot=lot)
        .select_related(
            "test",
            "run",
            "posted_by_client",
            "entered_by_user",
            "invalidation",
            "invalidation__investigation",
        )
        .order_by("test__code", "replicate", "pk")
    )
    investigations = list(lot.investigations.select_related("result__test").order_by("-opened_at"))
    superseded = {r.supersedes_id for r in results if r.supersedes_id}
    for result in results:
        result.is_superseded = result.pk in superseded  # type: ignore[attr-defined]
    return LotPage(
        lot=lot,
        evaluation=evaluation,
        stale=stale,
        exceptions=exceptions,
        conforming=conforming,
        results=results,
        investigations=investigations,
        trail=lot_trail(lot, trail_page),
        out_of_trend=[
            i
            for i in investigations
            if i.kind == InvestigationKind.CONTROL_RULE and i.phase != InvestigationPhase.CLOSED
        ],
        sections=lot_sections(lot, results, lines),
    )


# --- the release workflow on the lot page -----------------------------------------------


@dataclass
class Bound:
    """The form that was just posted and refused, to show again with its reasons."""

    key: str
    form: forms.Form | None  # None: refused before any form (the person's role)
    refusal: Refusal | None = None


@dataclass
class Panel:
    """One action's form on a page, with the statement the signer reads before signing."""

    key: str
    title: str
    button: str
    url: str
    statement: str
    meaning: str  # the signature meaning's label; "" when nothing is signed
    form: forms.Form | None
    danger: bool = False
    collapsed: bool = False
    summary: str = ""
    refusal: Refusal | None = None
    blocked: str = ""  # why the viewer cannot take this action (instead of a form)
    blocked_codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def signs(self) -> bool:
        return bool(self.meaning)


_ACTION_WORDS = {
    Checklist.APPROVE: "approval by QA",
    Checklist.RELEASE: "certification and release",
    Checklist.CONDITIONAL_RELEASE: "conditional release",
    Checklist.FINALISE: "finalisation of the conditional release",
}


@dataclass
class ReleasePanel:
    action: Checklist | None
    action_words: str
    signs: bool
    readiness: Readiness | None
    panels: list[Panel]

    @property
    def failing(self) -> int:
        return (
            sum(1 for check in self.readiness.checks if not check.passed) if self.readiness else 0
        )


def release_panel(lot: Lot, user: User, bound: Bound | None = None) -> ReleasePanel:
    """The checklist of the viewer's next decision, and the forms the viewer may use."""
    action, signs = checklist_action(lot, user)
    readiness = None
    if action is not None:
        readiness = lot_readiness(lot=lot, action=action, signer=user if signs else None)
    primary = DECISION_KEY.get(action) if action is not None and signs else None
    facts = statement_facts(lot=lot)
    failing = {check.key for check in readiness.checks if not check.passed} if readiness else set()
    panels = []
    for key, spec in LOT_ACTIONS.items():
        if not spec.allowed(user, lot):
            continue
        is_bound = bound is not None and bound.key == key
        if not (is_bound or key == primary or _offered(spec.key, lot)):
            continue
        form = (
            bound.form
            if bound is not None and is_bound and bound.form is not None
            else spec.form(lot=lot, initial={"up_to_sequence": facts.up_to_sequence})
        )
        panel = Panel(
            key=key,
            title=spec.title,
            button=spec.button,
            url=reverse("lot-action", args=[lot.lot_number, key]),
            statement=spec.policy.statement(facts),
            meaning=spec.policy.meaning_label,
            form=form,
            danger=spec.danger,
            refusal=bound.refusal if is_bound and bound is not None else None,
        )
        if key == primary and failing:
            panel.collapsed = True
            panel.summary = (
                f"{spec.title}: blocked, {len(failing)} check{'s' if len(failing) > 1 else ''} "
                "of the checklist fail; signing is refused until they pass"
            )
        elif key == "audit-trail-review" and readiness and "audit_trail_review" not in failing:
            panel.collapsed, panel.summary = True, f"{spec.title} again (the current one counts)"
        elif key in {
            "hold",
            "reject",
            "recall-decision",
            "open-deviation",
            "certificate-correction",
            "specification-rebind",
        }:
            panel.collapsed, panel.summary = True, spec.title
        if is_bound:
            panel.collapsed = False
        panels.append(panel)
    return ReleasePanel(
        action=action,
        action_words=_ACTION_WORDS.get(action, "") if action else "",
        signs=signs,
        readiness=readiness,
        panels=panels,
    )


def _offered(key: ActionKey, lot: Lot) -> bool:
    """Whether the lot page offers the action now: the policy says it applies (and a
    result review is offered only while some result awaits one)."""
    if not applies_to_lot(key, lot):
        return False
    return key != ActionKey.RESULT_REVIEW or bool(unreviewed_result_ids(lot))


@dataclass
class ManifestLine:
    """One signature as 21 CFR 11.50 wants it on screen, and whether it still verifies."""

    signature: Signature
    intact: bool
    check: str
    source: str  # "lot" or the investigation's number

    @property
    def role_label(self) -> str:
        try:
            return str(Role(self.signature.signer_role).label)
        except ValueError:
            return self.signature.signer_role


@dataclass
class DispositionRow:
    disposition: Disposition
    signature: ManifestLine | None
    evaluation_current: bool


@dataclass
class LotRecord:
    """The lot's release record: signatures, decisions, certificates, evaluations used."""

    manifest: list[ManifestLine]
    dispositions: list[DispositionRow]
    certificates: list[Certificate]
    evaluations: list[Evaluation]

    @property
    def broken(self) -> int:
        return sum(1 for line in self.manifest if not line.intact)


def _entry_signatures(entry_ids: list[int]) -> list[Signature]:
    if not entry_ids:
        return []
    kind = ContentType.objects.get_for_model(InvestigationEntry)
    return list(
        Signature.objects.filter(
            content_type=kind, object_id__in=[str(pk) for pk in entry_ids]
        ).select_related("content_type")
    )


def lot_record(lot: Lot) -> LotRecord:
    manifest: list[ManifestLine] = []
    for signature in lot_signatures(lot=lot):
        check = signature_verify(signature)
        manifest.append(ManifestLine(signature, check.intact, check.reason, "lot"))
    entries = InvestigationEntry.objects.filter(investigation__lot=lot).select_related(
        "investigation"
    )
    number_of = {entry.pk: entry.investigation.number for entry in entries}
    listed = {line.signature.pk for line in manifest}
    for signature in _entry_signatures(list(number_of)):
        if signature.pk in listed:  # a conclusion's signature that also rejected the lot
            continue
        check = signature_verify(signature)
        source = number_of.get(int(signature.object_id), "")
        manifest.append(ManifestLine(signature, check.intact, check.reason, source))
    manifest.sort(key=lambda line: (line.signature.signed_at, line.signature.pk))
    by_id = {line.signature.pk: line for line in manifest}
    current = lot_evaluations(lot=lot).values_list("pk", flat=True).first()
    dispositions = [
        DispositionRow(
            disposition=d,
            signature=by_id.get(d.signature_id) if d.signature_id else None,
            evaluation_current=d.evaluation_id is not None and d.evaluation_id == current,
        )
        for d in lot_dispositions(lot=lot)
    ]
    used = {d.disposition.evaluation_id for d in dispositions if d.disposition.evaluation_id}
    if current is not None:
        used.add(current)
    evaluations = list(
        Evaluation.objects.filter(pk__in=used).select_related("specification").order_by("pk")
    )
    return LotRecord(
        manifest=manifest,
        dispositions=dispositions,
        certificates=list(
            certificates_of(lot=lot)
            .select_related("disposition", "supersedes")
            .order_by("-version")
        ),
        evaluations=evaluations,
    )


def lockout_warning(user: User) -> str:
    """How close the account is to the lockout (21 CFR 11.300(d)), after a refused password.

    The lock is per (user name, client address): the count is the one of the address
    the refused attempt just came from (the attempt record it updated last)."""
    latest = AccessAttempt.objects.filter(username=user.username).order_by("-attempt_time")
    address = latest.values_list("ip_address", flat=True).first()
    failures = (
        AccessAttempt.objects.filter(username=user.username, ip_address=address).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        or 0
    )
    limit = int(settings.AXES_FAILURE_LIMIT)
    return (
        f"The password was wrong: nothing was signed. Failed attempt {failures} of {limit}: "
        f"after {limit} failed sign-in or signature attempts from this address the account is "
        "locked until an administrator unlocks it (other addresses are not affected; "
        "21 CFR 11.300(d)). Every attempt is in the audit trail."
    )


# --- investigations ------------------------------------------------------------------


@dataclass
class EntryRow:
    entry: InvestigationEntry
    signatures: list[ManifestLine]

    @property
    def label(self) -> str:
        try:
            return str(EntryType(self.entry.entry_type).label)
        except ValueError:
            return self.entry.entry_type


@dataclass
class InvestigationPage:
    investigation: Investigation
    lot: Lot
    entries: list[EntryRow]
    proposal: InvestigationEntry | None
    retests: list[Result]
    attempts: int
    panels: list[Panel]
    invalidation: Any
    attachments: list[InvestigationAttachment] = field(default_factory=list)

    @property
    def conclusion_label(self) -> str:
        conclusion = self.investigation.conclusion
        try:
            return str(Conclusion(conclusion).label) if conclusion else ""
        except ValueError:
            return conclusion

    @property
    def phases(self) -> list[tuple[str, str]]:
        """The phases as steps, each done, current or still to come."""
        order = list(InvestigationPhase)
        if self.investigation.kind not in PHASED_KINDS:
            order = [InvestigationPhase.PHASE_1, InvestigationPhase.CLOSED]
        now = order.index(InvestigationPhase(self.investigation.phase))
        labels = {InvestigationPhase.PHASE_1: "Open"} if len(order) == 2 else {}
        skipped = self.investigation.conclusion == Conclusion.INVALIDATED
        steps = []
        for i, phase in enumerate(order):
            state = "done" if i < now else "current" if i == now else "todo"
            if skipped and phase == InvestigationPhase.PHASE_2:
                state = "skipped"
            steps.append((labels.get(phase, str(phase.label)), state))
        return steps


def investigation_page(number: str, user: User, bound: Bound | None = None) -> InvestigationPage:
    investigation = investigation_get(number=number)
    lot = Lot.objects.select_related("product", "specification").get(pk=investigation.lot_id)
    entries = sorted(investigation.entries.all(), key=lambda e: (e.recorded_at, e.pk))
    signed: dict[int, list[ManifestLine]] = {}
    for signature in _entry_signatures([e.pk for e in entries]):
        check = signature_verify(signature)
        signed.setdefault(int(signature.object_id), []).append(
            ManifestLine(signature, check.intact, check.reason, investigation.number)
        )
    proposal = pending_invalidation_proposal(investigation=investigation)
    retests, attempts = retests_after(investigation)
    result = investigation.result
    facts = statement_facts(lot=lot, investigation=investigation)
    panels: list[Panel] = []
    for key, spec in INVESTIGATION_ACTIONS.items():
        if not spec.allowed(user):
            continue
        is_bound = bound is not None and bound.key == key
        if not (is_bound or investigation_offers(spec.key, investigation, proposal)):
            continue
        panel = Panel(
            key=key,
            title=spec.title,
            button=spec.button,
            url=reverse("investigation-action", args=[investigation.number, key]),
            statement=spec.policy.statement(facts),
            meaning=spec.policy.meaning_label,
            form=bound.form
            if bound is not None and is_bound and bound.form is not None
            else spec.form(investigation=investigation),
            danger=spec.danger,
            refusal=bound.refusal if is_bound and bound is not None else None,
        )
        if spec.key == ActionKey.INVALIDATE_RESULT and proposal is not None:
            problems = invalidation_signer_problems(
                investigation=investigation, proposal=proposal, signer=user
            )
            if problems:
                panel.blocked = " ".join(problem.reason for problem in problems)
                panel.blocked_codes = [problem.code for problem in problems]
            if panel.blocked and not is_bound:
                panel.form = None
        if key == "allow-retest":
            panel.notes.append(
                f"Retest budget of {result.test.code if result else 'the method'}, fixed when "
                f"the investigation opened: {investigation.retest_budget}; used so far: "
                f"{attempts}."
            )
        panels.append(panel)
    return InvestigationPage(
        investigation=investigation,
        lot=lot,
        entries=[EntryRow(entry, signed.get(entry.pk, [])) for entry in entries],
        proposal=proposal,
        retests=retests,
        attempts=attempts,
        panels=panels,
        invalidation=getattr(result, "invalidation", None) if result is not None else None,
        attachments=list(investigation_attachments(investigation=investigation)),
    )
