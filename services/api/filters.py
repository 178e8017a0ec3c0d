"""Filters shared by the read endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Real time zones lie within UTC-12:00..UTC+14:00; PostgreSQL refuses offsets past
# 15:59, so a fuzzed "+19:08" must be a 400 naming the parameter, not a 500.
_LARGEST_OFFSET = timedelta(hours=14)
_EARLIEST = datetime(1900, 1, 1).date()


class BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > _LARGEST_OFFSET:
            raise forms.ValidationError("the time zone offset must lie within ±14:00")
        if moment.date() < _EARLIEST:
            raise forms.ValidationError("dates before 1900 are not accepted")
        return moment


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that refuses what PostgreSQL cannot store."""

    field_class = BoundedIsoDateTimeField


# --- Strict query parameters -------------------------------------------------------
# A parameter the schema declares is either absent or valid: ``active=0.9``,
# ``current=maybe`` or ``received_after=`` are a 400 naming the parameter (in the one
# error shape), never silently read as "no filter".

TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})
BOOLEAN_REASON = "must be true or false"
EMPTY_REASON = "must not be empty (leave the parameter out to not filter)"


def query_bool(params: Any, name: str) -> bool | None:
    """A boolean query parameter: ``None`` when absent; ``true``/``false`` (or 1/0)."""
    if name not in params:
        return None
    value = str(params.get(name)).lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValidationError({name: [BOOLEAN_REASON]})


def query_choice(params: Any, name: str, choices: Any) -> str:
    """An enumerated query parameter: ``""`` when absent, else one of ``choices``."""
    if name not in params:
        return ""
    value = str(params.get(name))
    if value not in set(choices):
        raise ValidationError({name: [f"must be one of: {', '.join(sorted(choices))}"]})
    return value


def query_problems(filterset: django_filters.FilterSet, params: Any) -> dict[str, list[str]]:
    """Declared filter parameters that are sent empty, or booleans that are not booleans."""
    problems: dict[str, list[str]] = {}
    for name, declared in filterset.filters.items():
        if name not in params:
            continue
        values = params.getlist(name)
        if any(value == "" for value in values):
            problems[name] = [EMPTY_REASON]
        elif isinstance(declared, django_filters.BooleanFilter) and any(
            value.lower() not in TRUE_WORDS | FALSE_WORDS for value in values
        ):
            problems[name] = [BOOLEAN_REASON]
    return problems


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, but a malformed declared parameter is a 400, not "no filter"."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        problems = query_problems(filterset, request.query_params)
        if not filterset.is_valid():
            for name, errors in filterset.errors.items():
                problems.setdefault(name, [str(error) for error in errors])
        if problems:
            raise ValidationError(problems)
        return filterset.qs
