from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, RelatedField
from rest_framework.settings import api_settings
from timezone_field.rest_framework import TimeZoneSerializerField

from clinic.prefetch import rows_of

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


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """JSON has types: `true`, not 1 or "yes"; 5, not "5"; text, not 42. DRF's fields coerce all of these
    (they also read form posts); a JSON client sending the wrong type has a bug it should hear about."""
    if value is None or isinstance(field, serializers.MultipleChoiceField):
        return None  # the field's own checks speak (allow_null; a list of choices)
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField | serializers.FloatField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, serializers.ChoiceField):
        # Choices are strings (a status) or numbers (a skin type): the value has the choices' JSON type.
        if any(isinstance(key, int) for key in field.choices):
            return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a number."
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField
        | serializers.UUIDField,
    ):
        return None if isinstance(value, str) else "Must be a string."
    return None


class StrictInputMixin(_SerializerBase):
    """Refuse keys the serializer does not accept, instead of dropping them.

    A misspelt field ("phone_number" for "phone") silently ignored would leave
    the integrator believing the change was saved.
    """

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            fields = self.fields
            for key, value in data.items():
                if key not in fields:
                    errors[key] = ["Unknown field."]
                elif fields[key].read_only:
                    errors[key] = ["This field is read-only."]
                elif (wrong := _json_type_error(fields[key], value)) is not None:
                    errors[key] = [wrong]
        if not errors:
            return super().to_internal_value(data)
        # Reported with the body's other errors, so one round trip shows everything to fix.
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, Mapping):
                errors = {**error.detail, **errors}
        raise serializers.ValidationError(errors)


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


# How each kind of read-only field turns a model value into JSON, as DRF's own
# field would (see FastRepresentationMixin). None is None for all of them.
def _text(value: Any) -> str:
    return str(value)


def _date(value: Any) -> Any:
    return value if isinstance(value, str) else value.isoformat()


