"""Release history across lots: every disposition with the evaluation it rested on, its
signature manifest and its certificates; the filters the API, the page and the exports share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import django_filters
from django.db.models import Prefetch, Q, QuerySet

from releases.models import Certificate, Decision, Disposition
from services.api.filters import IsoDateTimeFilter
from services.exports import CHUNK_ROWS, Export, chunked


class ReleaseHistoryFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="lot__product__code", label="product code")
    lot = django_filters.CharFilter(field_name="lot__lot_number", label="lot number")
    decision = django_filters.ChoiceFilter(choices=Decision.choices)
    signer = django_filters.CharFilter(
        method="filter_signer", label="signer: (part of) the printed name or the username"
    )
    since = IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Disposition
        fields = ("product", "lot", "decision", "signer", "since", "until")

    def filter_signer(self, queryset: QuerySet[Disposition], name: str, value: str) -> Any:
        return queryset.filter(
            Q(decided_by_name__icontains=value)
            | Q(signature__printed_name__icontains=value)
            | Q(signature__username__iexact=value)
        )


def release_history() -> QuerySet[Disposition]:
    """Every disposition across lots, newest first."""
    return (
        Disposition.objects.select_related(
            "lot", "lot__product", "specification", "evaluation", "signature"
        )
        .prefetch_related(
            Prefetch(
                "certificates",
                queryset=Certificate.objects.only(
                    "pk", "version", "lot_id", "disposition_id", "pdf_sha256", "json_sha256"
                ).order_by("version"),
            )
        )
        .order_by("-decided_at", "-pk")
    )


COLUMNS = (
    "decided_at",
    "product",
    "lot",
    "decision",
    "status_before",
    "status_after",
    "specification_version",
    "evaluation_id",
    "evaluation_verdict",
    "evaluation_inputs_digest",
    "decided_by",
    "signature",
    "signature_meaning",
    "signature_digest",
    "reason",
)


def history_rows(dispositions: QuerySet[Disposition]) -> Iterable[Sequence[Any]]:
    rows = dispositions.order_by("decided_at", "pk").values_list(
        "decided_at",
        "lot__product__code",
        "lot__lot_number",
        "decision",
        "status_before",
        "status_after",
        "specification__version",
        "evaluation_id",
        "evaluation__verdict",
        "evaluation__inputs_digest",
        "decided_by_name",
        "signature__printed_name",
        "signature__meaning",
        "signature__record_digest",
        "reason",
    )
    return ((row[0].isoformat(), *row[1:]) for row in rows.iterator(chunk_size=CHUNK_ROWS))


def history_export(*, dispositions: QuerySet[Disposition], filters: Mapping[str, str]) -> Export:
    return Export(
        what="releases",
        title="Release history",
        columns=COLUMNS,
        chunks=lambda: chunked(history_rows(dispositions)),
        filters=filters,
    )
