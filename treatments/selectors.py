"""Reads of treatments data: lists, availability, lot recipients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch, QuerySet

from treatments.models import (
    LIVE_SESSION_STATUSES,
    Course,
    Location,
    Practitioner,
    Protocol,
    Room,
    Session,
    SessionProductUse,
)

# Availability is computed day by day; a bounded range keeps one request cheap.
MAX_AVAILABILITY_DAYS = 31


def location_list() -> QuerySet[Location]:
    return Location.objects.prefetch_related("opening_hours")


def room_list() -> QuerySet[Room]:
    return Room.objects.select_related("location")


def practitioner_list() -> QuerySet[Practitioner]:
    return Practitioner.objects.select_related("user").prefetch_related("locations")


def protocol_list() -> QuerySet[Protocol]:
    return Protocol.objects.select_related("category").prefetch_related("conflict_rules__blocked_category")


def course_list() -> QuerySet[Course]:
    return Course.objects.select_related("patient", "protocol", "location").prefetch_related(
        Prefetch("sessions", queryset=Session.objects.order_by("starts_at"))
    )


def session_list() -> QuerySet[Session]:
    return Session.objects.select_related(
        "course__patient", "course__protocol", "practitioner", "room", "location"
    ).prefetch_related("product_uses__lot__product", "overrides__practitioner")


def lot_recipients(*, lot_id: object) -> QuerySet[SessionProductUse]:
    """Every use of a lot, with its session and patient: the recall list."""
    return (
        SessionProductUse.objects.filter(lot_id=lot_id)
        .select_related("session__course__patient", "session__practitioner", "lot__product")
        .order_by("session__completed_at", "session_id")
    )


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    room_ids: tuple[str, ...]


def availability(
    *,
    practitioner: Practitioner,
    location: Location,
    protocol: Protocol,
    date_from: date,
    date_to: date,
    step_minutes: int = 15,
    not_before: datetime | None = None,
) -> list[Slot]:
    """Free slots for `protocol` with `practitioner` at `location`, day by day in local time.

    A slot lies inside one opening interval, overlaps none of the
    practitioner's live sessions (anywhere), and has at least one active room
    at the location free for its whole length. Scheduling rules about the
    patient (spacing, conflicts) are checked at booking, not here.
    """
    zone = location.time_zone
    duration = timedelta(minutes=protocol.session_duration_minutes)
    step = timedelta(minutes=step_minutes)
    window_start = datetime.combine(date_from, datetime.min.time(), tzinfo=zone)
    window_end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=zone)

    busy_practitioner = list(
        Session.objects.filter(
            practitioner=practitioner,
            status__in=LIVE_SESSION_STATUSES,
            starts_at__lt=window_end,
            ends_at__gt=window_start,
        ).values_list("starts_at", "ends_at")
    )
    rooms = [str(pk) for pk in Room.objects.filter(location=location, is_active=True).values_list("pk", flat=True)]
    busy_rooms: dict[str, list[tuple[datetime, datetime]]] = {room: [] for room in rooms}
    for room_id, starts_at, ends_at in Session.objects.filter(
        room__location=location,
        status__in=LIVE_SESSION_STATUSES,
        starts_at__lt=window_end,
        ends_at__gt=window_start,
    ).values_list("room_id", "starts_at", "ends_at"):
        busy_rooms.setdefault(str(room_id), []).append((starts_at, ends_at))

    def free(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
        return all(not (busy_start < end and start < busy_end) for busy_start, busy_end in intervals)

    slots = []
    opening = list(location.opening_hours.all())
    day = date_from
    while day <= date_to:
        for interval in sorted((h for h in opening if h.weekday == day.weekday()), key=lambda h: h.opens_at):
            start = datetime.combine(day, interval.opens_at, tzinfo=zone)
            close = datetime.combine(day, interval.closes_at, tzinfo=zone)
            while start + duration <= close:
                end = start + duration
                if (not_before is None or start >= not_before) and free(busy_practitioner, start, end):
                    free_rooms = tuple(room for room in rooms if free(busy_rooms[room], start, end))
                    if free_rooms:
                        slots.append(Slot(starts_at=start, ends_at=end, room_ids=free_rooms))
                start += step
        day += timedelta(days=1)
    return slots
