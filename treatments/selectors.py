"""Reads of treatments data: lists, availability, lot recipients, "today" at a location,
when a session's conflicts clear."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.contrib.postgres.fields import RangeBoundary
from django.core.exceptions import ValidationError
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from clinic.prefetch import listed
from patients.models import Consent, ConsentKind
from patients.selectors import patient_has_consent
from treatments import rules
from treatments.followup import with_followup
from treatments.models import (
    LIVE_SESSION_STATUSES,
    ConflictRule,
    Course,
    Location,
    MedicalClearance,
    OpeningHours,
    Practitioner,
    Protocol,
    Room,
    Session,
    SessionProductUse,
    SessionStatus,
    TsTzRange,
)

# Availability walks the range day by day over one read of the busy intervals; a bounded range keeps it cheap.
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
    """Courses with what the API shows of them, their follow-up state included (treatments.followup).

    The protocol and location are what the follow-up window is computed from;
    of the sessions only the ids are shown, so only those are read.
    """
    return with_followup(Course.objects.select_related("protocol", "location")).prefetch_related(
        listed("sessions", Session.objects.order_by("starts_at", "id").only("id", "course_id", "starts_at"))
    )


# Of a session's course, the API shows the patient's and the protocol's ids.
_COURSE_COLUMNS_NOT_SHOWN = [
    f"course__{field.name}" for field in Course._meta.concrete_fields if field.name not in ("id", "patient", "protocol")
]


def session_list() -> QuerySet[Session]:
    """Sessions with what the API shows of them, whether the patient's treatment consent is in force included.

    The API shows the practitioner, room, location and patient by id, so only
    the course is joined, and of it only the patient's and protocol's ids read; product uses
    come with their lot and product, which are shown by name.
    """
    return (
        Session.objects.select_related("course")
        .defer(*_COURSE_COLUMNS_NOT_SHOWN)
        .prefetch_related(
            listed("product_uses", SessionProductUse.objects.select_related("lot__product")),
            listed("overrides"),
        )
        .annotate(treatment_consent_in_force=session_treatment_consent_in_force())
    )


def session_treatment_consent_in_force() -> Exists:
    """Whether a session's patient has consented to its protocol's current form, now: an expression to read
    beside the session (`Session.objects.annotate(consented=session_treatment_consent_in_force())`)."""
    return Exists(_consent_in_force(patient="course__patient_id", protocol="course__protocol"))


def _consent_in_force(*, patient: str, protocol: str) -> QuerySet[Consent]:
    """Treatment consents in force now for the outer row's patient and protocol (for Exists)."""
    now = timezone.now()
    return Consent.objects.filter(
        patient_id=OuterRef(patient),
        kind=ConsentKind.TREATMENT,
        scope=OuterRef(f"{protocol}__treatment_consent_form"),
        version=OuterRef(f"{protocol}__treatment_consent_version"),
        given_at__lte=now,
    ).exclude(revoked_at__lte=now)


def lot_recipients(*, lot_id: UUID) -> QuerySet[SessionProductUse]:
    """Every use of a lot, with its session and patient: the recall list."""
    return (
        SessionProductUse.objects.filter(lot_id=lot_id)
        .select_related("session__course__patient", "session__practitioner", "lot__product")
        .order_by("session__completed_at", "session_id")
    )


