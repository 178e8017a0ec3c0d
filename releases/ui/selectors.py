"""Reads for the QA and auditor web UI (review by exception: the lot page leads with
what needs a decision; everything else stays one click away)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from qc.models import Evaluation, Lot, LotStatus, Result
from releases.models import Investigation, InvestigationPhase
from services.accounts.models import Role
from services.audit.models import AuditEvent

EXCEPTION_ORDER = {"does_not_conform": 0, "invalid": 1, "missing": 2, "conforms_with_alert": 3}


def lots_overview(*, status: str = "", product: str = "", query: str = "") -> QuerySet[Lot]:
    current = Evaluation.objects.filter(lot=OuterRef("pk")).order_by("-pk")
    lots = (
        Lot.objects.select_related("product", "specification")
        .annotate(
            current_verdict=Subquery(current.values("verdict")[:1]),
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
    return lots


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
    exceptions: list[dict[str, Any]]
    conforming: list[dict[str, Any]]
    results: list[Result]
    investigations: list[Investigation]
    audit_events: list[AuditEvent]


def lot_page(lot_number: str) -> LotPage:
    lot = Lot.objects.select_related("product", "specification").get(lot_number=lot_number)
    evaluation = Evaluation.objects.filter(lot=lot).order_by("-pk").first()
    lines = list(evaluation.lines) if evaluation else []
    exceptions = sorted(
        (line for line in lines if line["verdict"] in EXCEPTION_ORDER),
        key=lambda line: (EXCEPTION_ORDER[line["verdict"]], line["line_id"]),
    )
    conforming = [line for line in lines if line["verdict"] == "conforms"]
    stale = bool(evaluation) and (
        evaluation.data_version < lot.data_version  # type: ignore[union-attr]
        or evaluation.specification_id != lot.specification_id  # type: ignore[union-attr]
    )
    results = list(
        Result.objects.filter(lot=lot)
        .select_related("test", "run", "posted_by_client", "entered_by_user", "invalidation")
        .order_by("test__code", "replicate", "pk")
    )
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
        investigations=list(lot.investigations.order_by("-opened_at")),
        audit_events=list(
            AuditEvent.objects.filter(object_type="lot", object_id=lot.lot_number).order_by(
                "-sequence"
            )[:50]
        ),
    )
