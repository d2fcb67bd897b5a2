"""The front desk's day and week calendar of a location: what it shows, read in a fixed number of queries.

The page (frontdesk.views.calendar_page) draws it with EventCalendar; this
module makes the JSON it reads: the columns (the location's practitioners, or
its rooms), the opening hours, and the sessions of a range as blocks with
the patient, the protocol, the session's number in its course ("2 of 4")
and the alerts the desk must see before the patient arrives.

Times are the location's wall clock, written without an offset, so the
calendar shows the clinic's hours whatever the zone of the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from aftercare.models import SideEffectReport
from treatments.models import Location, MedicalClearance, Room, Session, SessionKind, SessionStatus
from treatments.selectors import session_treatment_consent_in_force

MAX_CALENDAR_DAYS = 31
BY_PRACTITIONER = "practitioner"
BY_ROOM = "room"
COLUMNS = (BY_PRACTITIONER, BY_ROOM)
# What the calendar shows: cancelled sessions free their slot and are left out.
SHOWN_STATUSES = (SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW)
ALERT_LABELS = {
    "red_flag": "Red flag open",
    "medical_review": "Medical review needed",
    "consent_needed": "Treatment consent needed",
}


@dataclass(frozen=True)
class Range:
    """Local days [first, after) at a location."""

    location: Location
    first: date
    after: date

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=self.location.time_zone)

    @property
    def ends(self) -> datetime:
        return datetime.combine(self.after, datetime.min.time(), tzinfo=self.location.time_zone)


def calendar_sessions(days: Range) -> QuerySet[Session]:
    """The location's sessions overlapping the range, with everything a block shows, in one query."""
    zone = days.location.time_zone
    _outer_start = ExpressionWrapper(OuterRef("starts_at"), output_field=DateTimeField())
    course_sessions_up_to_this = (
        Session.objects.filter(
            course_id=OuterRef("course_id"),
            kind=SessionKind.COURSE,
            status__in=(SessionStatus.BOOKED, SessionStatus.COMPLETED),
        )
        .filter(Q(starts_at__lt=OuterRef("starts_at")) | Q(starts_at=OuterRef("starts_at"), id__lte=OuterRef("id")))
        .order_by()
        .values("course_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    # A clearance in force on the session's local day, covering every flag the patient carries now.
    cleared = (
        MedicalClearance.objects.filter(
            patient_id=OuterRef("course__patient_id"),
            revoked_at__isnull=True,
            flags_reviewed__contains=OuterRef("course__patient__medical_flags"),
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=TruncDate(_outer_start, tzinfo=zone)))
        .filter(Q(course__isnull=True) | Q(course_id=OuterRef("course_id")))
    )
    red_flag_open = SideEffectReport.objects.filter(
        patient_id=OuterRef("course__patient_id"), is_red_flag=True, resolved_at__isnull=True
    )
    return (
        Session.objects.filter(
            location=days.location,
            status__in=SHOWN_STATUSES,
            starts_at__lt=days.ends,
            ends_at__gt=days.starts,
        )
        .select_related("course__patient", "course__protocol", "practitioner", "room")
        .annotate(
            number_in_course=Subquery(course_sessions_up_to_this, output_field=IntegerField()),
            consented=session_treatment_consent_in_force(),
            cleared=Exists(cleared),
            red_flag_open=Exists(red_flag_open),
        )
        .order_by("starts_at", "id")
    )


def session_alerts(session: Any) -> list[str]:
    """The alert codes of a session read through calendar_sessions (see ALERT_LABELS)."""
    alerts = []
    if session.red_flag_open:
        alerts.append("red_flag")
    if session.status == SessionStatus.BOOKED:
        if session.course.patient.medical_flags and not session.cleared:
            alerts.append("medical_review")
        if not session.consented:
            alerts.append("consent_needed")
    return alerts


def _wall_clock(moment: datetime, location: Location) -> str:
    return moment.astimezone(location.time_zone).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class Viewer:
    """What the person looking may do from a block: move and check in (change_session), complete (their own
    sessions, as the practitioner who gives them)."""

    may_change: bool
    practitioner_id: Any = None
    may_complete: bool = False


def session_event(session: Any, *, location: Location, by: str, viewer: Viewer) -> dict[str, Any]:
    """One session as an EventCalendar event (its `extendedProps` carry what the block and its menu show)."""
    course = session.course
    if session.kind == SessionKind.MAINTENANCE:
        number = "maintenance"
    else:
        number = f"{session.number_in_course} of {course.planned_sessions}"
    alerts = session_alerts(session)
    patient = course.patient
    booked = session.status == SessionStatus.BOOKED
    on_its_day = location.today() == location.today(now=session.starts_at)
    arrived = session.arrived_at is not None
    in_treatment = booked and session.treatment_started_at is not None
    confirmed = booked and session.confirmed_at is not None
    if in_treatment:
        status_label = "In treatment"
    elif arrived and booked:
        status_label = "Arrived"
    elif confirmed:
        status_label = "Confirmed"  # by the patient, replying to a reminder
    else:
        status_label = session.get_status_display()
    return {
        "id": str(session.pk),
        "resourceIds": [str(session.practitioner_id if by == BY_PRACTITIONER else session.room_id)],
        "start": _wall_clock(session.starts_at, location),
        "end": _wall_clock(session.ends_at, location),
        "title": f"{patient.first_name} {patient.last_name}",
        "classNames": [
            f"status-{session.status}",
            *(["arrived"] if arrived and booked else []),
            *(["in-treatment"] if in_treatment else []),
            *(["confirmed"] if confirmed and not arrived else []),
            *(f"alert-{alert}" for alert in alerts),
        ],
        "editable": viewer.may_change and booked,
        "extendedProps": {
            "patient": f"{patient.first_name} {patient.last_name}",
            "patientId": str(patient.pk),
            "protocol": course.protocol.name,
            "number": number,
            "status": session.status,
            "statusLabel": status_label,
            "confirmed": confirmed,
            "practitioner": session.practitioner.display_name,
            "room": session.room.name,
            "alerts": [ALERT_LABELS[alert] for alert in alerts],
            "arrived": arrived,
            "arrivedAt": _wall_clock(session.arrived_at, location)[11:16] if arrived else None,
            "mayCheckIn": viewer.may_change and booked and on_its_day and not arrived,
            "inTreatment": in_treatment,
            "mayStartTreatment": viewer.may_change and booked and on_its_day and not in_treatment,
            "mayNoShow": viewer.may_change and booked and not arrived and session.starts_at <= timezone.now(),
            "mayCancel": viewer.may_change and booked,
            "mayComplete": viewer.may_complete and booked and session.practitioner_id == viewer.practitioner_id,
        },
    }


def calendar_events(days: Range, *, by: str, viewer: Viewer) -> list[dict[str, Any]]:
    return [session_event(session, location=days.location, by=by, viewer=viewer) for session in calendar_sessions(days)]


def calendar_columns(location: Location, *, by: str) -> list[dict[str, str]]:
    """The calendar's columns: the location's active practitioners, or its active rooms, by name."""
    if by == BY_ROOM:
        rooms = Room.objects.filter(location=location, is_active=True).order_by("name")
        return [{"id": str(room.pk), "title": room.name} for room in rooms]
    practitioners = location.practitioners.filter(is_active=True).order_by("display_name")
    return [{"id": str(p.pk), "title": p.display_name} for p in practitioners]


def business_hours(location: Location) -> list[dict[str, Any]]:
    """The location's opening hours, as EventCalendar shades them (days of week from Sunday = 0)."""
    return [
        {
            "daysOfWeek": [(hours.weekday + 1) % 7],  # Weekday: Monday = 0
            "startTime": hours.opens_at.strftime("%H:%M"),
            "endTime": hours.closes_at.strftime("%H:%M"),
        }
        for hours in location.opening_hours.all().order_by("weekday", "opens_at")
    ]


def day_bounds(location: Location) -> tuple[str, str]:
    """The earliest opening and latest closing of the week, for the calendar's visible hours."""
    hours = list(location.opening_hours.all())
    if not hours:
        return "08:00", "20:00"
    opens = min(h.opens_at for h in hours)
    closes = max(h.closes_at for h in hours)
    return opens.strftime("%H:00"), (closes.strftime("%H:00") if closes.minute == 0 else f"{closes.hour + 1:02d}:00")


def columns_asked(value: str | None) -> str:
    """?by=: practitioners unless rooms are asked for."""
    return BY_ROOM if value == BY_ROOM else BY_PRACTITIONER


def parse_range(location: Location, first: str | None, after: str | None) -> Range:
    """[first, after) from ISO dates; ValueError naming the parameter when one is missing or wrong."""
    try:
        first_day = date.fromisoformat((first or "")[:10])
    except ValueError:
        raise ValueError("start: a date, YYYY-MM-DD.") from None
    try:
        after_day = date.fromisoformat((after or "")[:10])
    except ValueError:
        raise ValueError("end: a date, YYYY-MM-DD.") from None
    if after_day <= first_day:
        raise ValueError("end: after start.")
    if after_day - first_day > timedelta(days=MAX_CALENDAR_DAYS):
        raise ValueError(f"end: at most {MAX_CALENDAR_DAYS} days after start.")
    return Range(location=location, first=first_day, after=after_day)
