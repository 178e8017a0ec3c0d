"""Filters shared by the read endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

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
