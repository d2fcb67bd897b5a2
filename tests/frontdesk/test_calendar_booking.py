"""Booking from the calendar: the rules' verdict before saving (nothing written), then the booking itself."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from aftercare.models import ScheduledMessage
from clinic.roles import FRONT_DESK
from tests.factories import CourseFactory, PatientFactory, UserFactory
from tests.treatments.conftest import at, book, in_role
from treatments.models import Course, CourseStatus, Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):  # type: ignore[no-untyped-def]
    client.force_login(in_role(UserFactory(username="desk"), FRONT_DESK))
    return client


def post(client, name: str, **body):  # type: ignore[no-untyped-def]
    return client.post(reverse(f"frontdesk:{name}"), json.dumps(body), content_type="application/json")


def booking(course, practitioner, room, start: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"course": str(course.pk), "practitioner": str(practitioner.pk), "room": str(room.pk), "start": start}


def test_the_verdict_of_an_allowed_booking_writes_nothing(desk, clock, course, practitioner, room) -> None:
    messages_before = ScheduledMessage.objects.count()

    response = post(desk, "calendar-check", **booking(course, practitioner, room, "2026-03-03T10:00:00"))

    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert not Session.objects.exists()
    assert ScheduledMessage.objects.count() == messages_before
    course.refresh_from_db()
    assert course.status == CourseStatus.PLANNED


def test_a_spacing_refusal_says_why_and_gives_the_earliest_start_then_booking_there_works(
    desk, clock, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3, 10))

    verdict = post(desk, "calendar-check", **booking(course, practitioner, room, "2026-03-05T10:00:00"))

    assert verdict.status_code == 400
    body = verdict.json()
    assert body["ok"] is False
    assert body["rule"] == "spacing"
    assert body["earliest_start"].startswith("2026-03-17")
    assert Session.objects.count() == 1

    assert body["earliest_start"].endswith(":00")  # a whole minute, rounded up
    booked = post(desk, "calendar-book", **booking(course, practitioner, room, body["earliest_start"]))

    assert booked.status_code == 201, booked.content
    session = Session.objects.get(pk=booked.json()["id"])
    assert session.starts_at.astimezone(course.location.time_zone).isoformat().startswith(body["earliest_start"])


def test_an_earliest_start_with_seconds_is_offered_at_the_next_whole_minute(
    desk, clock, course, practitioner, room
) -> None:
    first = book(course, practitioner, room, at(3, 10))
    Session.objects.filter(pk=first.pk).update(starts_at=at(3, 10, 0).replace(second=37, microsecond=5))

    body = post(desk, "calendar-check", **booking(course, practitioner, room, "2026-03-05T10:00:00")).json()

    assert body["earliest_start"] == "2026-03-17T10:01:00"
    assert post(desk, "calendar-check", **booking(course, practitioner, room, body["earliest_start"])).json()["ok"]


def test_a_taken_slot_is_a_409_and_bad_bodies_are_400s_naming_the_field(
    desk, clock, course, practitioner, room
) -> None:
    other = CourseFactory(location=course.location, protocol=course.protocol)
    book(other, practitioner, room, at(3, 10))

    taken = post(desk, "calendar-check", **booking(course, practitioner, room, "2026-03-03T10:15:00"))
    assert taken.status_code == 409
    assert taken.json()["ok"] is False
    for field, value in [("course", "nope"), ("room", ""), ("start", "tomorrow")]:
        body = {**booking(course, practitioner, room, "2026-03-03T12:00:00"), field: value}
        refused = post(desk, "calendar-book", **body)
        assert refused.status_code == 400, field
        assert refused.json()["attr"] == field
    assert Session.objects.count() == 1


def test_booking_needs_the_permission_to_book(client, clock, course, practitioner, room) -> None:
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_session"]))

    for name in ("calendar-check", "calendar-book"):
        assert post(client, name, **booking(course, practitioner, room, "2026-03-03T10:00:00")).status_code == 403
    assert not Session.objects.exists()


def test_the_dialog_lists_the_courses_of_a_patient_that_take_a_session(desk, clock, course) -> None:
    CourseFactory(patient=course.patient, location=course.location, status=CourseStatus.CANCELLED)

    response = desk.get(reverse("frontdesk:patient-courses", args=[course.patient.pk]))

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == str(course.pk)
    assert course.protocol.name in row["label"]


def test_a_course_is_started_from_the_dialog_and_a_second_one_in_progress_is_refused_in_words(
    desk, clock, course
) -> None:
    patient = PatientFactory()
    body = {"patient": str(patient.pk), "protocol": str(course.protocol.pk), "location": str(course.location.pk)}

    started = post(desk, "calendar-start-course", **body)

    assert started.status_code == 201, started.content
    new = Course.objects.get(pk=started.json()["id"])
    assert (new.patient, new.status) == (patient, CourseStatus.PLANNED)
    again = post(desk, "calendar-start-course", **body)
    assert again.status_code in (400, 409)
    assert again.json()["ok"] is False and again.json()["detail"]
    assert Course.objects.filter(patient=patient).count() == 1
    assert post(desk, "calendar-start-course", **{**body, "protocol": "nope"}).json()["attr"] == "protocol"


def test_starting_a_course_needs_the_permission(client, clock, course) -> None:
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_session"]))
    body = {"patient": str(course.patient.pk), "protocol": str(course.protocol.pk), "location": str(course.location.pk)}

    assert post(client, "calendar-start-course", **body).status_code == 403
