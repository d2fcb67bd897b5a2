"""A practitioner's sessions as an iCalendar feed, at a secret URL.

Calendar clients poll the URL. Each session keeps one UID for life; its
SEQUENCE is the session's `sequence`, raised on every change, so clients
replace the old version; cancelled sessions stay in the feed as
STATUS:CANCELLED so clients remove them rather than keep a stale copy.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from treatments.models import Practitioner, Session, SessionStatus

# Who made the file, in every calendar the clinic writes (this feed, and the invitations in booking notices).
CALENDAR_PRODID = "-//Clinic backend//Sessions//EN"
FEED_PAST = timedelta(days=60)
FEED_FUTURE = timedelta(days=400)
ICAL_STATUS = {
    SessionStatus.BOOKED: "CONFIRMED",
    SessionStatus.COMPLETED: "CONFIRMED",
    SessionStatus.CANCELLED: "CANCELLED",
    SessionStatus.NO_SHOW: "CANCELLED",
}


def session_uid(session: Session) -> str:
    """The session's iCalendar UID: the same in every calendar and for the session's whole life."""
    return f"session-{session.pk}@clinic"


def practitioner_calendar(practitioner: Practitioner) -> bytes:
    now = timezone.now()
    calendar = Calendar()
    calendar.add("prodid", CALENDAR_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{practitioner.display_name}: sessions")
    sessions = Session.objects.filter(
        practitioner=practitioner, starts_at__gte=now - FEED_PAST, starts_at__lte=now + FEED_FUTURE
    ).select_related("course__patient", "course__protocol", "room", "location")
    for session in sessions.order_by("starts_at"):
        patient = session.course.patient
        event = Event()
        event.add("uid", session_uid(session))
        event.add("sequence", session.sequence)
        event.add("dtstamp", session.updated_at)
        event.add("last-modified", session.updated_at)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        # Initials only: calendars sync to phones and are shown on lock screens.
        event.add("summary", f"{session.course.protocol.name}: {patient.first_name[:1]}. {patient.last_name[:1]}.")
        event.add("location", f"{session.room.name}, {session.location.name}")
        event.add("status", ICAL_STATUS[SessionStatus(session.status)])
        calendar.add_component(event)
    return calendar.to_ical()


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    practitioner = Practitioner.objects.filter(calendar_token=token, is_active=True).first()
    if practitioner is None:
        raise Http404("No such calendar.")
    response = HttpResponse(practitioner_calendar(practitioner), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
