from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

if TYPE_CHECKING:
    # What the mixin's self and super() are: the serializer it is mixed into.
    _SerializerBase = serializers.Serializer[Any]
else:
    _SerializerBase = object


# Real zones lie between UTC-12:00 and UTC+14:00 (PostgreSQL refuses beyond ±15:59).
MAX_UTC_OFFSET = timedelta(hours=14)
OFFSET_EXAMPLE = "2026-03-03T10:00:00+00:00"


def checked_instant(text: str) -> datetime | None:
    """`text` read as an ISO-8601 instant that carries its UTC offset; None if it is not ISO-8601 at all.

    Raises Django's ValidationError for an instant without an offset (which
    would be a guess at the zone) or with an offset no zone has.
    """
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        raise DjangoValidationError(
            f"Give the UTC offset with the time, e.g. {OFFSET_EXAMPLE} or …Z.", code="offset_required"
        )
    if abs(offset) > MAX_UTC_OFFSET:
        raise DjangoValidationError("A UTC offset lies between -12:00 and +14:00.", code="offset_out_of_range")
    return parsed


class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO-8601 instant with its UTC offset (e.g. 2026-03-03T10:00:00+00:00): a time without one is refused."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                checked_instant(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages, code=error.code) from None
        return super().to_internal_value(value)


class StrictInputMixin(_SerializerBase):
    """Refuse keys the serializer does not accept, instead of dropping them.

    A misspelt field ("phone_number" for "phone") silently ignored would leave
    the integrator believing the change was saved.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields
            errors = {}
            for key in data:
                if key not in fields:
                    errors[key] = ["Unknown field."]
                elif fields[key].read_only:
                    errors[key] = ["This field is read-only."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class TimeZoneField(TimeZoneSerializerField):
    """An IANA zone name, e.g. Europe/London.

    zoneinfo raises ValueError, not "zone not found", for keys it refuses to
    look up ("Europe/", "zone.tab", "../x"); those are invalid input too,
    not a 500.
    """

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except ValueError:
            self.fail("invalid")
