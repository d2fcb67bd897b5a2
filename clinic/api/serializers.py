from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rest_framework import serializers
from timezone_field.rest_framework import TimeZoneSerializerField

if TYPE_CHECKING:
    # What the mixin's self and super() are: the serializer it is mixed into.
    _SerializerBase = serializers.Serializer[Any]
else:
    _SerializerBase = object


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