class _FreeCheck:
    """Whether [start, end) overlaps none of some busy intervals, in O(log n) per question.

    The intervals are merged into disjoint ones sorted by start, so their ends
    are sorted too: the first interval ending after `start` is the only one
    that can overlap. Instants are POSIX timestamps: comparing aware datetimes
    of different zones (the database's UTC, the location's zone) works out a
    UTC offset per comparison, which made the comparisons most of the cost of
    a month's availability.
    """

    def __init__(self, busy: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[float]] = []
        for busy_start, busy_end in sorted((start.timestamp(), end.timestamp()) for start, end in busy):
            if merged and busy_start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], busy_end)
            else:
                merged.append([busy_start, busy_end])
        self.starts = [interval[0] for interval in merged]
        self.ends = [interval[1] for interval in merged]

    def __call__(self, start: float, end: float) -> bool:
        index = bisect_right(self.ends, start)
        return index == len(self.starts) or self.starts[index] >= end


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

    Raise ValidationError for a range that is backwards, longer than
    MAX_AVAILABILITY_DAYS or past the calendar, and for a practitioner who
    does not work at the location (booking would refuse every slot offered).
    """
    span = (date_to - date_from).days
    if span < 0:
        raise ValidationError({"date_to": "date_to must not be before date_from."})
    if span >= MAX_AVAILABILITY_DAYS:
        raise ValidationError({"date_to": f"Ask for at most {MAX_AVAILABILITY_DAYS} days at a time."})
    if date_to >= date.max:  # the day after it, where the range ends, does not exist
        raise ValidationError({"date_to": "date_to is beyond the calendar."})
    if not practitioner.is_active or not practitioner.locations.filter(pk=location.pk).exists():
        raise ValidationError({"practitioner": f"{practitioner} does not work at {location}."})
    zone = location.time_zone
    duration = timedelta(minutes=protocol.session_duration_minutes)
    step = timedelta(minutes=step_minutes)
    window_start = datetime.combine(date_from, datetime.min.time(), tzinfo=zone)
    window_end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=zone)

    # One read of every live session that holds the practitioner or an active room here during the range,
    # asked as the exclusion constraints' GiST indexes answer it (the span overlapping, the practitioner or
    # the room equal): two index scans, not a read of every session in the range.
    rooms = [str(pk) for pk in Room.objects.filter(location=location, is_active=True).values_list("pk", flat=True)]
    practitioner_busy: list[tuple[datetime, datetime]] = []
    room_busy: dict[str, list[tuple[datetime, datetime]]] = {room: [] for room in rooms}
    for practitioner_id, room_id, starts_at, ends_at in (
        Session.objects.annotate(span=TsTzRange("starts_at", "ends_at", RangeBoundary()))
        .filter(
            Q(practitioner=practitioner) | Q(room_id__in=rooms),
            status__in=LIVE_SESSION_STATUSES,
            span__overlap=DateTimeTZRange(window_start, window_end),
        )
        .order_by()
        .values_list("practitioner_id", "room_id", "starts_at", "ends_at")
    ):
        if practitioner_id == practitioner.pk:
            practitioner_busy.append((starts_at, ends_at))
        if str(room_id) in room_busy:
            room_busy[str(room_id)].append((starts_at, ends_at))
    practitioner_free = _FreeCheck(practitioner_busy)
    not_before_at = not_before.timestamp() if not_before is not None else None
    room_free = [(room, _FreeCheck(room_busy[room])) for room in rooms]

    slots = []
    opening_by_weekday: dict[int, list[OpeningHours]] = {}
    for hours in location.opening_hours.all():
        opening_by_weekday.setdefault(hours.weekday, []).append(hours)
    day = date_from
    while day <= date_to:
        for interval in sorted(opening_by_weekday.get(day.weekday(), []), key=lambda h: h.opens_at):
            start = datetime.combine(day, interval.opens_at, tzinfo=zone)
            close = datetime.combine(day, interval.closes_at, tzinfo=zone)
            while start + duration <= close:
                end = start + duration
                start_at, end_at = start.timestamp(), end.timestamp()
                if (not_before_at is None or start_at >= not_before_at) and practitioner_free(start_at, end_at):
                    free_rooms = tuple(room for room, room_is_free in room_free if room_is_free(start_at, end_at))
                    if free_rooms:
                        slots.append(Slot(starts_at=start, ends_at=end, room_ids=free_rooms))
                start += step
        day += timedelta(days=1)
    return slots


@dataclass(frozen=True)
class BookingSuggestion:
    """Where the next session of a course might go: a start, and the practitioner and room if one was found."""

    starts_at: datetime
    practitioner_id: UUID | None
    room_id: Any


def suggest_booking(
    *, course: Course, window: tuple[date, date], last_practitioner: Practitioner | None, now: datetime | None = None
) -> BookingSuggestion:
    """The first free slot of the course's last practitioner inside `window` (from today on).

    Without a practitioner who still works, or a free slot within
    MAX_AVAILABILITY_DAYS, the suggestion is 10:00 local on the first day of
    the window, with no room: the booking form asks for the rest.
    """
    now = now or timezone.now()
    zone = course.location.time_zone
    first_day = max(window[0], course.location.today(now=now))
    fallback = BookingSuggestion(
        starts_at=datetime.combine(first_day, datetime.min.time(), tzinfo=zone).replace(hour=10),
        practitioner_id=None,
        room_id=None,
    )
    if last_practitioner is None or not last_practitioner.is_active:
        return fallback
    fallback = BookingSuggestion(starts_at=fallback.starts_at, practitioner_id=last_practitioner.pk, room_id=None)
    if not last_practitioner.locations.filter(pk=course.location_id).exists():
        return fallback
    last_day = min(max(window[1], first_day), first_day + timedelta(days=MAX_AVAILABILITY_DAYS - 1))
    slots = availability(
        practitioner=last_practitioner,
        location=course.location,
        protocol=course.protocol,
        date_from=first_day,
        date_to=last_day,
        not_before=now,
    )
    if not slots:
        return fallback
    return BookingSuggestion(
        starts_at=slots[0].starts_at, practitioner_id=last_practitioner.pk, room_id=slots[0].room_ids[0]
    )


def patient_ids_treated_by(user: Any) -> set[Any]:
    """Ids of the patients `user` treats: a session with them as the practitioner (in any state), or a clearance."""
    sessions = Session.objects.filter(practitioner__user_id=user.pk).values_list("course__patient_id", flat=True)
    cleared = MedicalClearance.objects.filter(practitioner__user_id=user.pk).values_list("patient_id", flat=True)
    return set(sessions.distinct()) | set(cleared.distinct())


def has_treatment_consent(*, course: Course, at: datetime | None = None) -> bool:
    """Return True if the course's patient had consented to its protocol's current form by `at` (default: now)."""
    protocol = course.protocol
    return patient_has_consent(
        patient=course.patient,
        kind=ConsentKind.TREATMENT,
        scope=protocol.treatment_consent_form,
        version=protocol.treatment_consent_version,
        at=at,
    )


def with_treatment_consent(session: Session) -> Session:
    """`session`, in hand with its course's protocol and patient, marked with whether the treatment consent
    is in force now (`treatment_consent_in_force`, as `session_list()` annotates it): to show a session
    just written without reading it back. A session that knows it already (booking reads it with the
    course) is left as it is."""
    annotated: Any = session
    if not hasattr(annotated, "treatment_consent_in_force"):
        annotated.treatment_consent_in_force = has_treatment_consent(course=session.course)
    return session


def treatment_consent_in_force() -> Exists:
    """Whether a course's patient has consented to its protocol's current form, now: an expression to read
    beside the course (`Course.objects.annotate(consented=treatment_consent_in_force())`)."""
    return Exists(_consent_in_force(patient="patient_id", protocol="protocol"))


def courses_needing_treatment_consent(course_ids: Iterable[Any]) -> set[Any]:
    """Of `course_ids`, those whose patient has no treatment consent in force for the protocol's current form."""
    return set(
        Course.objects.filter(pk__in=list(course_ids))
        .annotate(consented=Exists(_consent_in_force(patient="patient_id", protocol="protocol")))
        .filter(consented=False)
        .values_list("pk", flat=True)
    )