class _IsoDateTime:
    """DRF's DateTimeField.to_representation in ISO-8601 for aware values, without its per-call lookups."""

    def __init__(self, field: serializers.DateTimeField, zone: Any) -> None:
        self.field = field
        self.zone = zone

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) or value.tzinfo is None:
            return self.field.to_representation(value)
        text = value.astimezone(self.zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


class _Choice:
    def __init__(self, field: serializers.ChoiceField) -> None:
        self.values = field.choice_strings_to_values

    def __call__(self, value: Any) -> Any:
        if value == "":
            return value
        return self.values.get(str(value), value)


class _Prefetched:
    """A reverse relation's rows: the list or queryset prefetched, when there is one (clinic.prefetch.rows_of)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, instance: Any) -> Any:
        return rows_of(instance, self.name)


class _ListOf:
    """A nested `many=True` serializer's rows, as ListSerializer.to_representation shows them."""

    def __init__(self, child: Any) -> None:
        self.child = child

    def __call__(self, rows: Any) -> list[Any]:
        return [self.child.to_representation(row) for row in rows]


class _EachOf:
    """A ListField's items, as ListField.to_representation shows them (None stays None)."""

    def __init__(self, converter: Any) -> None:
        self.converter = converter

    def __call__(self, items: Any) -> list[Any]:
        converter = self.converter
        if converter is None:
            return list(items)
        return [None if item is None else converter(item) for item in items]


_LIST_REPRESENTATION = serializers.ListField.to_representation

# Field classes whose to_representation the plan reproduces; a subclass that overrides it goes through DRF.
_PLAIN_REPRESENTATIONS = frozenset(
    cls.to_representation
    for cls in (
        serializers.ChoiceField,
        serializers.DateTimeField,
        serializers.DateField,
        serializers.UUIDField,
        serializers.BooleanField,
        serializers.IntegerField,
        serializers.CharField,
        serializers.ReadOnlyField,
    )
)


# A read-only ModelSerializer's `to_representation`, planned once per serializer instead of per row.
#
# DRF resolves every field of every row through `get_attribute` (source
# traversal, callables, defaults) and the field's `to_representation`: about
# 35 µs a row for a session. Most output fields are a model column or
# property shown as it is stored; for those the plan reads the attribute
# directly and converts it the way the DRF field would (the output is
# identical, to the type). Any other field (nested serializers, dotted
# sources, custom fields) goes through DRF's own path. The declared fields
# are untouched, so the OpenAPI schema is the same. (A comment, not a
# docstring: drf-spectacular would show it as the description of every
# serializer without a docstring of its own.)
class FastRepresentationMixin(_SerializerBase):
    def _representation_plan(self) -> list[tuple[str, Any, Any, Any]]:
        plan = getattr(self, "_fast_plan", None)
        if plan is None:
            plan = [self._plan_field(field) for field in self._readable_fields]
            self._fast_plan = plan
        return plan

    def _plan_field(self, field: Any) -> tuple[str, Any, Any, Any]:
        """(name, getter, converter, DRF field for the generic path or None)."""
        name = field.field_name
        if isinstance(field, serializers.SerializerMethodField):
            return name, getattr(self, field.method_name), None, None
        model = getattr(getattr(self, "Meta", None), "model", None)
        if model is None:  # a plain serializer over objects of any kind: plain fields of one attribute only
            if len(field.source_attrs) != 1 or isinstance(field, (serializers.BaseSerializer, RelatedField)):
                return name, None, None, field
            converter = self._converter(field)
            return (
                (name, None, None, field) if converter is False else (name, attrgetter(field.source), converter, None)
            )
        *hops, last = field.source_attrs
        for hop in hops:  # a dotted source: only along forward foreign keys that cannot be null
            try:
                relation = model._meta.get_field(hop)
            except FieldDoesNotExist:
                return name, None, None, field
            if not relation.many_to_one or relation.null:
                return name, None, None, field
            model = relation.related_model
        try:
            model_field = model._meta.get_field(last)
        except FieldDoesNotExist:
            model_field = None
        if isinstance(field, serializers.ListSerializer):
            if hops or model_field is None or not model_field.one_to_many:
                return name, None, None, field
            return name, _Prefetched(last), _ListOf(field.child), None
        if isinstance(field, serializers.PrimaryKeyRelatedField):
            if field.pk_field is None and not hops and model_field is not None and model_field.many_to_one:
                return name, attrgetter(model_field.attname), None, None
            return name, None, None, field
        is_column = model_field is not None and model_field.concrete and not model_field.is_relation
        if not is_column and not isinstance(getattr(model, last, None), property):
            return name, None, None, field
        converter = self._converter(field)
        if converter is False:
            return name, None, None, field
        return name, attrgetter(field.source), converter, None

    @staticmethod
    def _converter(field: Any) -> Any:
        """How `field` shows a non-null value: None as it is, a callable, or False for "let DRF do it"."""
        if isinstance(field, serializers.ListField) and type(field).to_representation is _LIST_REPRESENTATION:
            child = FastRepresentationMixin._converter(field.child)
            return False if child is False else _EachOf(child)
        if type(field).to_representation not in _PLAIN_REPRESENTATIONS:
            return False  # a field class with a representation of its own
        if isinstance(field, serializers.ChoiceField):
            return _Choice(field)
        if isinstance(field, serializers.DateTimeField):
            zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
            output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
            if zone is None or output_format is None or output_format.lower() != ISO_8601:
                return False
            return _IsoDateTime(field, zone)
        if isinstance(field, serializers.DateField):
            output_format = getattr(field, "format", api_settings.DATE_FORMAT)
            return _date if output_format is not None and output_format.lower() == ISO_8601 else False
        if isinstance(field, serializers.UUIDField):
            return _text if field.uuid_format == "hex_verbose" else False
        if isinstance(field, (serializers.BooleanField, serializers.IntegerField, serializers.CharField)):
            # CharField shows str(value) (a phone number object included); booleans and integers as stored.
            return _text if isinstance(field, serializers.CharField) else field.to_representation
        if isinstance(field, serializers.ReadOnlyField):
            return None
        return False

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, getter, converter, field in self._representation_plan():
            if field is not None:  # DRF's own path, as Serializer.to_representation does it
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
                check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
                data[name] = None if check_for_none is None else field.to_representation(attribute)
                continue
            value = getter(instance)
            data[name] = value if value is None or converter is None else converter(value)
        return data
