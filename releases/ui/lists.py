"""List pages (lots, release history, investigations): sortable columns, filters and sort
kept in the URL, a CSV export of what the page shows, a 400 page on a bad parameter.

A page declares a :class:`Listing` (its columns, which sort, what the CSV holds) and a
filter form; :func:`list_query` reads the GET parameters against both, or raises
:class:`ListParametersRefused` (answered by the UI's 400 page, never a 500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse

from qc.evaluation.types import LotVerdict, verdict_words
from qc.models import LotStatus
from releases.history import ReleaseHistoryFilter
from releases.models import Disposition, InvestigationKind, InvestigationPhase
from services.accounts.context import AuthContext
from services.errors import Problem
from services.exports import Export, chunked, export_response
from services.http import bad_input

# Parameters every list shares; the rest are the page's filters.
SORT, FORMAT, PAGE = "sort", "format", "page"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its URL key, its heading, the fields it sorts by (none: not sortable)
    and its cell in the CSV export (None: not exported)."""

    key: str
    label: str
    order_by: tuple[str, ...] = ()
    value: Callable[[Any], object] | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    name: str  # the export's stable name ("lots")
    title: str
    columns: tuple[Column, ...]
    default_sort: str  # a column key, "-" first for descending
    formats: tuple[str, ...] = ("csv",)

    def sorts(self) -> set[str]:
        keys = {column.key for column in self.columns if column.order_by}
        return keys | {f"-{key}" for key in keys}


@dataclass(frozen=True, slots=True)
class Heading:
    label: str
    href: str = ""  # the link that sorts by this column ("" when it does not sort)
    aria_sort: str = ""  # "ascending"/"descending" on the sorted column


