"""The front desk's calendar: the JSON its page reads, the move a drag makes, and who may do what."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.urls import reverse

from aftercare.models import SideEffectReport
from clinic.roles import FRONT_DESK, PRACTITIONER
from patients.models import Consent, ConsentKind
from tests.factories import (
    CourseFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    UserFactory,
)
from tests.treatments.conftest import at, book, in_role
from treatments import services
from treatments.models import Session, SessionStatus

pytestmark = pytest.mark.django_db

EVENTS = "/frontdesk/calendar/events/"


def events(client, location, start="2026-03-02", end="2026-03-09", **extra):  # type: ignore[no-untyped-def]
    return client.get(EVENTS, {"location": str(location.pk), "start": start, "end": end, **extra})


def move_url(session: Session) -> str:
    return reverse("frontdesk:calendar-move", args=[session.pk])


def check_in_url(session: Session) -> str:
    return reverse("frontdesk:session-action", args=[session.pk, "check-in"])


def move(client, session, **body):  # type: ignore[no-untyped-def]
    return client.post(move_url(session), json.dumps(body), content_type="application/json")


@pytest.fixture
def desk(client):  # type: ignore[no-untyped-def]
    client.force_login(in_role(UserFactory(username="desk"), FRONT_DESK))
    return client


def test_a_week_shows_each_session_as_a_block_in_local_time_with_its_number_in_the_course(
    desk, clock, course, practitioner, room
) -> None:
    first = book(course, practitioner, room, at(3, 10))
    Session.objects.filter(pk=first.pk).update(status=SessionStatus.COMPLETED, completed_at=at(3, 11))
    second = book(course, practitioner, room, at(17, 14, 30))

    response = events(desk, course.location, start="2026-03-02", end="2026-04-01")

    assert response.status_code == 200
    blocks = {block["id"]: block for block in response.json()}
    assert set(blocks) == {str(first.pk), str(second.pk)}
    block = blocks[str(second.pk)]
    assert block["start"] == "2026-03-17T14:30:00"  # London wall clock, no offset
    assert block["resourceIds"] == [str(practitioner.pk)]
    assert block["title"] == f"{course.patient.first_name} {course.patient.last_name}"
    assert block["extendedProps"]["number"] == "2 of 4"
    assert block["extendedProps"]["protocol"] == course.protocol.name
    assert block["extendedProps"]["alerts"] == []
    assert block["editable"] is True
    assert blocks[str(first.pk)]["extendedProps"]["number"] == "1 of 4"
    assert blocks[str(first.pk)]["editable"] is False  # completed: not movable
    assert "status-completed" in blocks[str(first.pk)]["classNames"]


def test_blocks_carry_the_alerts_the_desk_must_see(desk, clock, course, practitioner, room) -> None:
    patient = course.patient
    session = book(course, practitioner, room, at(4, 10))
    # Since booked: a flag mentioned, the treatment consent revoked, a red-flag report.
    type(patient).objects.filter(pk=patient.pk).update(medical_flags=["pregnancy"])
    Consent.objects.filter(patient=patient, kind=ConsentKind.TREATMENT).update(revoked_at=at(2, 7))
    SideEffectReport.objects.create(
        patient=patient, symptoms=["swelling"], severity="severe", onset_on=date(2026, 3, 1), is_red_flag=True
    )

    (block,) = events(desk, course.location).json()

    assert block["id"] == str(session.pk)
    assert block["extendedProps"]["alerts"] == [
        "Red flag open",
        "Medical review needed",
        "Treatment consent needed",
    ]
    assert "alert-red_flag" in block["classNames"]


def test_columns_by_room_put_each_block_in_its_room(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(4, 10))

    (block,) = events(desk, course.location, by="room").json()

    assert block["id"] == str(session.pk)
    assert block["resourceIds"] == [str(room.pk)]


def test_a_week_of_a_ten_practitioner_location_costs_the_same_queries_at_any_size(
    desk, clock, location, protocol, django_assert_num_queries
) -> None:
    practitioners = [PractitionerFactory(locations=[location]) for _ in range(10)]
    rooms = [RoomFactory(location=location) for _ in range(10)]

    def fill(day: int) -> None:
        for index, (practitioner, room) in enumerate(zip(practitioners, rooms, strict=True)):
            course = CourseFactory(location=location, protocol=protocol, patient=PatientFactory())
            book(course, practitioner, room, at(day, 9 + index % 8))

    fill(3)
    # The login's session, its user with permissions, the location, whether the user is a practitioner, sessions.
    with django_assert_num_queries(5) as few:
        assert len(events(desk, location).json()) == 10
    for day in (4, 5, 6, 7):
        fill(day)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(events(desk, location).json()) == 50


def test_a_bad_range_or_location_is_a_400_naming_it(desk, location) -> None:
    for params, attr in [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-03-01"}, "end"),
        ({"end": "2026-06-01"}, "end"),
    ]:
        response = events(desk, location, **params)
        assert response.status_code == 400, params
        assert response.json()["attr"] == attr
    response = desk.get(EVENTS, {"location": "not-a-location", "start": "2026-03-02", "end": "2026-03-03"})
    assert response.status_code == 400
    assert response.json()["attr"] == "location"


def test_dragging_a_booked_session_moves_it_through_the_rules(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(4, 10))
    other = PractitionerFactory(locations=[course.location])

    response = move(desk, session, start="2026-03-04T15:15:00", by="practitioner", resource=str(other.pk))

    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.starts_at == at(4, 15, 15)
    assert session.practitioner_id == other.pk


def test_a_refused_move_changes_nothing_and_says_why_with_the_earliest_start(
    desk, clock, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3, 10))
    second = book(course, practitioner, room, at(20, 10))

    response = move(desk, second, start="2026-03-05T10:00:00")  # two days after the first: too soon

    assert response.status_code == 400
    body = response.json()
    assert "days" in body["detail"]
    assert body["earliest_start"].startswith("2026-03-17")
    second.refresh_from_db()
    assert second.starts_at == at(20, 10)


def test_a_move_onto_a_taken_slot_is_a_409_and_outside_opening_hours_a_400(
    desk, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(4, 10))
    other_course = CourseFactory(location=course.location, protocol=course.protocol)
    book(other_course, practitioner, room, at(4, 14))

    assert move(desk, session, start="2026-03-04T14:00:00").status_code == 409
    late = move(desk, session, start="2026-03-04T22:00:00")
    assert late.status_code == 400
    assert late.json()["detail"]
    session.refresh_from_db()
    assert session.starts_at == at(4, 10)


def test_only_those_who_may_change_sessions_may_move_them_and_the_page_says_so(
    client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(4, 10))
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_session"]))

    assert move(client, session, start="2026-03-04T11:00:00").status_code == 403
    (block,) = events(client, course.location).json()
    assert block["editable"] is False
    page = client.get("/frontdesk/calendar/", {"location": str(course.location.pk)})
    assert page.status_code == 200
    config = page.context["calendar_config"]
    assert config["mayMove"] is False
    session.refresh_from_db()
    assert session.starts_at == at(4, 10)


def test_the_page_and_its_events_need_the_session_view_permission(client, location) -> None:
    client.force_login(UserFactory(username="nobody"))

    assert client.get("/frontdesk/calendar/").status_code == 403
    assert events(client, location).status_code == 403


def test_the_page_lists_the_columns_and_opening_hours_for_the_calendar(
    desk, clock, location, practitioner, room
) -> None:
    RoomFactory(location=location, name="Room 2")
    PractitionerFactory(locations=[location], display_name="Dr Away", is_active=False)

    page = desk.get("/frontdesk/calendar/", {"location": str(location.pk), "date": "2026-03-04"})

    assert page.status_code == 200
    config = page.context["calendar_config"]
    assert config["resources"] == [{"id": str(practitioner.pk), "title": "Dr Evans"}]
    assert config["date"] == "2026-03-04"
    assert {"daysOfWeek": [1], "startTime": "08:00", "endTime": "20:00"} in config["businessHours"]
    assert (config["slotMinTime"], config["slotMaxTime"]) == ("08:00", "20:00")
    assert config["mayMove"] is True
    by_room = desk.get("/frontdesk/calendar/", {"location": str(location.pk), "by": "room"}).context["calendar_config"]
    assert [column["title"] for column in by_room["resources"]] == ["Room 1", "Room 2"]
    assert b"event-calendar.min.js" in page.content


def test_a_practitioner_may_complete_their_own_sessions_from_the_calendar_and_nobody_elses(
    client, clock, course, practitioner, room
) -> None:
    own = book(course, practitioner, room, at(4, 10))
    colleague = PractitionerFactory(locations=[course.location])
    other_course = CourseFactory(location=course.location, protocol=course.protocol)
    theirs = book(other_course, colleague, room, at(4, 14))
    client.force_login(in_role(practitioner.user, PRACTITIONER))

    blocks = {block["id"]: block["extendedProps"] for block in events(client, course.location).json()}

    assert blocks[str(own.pk)]["mayComplete"] is True
    assert blocks[str(theirs.pk)]["mayComplete"] is False


def test_the_desk_checks_a_patient_in_on_the_day_from_the_calendar(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(2, 14))  # today, at 14:00 (the clock says 08:00)
    tomorrow = book(CourseFactory(location=course.location, protocol=course.protocol), practitioner, room, at(3, 10))
    blocks = {block["id"]: block for block in events(desk, course.location).json()}
    assert blocks[str(session.pk)]["extendedProps"]["mayCheckIn"] is True
    assert blocks[str(tomorrow.pk)]["extendedProps"]["mayCheckIn"] is False  # not its day yet
    assert blocks[str(session.pk)]["extendedProps"]["mayComplete"] is False  # the desk does not complete

    clock.move_to(at(2, 13, 50))
    calendar_day = f"/frontdesk/calendar/?location={course.location.pk}&date=2026-03-02"
    response = desk.post(check_in_url(session), {"next": calendar_day})

    assert response.status_code == 302
    assert response["Location"] == calendar_day  # back to the calendar's day
    session.refresh_from_db()
    assert session.arrived_at == at(2, 13, 50)
    block = {b["id"]: b for b in events(desk, course.location).json()}[str(session.pk)]
    assert block["extendedProps"]["arrived"] is True
    assert block["extendedProps"]["arrivedAt"] == "13:50"
    assert "arrived" in block["classNames"]
    assert block["extendedProps"]["mayCheckIn"] is False
    early = desk.post(check_in_url(tomorrow), {"next": calendar_day}, follow=True)
    assert "day of the session" in early.content.decode()
    tomorrow.refresh_from_db()
    assert tomorrow.arrived_at is None


def test_checking_in_needs_the_permission_to_change_sessions(client, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(2, 14))
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_session"]))

    assert client.post(check_in_url(session)).status_code == 403
    session.refresh_from_db()
    assert session.arrived_at is None


def test_book_next_opens_the_calendar_at_the_courses_first_free_slot_with_the_patient_chosen(
    desk, clock, course, practitioner, room
) -> None:
    first = book(course, practitioner, room, at(3, 10))
    clock.move_to(at(3, 10, 45))
    services.session_complete(session=first, actor=practitioner.user)

    page = desk.get("/frontdesk/calendar/", {"location": str(course.location.pk), "course": str(course.pk)})

    suggestion = page.context["calendar_config"]["suggestion"]
    assert suggestion["course"] == str(course.pk)
    assert suggestion["practitioner"] == str(practitioner.pk)
    assert suggestion["room"] == str(room.pk)
    assert suggestion["start"] == "2026-03-17T08:00:00"  # the window opens 14 days on, at opening time
    assert page.context["calendar_config"]["date"] == suggestion["start"][:10]
    assert suggestion["patient"] == f"{course.patient.first_name} {course.patient.last_name}"
    # Someone who may not book is not offered it.
    viewer = UserFactory(username="viewer", permissions=["treatments.view_session"])
    desk.force_login(viewer)
    page = desk.get("/frontdesk/calendar/", {"location": str(course.location.pk), "course": str(course.pk)})
    assert page.context["calendar_config"]["suggestion"] is None


def test_a_started_booked_session_offers_no_show_and_any_booked_one_cancel(
    desk, clock, course, practitioner, room
) -> None:
    started = book(course, practitioner, room, at(2, 9))
    clock.move_to(at(2, 9, 30))

    blocks = {block["id"]: block["extendedProps"] for block in events(desk, course.location).json()}

    assert blocks[str(started.pk)]["mayNoShow"] is True
    assert blocks[str(started.pk)]["mayCancel"] is True


def test_the_treatment_starts_from_the_calendar_and_the_block_says_so(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(2, 9))
    clock.move_to(at(2, 9, 2))
    props = {b["id"]: b["extendedProps"] for b in events(desk, course.location).json()}[str(session.pk)]
    assert props["mayStartTreatment"] is True

    response = desk.post(
        reverse("frontdesk:session-action", args=[session.pk, "start-treatment"]), {"next": "/frontdesk/calendar/"}
    )

    assert response["Location"] == "/frontdesk/calendar/"
    session.refresh_from_db()
    assert session.treatment_started_at == at(2, 9, 2)
    assert session.arrived_at == at(2, 9, 2)  # not checked in at the desk: arrived as they went in
    block = {b["id"]: b for b in events(desk, course.location).json()}[str(session.pk)]
    assert block["extendedProps"]["statusLabel"] == "In treatment"
    assert "in-treatment" in block["classNames"]
    assert block["extendedProps"]["mayStartTreatment"] is False
    assert block["extendedProps"]["mayNoShow"] is False  # they came


def test_a_session_the_patient_confirmed_reads_confirmed_until_they_arrive(
    desk, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(2, 10))
    before = {b["id"]: b for b in events(desk, course.location).json()}[str(session.pk)]
    assert before["extendedProps"]["statusLabel"] == "Booked"

    services.session_confirm(session=session, actor=None)  # the patient texted C

    block = {b["id"]: b for b in events(desk, course.location).json()}[str(session.pk)]
    assert (block["extendedProps"]["statusLabel"], block["extendedProps"]["confirmed"]) == ("Confirmed", True)
    assert "confirmed" in block["classNames"]
    services.session_check_in(session=session, actor=None)
    arrived = {b["id"]: b for b in events(desk, course.location).json()}[str(session.pk)]
    assert arrived["extendedProps"]["statusLabel"] == "Arrived"
