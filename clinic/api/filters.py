from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

from clinic.api.serializers import checked_instant


class IsoDateField(forms.DateField):
    """A form date field that reads ISO-8601 dates (2026-03-03) and nothing else."""

    input_formats = ["%Y-%m-%d"]


class IsoDateFilter(django_filters.DateFilter):
    """A date filter for the API: ISO-8601 only.

    Django's own date field reads the active locale's formats, which for the
    clinic's staff are day first (03/04/2026 is 3 April). A client's query
    string must not depend on that: the API speaks ISO-8601, and anything else
    is a 400 naming the parameter, never a guess between March and April.
    """

    field_class = IsoDateField


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (also 1/0); anything else is a 400 naming the parameter, not "no filter"."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: not filtered
        text = str(value).strip().lower() if value is not None else ""
        if text == "":
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter for the API: `true` or `false`, nothing else."""

    field_class = StrictBooleanField


class OffsetDateTimeField(IsoDateTimeField):
    """A form field for an ISO-8601 instant with its UTC offset; no offset, or one no zone has, is a 400."""

    def to_python(self, value: Any) -> datetime | None:
        # Django's DateTimeField reads ISO-8601 itself before any input format,
        # and takes a time without an offset as local: check it first.
        if isinstance(value, str) and value.strip():
            checked_instant(value)  # ValidationError names what is wrong
        return super().to_python(value)


class OffsetDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A date-time filter for the API: ISO-8601 with its UTC offset, nothing else."""

    field_class = OffsetDateTimeField


class ApiFilterSet(django_filters.FilterSet):
    """Base for every API filterset, including those DjangoFilterBackend builds from `filterset_fields`:
    filters made from a model's date, date-time and boolean fields read ISO-8601 dates, instants with their
    offset and true/false, and refuse anything else with a 400."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateField: {"filter_class": IsoDateFilter},
        models.DateTimeField: {"filter_class": OffsetDateTimeFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose filtersets built from `filterset_fields` are ApiFilterSets."""

    filterset_base = ApiFilterSet


class UpdatedSinceFilterSet(ApiFilterSet):
    """Base for list filters: `?updated_since=<ISO-8601>` for incremental sync.

    Rows changed at or after the given instant are returned, so a client that
    stores the newest `updated_at` it saw and asks again from there misses
    nothing (it may see that row twice, which is harmless).
    """

    updated_since = OffsetDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only rows changed at or after this ISO-8601 instant (e.g. 2026-11-01T09:00:00+00:00).",
    )