def conflicts_clear_at(*, session: Session) -> datetime | None:
    """When every treatment that `session`'s protocol blocks (peels, laser… after mesotherapy) is allowed again.

    The conflict rules' own arithmetic (`rules.conflict_window_end`), from the
    session's completion (else its start) in its location's zone, as a booking
    at that location is judged. None when the protocol blocks nothing.
    """
    days = ConflictRule.objects.filter(protocol_id=session.course.protocol_id).values_list("days", flat=True)
    zone = session.location.time_zone
    return max(
        (rules.conflict_window_end(anchor=session.spacing_anchor, days=d, zone=zone) for d in days), default=None
    )


def patient_next_booked_session(*, patient_id: Any, now: datetime | None = None) -> Session | None:
    """The patient's next appointment, in any course: the earliest booked session that has not started."""
    return (
        Session.objects.filter(
            course__patient_id=patient_id, status=SessionStatus.BOOKED, starts_at__gt=now or timezone.now()
        )
        .select_related("course__location", "location")
        .order_by("starts_at", "id")
        .first()
    )


def patient_latest_session(*, patient_id: Any) -> Session | None:
    """The patient's most recent session by start, whatever became of it (None if they never had one)."""
    return (
        Session.objects.filter(course__patient_id=patient_id)
        .select_related("course__location", "location")
        .order_by("-starts_at", "-id")
        .first()
    )
