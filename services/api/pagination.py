"""Pagination of the read endpoints; a malformed ``page_size``, ``page`` or ``cursor`` is a 400.

DRF falls back to the default page size when ``page_size`` is not a positive whole
number (``page_size=false`` answered 100 results as if nothing were wrong): here it
is refused, naming the parameter, in the one error shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


def _whole(request: Any, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise ValidationError({name: ["must be a positive whole number"]})
    return int(value)


class StrictPageSize:
    page_size: int | None
    page_size_query_param: str | None
    max_page_size: int | None

    def get_page_size(self, request: Any) -> int | None:
        if self.page_size_query_param:
            size = _whole(request, self.page_size_query_param)
            if size is not None:
                return min(size, self.max_page_size) if self.max_page_size else size
        return self.page_size


class Pagination(StrictPageSize, PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        _whole(request, self.page_query_param)  # "last" is DRF's, not declared: refused too
        return super().paginate_queryset(queryset, request, view)


class SequencePagination(StrictPageSize, CursorPagination):
    """Stable paging through append-only streams (audit events, results)."""

    ordering = "pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound as exc:  # DRF: 404 "Invalid cursor", on a path that names no record
            raise ValidationError(
                {self.cursor_query_param: ["is not a cursor of this list (use next/previous)"]}
            ) from exc
