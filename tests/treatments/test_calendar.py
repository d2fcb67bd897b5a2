"""A practitioner's calendar feed: stable UIDs, SEQUENCE raised on change, cancellations kept as CANCELLED."""

from __future__ import annotations

from datetime import datetime

import pytest
from icalendar import Calendar

from tests.factories import CourseFactory, PatientFactory, PractitionerFactory
from tests.treatments.conftest import LONDON
from treatments import services

pytestmark = pytest.mark.django_db


def feed(client, practitioner) -> dict[str, dict]:
    response = client.get(f"/calendar/{practitioner.calendar_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_follows_a_session_through_booking_moving_and_cancelling(
    client, clock, course, practitioner, room
) -> None:
    course.patient.first_name, course.patient.last_name = "Amelia", "Hart"
    course.patient.save()
    session = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )
    uid = f"session-{session.pk}@clinic"

    booked = feed(client, practitioner)[uid]
    assert booked["sequence"] == 0
    assert booked["status"] == "CONFIRMED"
    assert booked.decoded("dtstart") == datetime(2026, 3, 3, 10, tzinfo=LONDON)
    assert str(booked["summary"]) == "Facial mesotherapy: A. H.", "only initials leave the clinic"

    session = services.session_reschedule(
        session=session, starts_at=datetime(2026, 3, 4, 14, tzinfo=LONDON), actor=None
    )
    moved = feed(client, practitioner)[uid]
    assert moved["sequence"] == 1
    assert moved.decoded("dtstart") == datetime(2026, 3, 4, 14, tzinfo=LONDON)

    services.session_cancel(session=session, reason="patient_request", actor=None)
    cancelled = feed(client, practitioner)
    assert list(cancelled) == [uid], "the UID never changes"
    assert cancelled[uid]["sequence"] == 2
    assert cancelled[uid]["status"] == "CANCELLED"


def test_a_feed_holds_only_its_practitioners_sessions(client, clock, location, practitioner, room) -> None:
    colleague = PractitionerFactory(locations=[location])
    services.session_book(
        course=CourseFactory(location=location, patient=PatientFactory()),
        practitioner=colleague,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )

    assert feed(client, practitioner) == {}
    assert len(feed(client, colleague)) == 1


def test_an_unknown_or_rotated_token_is_404(client, admin_user, practitioner) -> None:
    old_token = practitioner.calendar_token
    client.force_login(admin_user)
    client.post(
        "/admin/treatments/practitioner/",
        {"action": "rotate_calendar_links", "_selected_action": [str(practitioner.pk)]},
    )
    client.logout()
    practitioner.refresh_from_db()

    assert practitioner.calendar_token != old_token
    assert client.get(f"/calendar/{old_token}.ics").status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get(f"/calendar/{practitioner.calendar_token}.ics").status_code == 200
