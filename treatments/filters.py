import django_filters

from clinic.api.filters import IsoDateFilter, OffsetDateTimeFilter, UpdatedSinceFilterSet
from treatments.models import (
    Course,
    CourseStatus,
    Location,
    Practitioner,
    ProductKind,
    ProductLot,
    Room,
    Session,
    SessionStatus,
)


class LocationFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Location
        fields = ["is_active"]


class RoomFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Room
        fields = ["location", "is_active"]


class PractitionerFilter(UpdatedSinceFilterSet):
    location = django_filters.UUIDFilter(field_name="locations", help_text="Practitioners working at this location.")

    class Meta:
        model = Practitioner
        fields = ["is_active"]


class CourseFilter(UpdatedSinceFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CourseStatus.choices)

    class Meta:
        model = Course
        fields = ["patient", "protocol", "location"]


class SessionFilter(UpdatedSinceFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=SessionStatus.choices, help_text="Repeat to match several: ?status=booked&status=completed"
    )
    patient = django_filters.UUIDFilter(field_name="course__patient")
    starts_after = OffsetDateTimeFilter(
        field_name="starts_at", lookup_expr="gte", help_text="Sessions starting at or after this instant."
    )
    starts_before = OffsetDateTimeFilter(
        field_name="starts_at", lookup_expr="lt", help_text="Sessions starting before this instant."
    )

    class Meta:
        model = Session
        fields = ["course", "practitioner", "room", "location", "kind"]


class ProductLotFilter(UpdatedSinceFilterSet):
    expires_before = IsoDateFilter(field_name="expires_on", lookup_expr="lt")
    kind = django_filters.ChoiceFilter(field_name="product__kind", choices=ProductKind.choices)

    class Meta:
        model = ProductLot
        fields = ["product", "lot_number"]