class ListParametersRefused(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = tuple(problems)

    def response(self, request: HttpRequest) -> HttpResponse:
        """The UI's 400 page, naming each parameter and why."""
        return bad_input(request, Problem("invalid_filter", str(self), self.problems[0].field))


@dataclass(frozen=True)
class ListQuery:
    listing: Listing
    sort: str
    fmt: str
    page: str
    filters: Mapping[str, str] = field(default_factory=dict)  # as given, non-empty only
    cleaned: Mapping[str, Any] = field(default_factory=dict)  # the filter form's values

    def _link(self, **changes: str) -> str:
        given = {**self.filters}
        sort = changes.get(SORT, self.sort)
        if sort != self.listing.default_sort:
            given[SORT] = sort
        if fmt := changes.get(FORMAT, ""):
            given[FORMAT] = fmt
        return "?" + urlencode(given)

    @property
    def query(self) -> str:
        """The filters and sort as a query string (pager links add ``page``)."""
        return self._link()[1:]

    @property
    def export_links(self) -> list[tuple[str, str]]:
        return [(fmt.upper(), self._link(format=fmt)) for fmt in self.listing.formats]

    @property
    def headings(self) -> list[Heading]:
        ascending = not self.sort.startswith("-")
        current = self.sort.lstrip("-")
        headings = []
        for column in self.listing.columns:
            if not column.order_by:
                headings.append(Heading(column.label))
                continue
            sorted_here = column.key == current
            toggled = f"-{column.key}" if sorted_here and ascending else column.key
            state = ("ascending" if ascending else "descending") if sorted_here else ""
            headings.append(Heading(column.label, self._link(sort=toggled), state))
        return headings

    def ordered(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        column = next(c for c in self.listing.columns if c.key == self.sort.lstrip("-"))
        descending = self.sort.startswith("-")
        fields = [
            F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
            for name in column.order_by
        ]
        return queryset.order_by(*fields, "-pk" if descending else "pk")

    def export(self, request: HttpRequest, rows: Iterable[Any]) -> HttpResponse:
        """The rows shown, as a file (audited as every export is)."""
        columns = [c for c in self.listing.columns if c.value is not None]
        cells = ([column.value(row) for column in columns] for row in rows)  # type: ignore[misc]
        return export_response(
            export=Export(
                what=self.listing.name,
                title=self.listing.title,
                columns=[column.key for column in columns],
                chunks=lambda: chunked(cells),
                filters={**self.filters, SORT: self.sort},
            ),
            fmt=self.fmt,
            actor=AuthContext.from_request(request).actor,
        )


def list_query(
    request: HttpRequest, listing: Listing, filters: type[forms.Form] | None = None
) -> ListQuery:
    """The list's parameters from the URL, each checked; unknown names are ignored."""
    params = request.GET
    problems: list[Problem] = []
    sort = params.get(SORT, "").strip() or listing.default_sort
    if sort not in listing.sorts():
        problems.append(Problem("invalid_filter", f"{sort!r} is not a sortable column", SORT))
    fmt = params.get(FORMAT, "").strip()
    if fmt and fmt not in listing.formats:
        expected = ", ".join(listing.formats)
        problems.append(Problem("invalid_filter", f"{fmt!r} is not one of {expected}", FORMAT))
    page = params.get(PAGE, "").strip()
    if page and not (page.isdigit() and int(page) >= 1):
        problems.append(Problem("invalid_filter", f"{page!r} is not a page number", PAGE))
    given: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if filters is not None:
        names = list(filters.base_fields)
        given = {name: params.get(name, "").strip() for name in names}
        given = {name: value for name, value in given.items() if value}
        form = filters(given)
        if form.is_valid():
            cleaned = form.cleaned_data
        for name, messages in form.errors.items():
            problems.append(Problem("invalid_filter", " ".join(map(str, messages)), name))
    if problems:
        raise ListParametersRefused(problems)
    return ListQuery(listing=listing, sort=sort, fmt=fmt, page=page, filters=given, cleaned=cleaned)


# --- the lot list ---------------------------------------------------------------------

NOT_EVALUATED = "none"
VERDICT_CHOICES = [(v.value, verdict_words(v.value)) for v in LotVerdict]
VERDICT_CHOICES.append((NOT_EVALUATED, "not evaluated yet"))


class LotFilters(forms.Form):
    q = forms.CharField(required=False, max_length=64, label="lot number")
    status = forms.ChoiceField(required=False, choices=LotStatus.choices)
    product = forms.CharField(required=False, max_length=64)
    verdict = forms.ChoiceField(required=False, choices=VERDICT_CHOICES)


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


LOTS = Listing(
    name="lots",
    title="Lots",
    default_sort="-created",
    columns=(
        Column("lot", "Lot", ("lot_number",), lambda lot: lot.lot_number),
        Column("product", "Product", ("product__code",), lambda lot: lot.product.code),
        Column("spec", "Spec", ("specification__version",), lambda lot: lot.specification.version),
        Column(
            "manufactured",
            "Manufactured",
            ("manufactured_on",),
            lambda lot: _day(lot.manufactured_on),
        ),
        Column("expires", "Expires", ("expires_on",), lambda lot: _day(lot.expires_on)),
        Column("status", "Status", ("status",), lambda lot: lot.status),
        Column(
            "verdict",
            "Current verdict",
            ("current_verdict",),
            lambda lot: lot.current_verdict or "",
        ),
        Column(
            "investigations",
            "Open investigations",
            ("open_investigations",),
            lambda lot: lot.open_investigations,
        ),
        Column("created", "Created (UTC)", ("created_at",), lambda lot: lot.created_at.isoformat()),
    ),
)


# --- the release history --------------------------------------------------------------

RELEASES = Listing(
    name="releases",
    title="Release history",
    default_sort="-decided",
    formats=("csv", "jsonl", "pdf"),  # every match (services.exports), not only a page
    columns=(
        Column("decided", "Decided (UTC)", ("decided_at",)),
        Column("lot", "Lot", ("lot__lot_number",)),
        Column("decision", "Decision", ("decision",)),
        Column("evaluation", "Evaluation", ("evaluation_id",)),
        Column("signature", "Signature", ("signature__printed_name",)),
        Column("reason", "Reason"),
        Column("certificates", "Certificates"),
    ),
)


def release_history_filters() -> type[forms.Form]:
    """The release history's filters: the form of the filter set the API uses."""
    form: type[forms.Form] = ReleaseHistoryFilter(
        queryset=Disposition.objects.none()
    ).get_form_class()
    return form


# --- the investigations ---------------------------------------------------------------


class InvestigationFilters(forms.Form):
    kind = forms.ChoiceField(required=False, choices=InvestigationKind.choices)
    phase = forms.ChoiceField(required=False, choices=InvestigationPhase.choices)
    lot = forms.CharField(required=False, max_length=64, label="lot number")


INVESTIGATIONS = Listing(
    name="investigations",
    title="Investigations",
    default_sort="-opened",
    columns=(
        Column("number", "Number", ("number",), lambda i: i.number),
        Column("kind", "Kind", ("kind",), lambda i: i.kind),
        Column("lot", "Lot", ("lot__lot_number",), lambda i: i.lot.lot_number),
        Column("line", "Line", ("line_name",), lambda i: i.line_name),
        Column("phase", "Phase", ("phase",), lambda i: i.phase),
        Column("opened", "Opened (UTC)", ("opened_at",), lambda i: i.opened_at.isoformat()),
        Column("summary", "Summary", (), lambda i: i.summary),
    ),
)
