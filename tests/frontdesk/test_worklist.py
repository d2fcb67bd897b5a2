"""The front desk's worklist: who must be booked next, by when, most urgent first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage
from aftercare.side_effects import side_effect_report_create
from frontdesk.worklist import worklist
from tests.factories import CourseFactory, PatientFactory, ScheduledMessageFactory, UserFactory
from tests.treatments.conftest import LONDON
from treatments import services

pytestmark = pytest.mark.django_db


def local(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


def on(day: date) -> datetime:
    """Noon on `day` in London, where the test clinic is."""
    return datetime.combine(day, time(12), tzinfo=LONDON)


def completed_session(course, practitioner, room, clock, starts_at):
    clock.move_to(starts_at - timedelta(hours=1))
    session = services.session_book(
        course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None
    )
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user)


def test_a_course_appears_when_its_window_opens_and_leaves_when_booked(clock, course, practitioner, room) -> None:
    done = completed_session(course, practitioner, room, clock, local(3))

    assert worklist(now=on(date(2026, 3, 16))) == [], "the window opens 14 days after the session"
    [row] = worklist(now=on(date(2026, 3, 17)))
    assert (row.kind, row.course_id, row.sessions_done, row.sessions_planned) == ("next_session", course.pk, 1, 4)
    assert (row.window_start, row.window_end, row.days_overdue) == (date(2026, 3, 17), date(2026, 3, 31), 0)
    assert row.practitioner_id == practitioner.pk

    clock.move_to(local(17, 9))
    services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=done.completed_at + timedelta(days=15),
        actor=None,
    )
    assert worklist(now=on(date(2026, 3, 17))) == []


def test_rows_are_sorted_red_flag_then_most_overdue_then_soonest_closing(
    clock, location, practitioner, room, protocol
) -> None:
    early = CourseFactory(location=location, patient=PatientFactory(last_name="Early"))
    late = CourseFactory(location=location, patient=PatientFactory(last_name="Late"))
    flagged = CourseFactory(location=location, patient=PatientFactory(last_name="Flagged"))
    completed_session(early, practitioner, room, clock, local(3, 10))
    completed_session(late, practitioner, room, clock, local(10, 10))
    session = completed_session(flagged, practitioner, room, clock, local(12, 10))
    side_effect_report_create(
        patient=flagged.patient,
        session=session,
        symptoms=["pus"],
        severity="moderate",
        onset_on=date(2026, 3, 12),
        actor=None,
    )

    rows = worklist(now=on(date(2026, 4, 10)))

    assert [(row.kind, row.patient_name.split()[-1]) for row in rows] == [
        ("red_flag", "Flagged"),
        ("next_session", "Early"),  # window closed 31 March: 10 days overdue
        ("next_session", "Late"),  # window closed 7 April: 3 days overdue
        ("next_session", "Flagged"),  # window closes 9 April: 1 day overdue
    ]
    assert [row.days_overdue for row in rows[1:]] == [10, 3, 1]


def test_maintenance_due_is_listed_with_its_window(clock, location, practitioner, room, protocol) -> None:
    course = CourseFactory(location=location, planned_sessions=3)
    start = local(3)
    for _ in range(3):
        last = completed_session(course, practitioner, room, clock, start)
        start = last.completed_at + timedelta(days=14)
    course.refresh_from_db()

    assert worklist(now=on(course.next_maintenance_earliest - timedelta(days=1))) == []
    [row] = worklist(now=on(course.next_maintenance_earliest))
    assert row.kind == "maintenance"
    assert (row.window_start, row.window_end) == (course.next_maintenance_earliest, course.next_maintenance_latest)


def test_the_worklist_api_filters_by_kind_location_and_practitioner(clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20))
    client = APIClient()
    client.force_login(UserFactory(username="desk", permissions=["treatments.view_course"]))

    body = client.get("/api/v1/worklist/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["course"] == str(course.pk)
    assert (row["window_start"], row["window_end"], row["days_overdue"]) == ("2026-03-17", "2026-03-31", 0)
    assert client.get("/api/v1/worklist/", {"kind": "red_flag"}).json()["count"] == 0
    assert client.get("/api/v1/worklist/", {"location": str(course.location_id)}).json()["count"] == 1
    other = "00000000-0000-0000-0000-000000000000"
    assert client.get("/api/v1/worklist/", {"practitioner": other}).json()["count"] == 0
    bad = client.get("/api/v1/worklist/", {"kind": "everything"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "kind"


def test_reading_the_worklist_needs_the_course_view_permission(clock) -> None:
    client = APIClient()
    client.force_login(UserFactory(username="nobody"))
    assert client.get("/api/v1/worklist/").status_code == 403


def test_the_worklist_page_links_a_booking_form_prefilled_in_the_window(
    client, admin_user, clock, course, practitioner, room
) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20, 9))
    client.force_login(admin_user)

    index = client.get(reverse("admin:index"))
    assert reverse("frontdesk:worklist") in index.content.decode()
    page = client.get(reverse("frontdesk:worklist"))
    assert page.status_code == 200
    [entry] = page.context["entries"]
    assert entry["row"].course_id == course.pk

    form = client.get(entry["book_url"], follow=True).context["adminform"].form
    assert str(form.initial["course"]) == str(course.pk)
    # The practitioner's first free slot: the clock reads 09:00 and the clinic opened at 08:00.
    assert form.initial["starts_at"] == local(20, 9)
    assert str(form.initial["practitioner"]) == str(practitioner.pk)
    assert str(form.initial["room"]) == str(room.pk)


def test_the_worklist_page_costs_the_same_queries_for_one_row_or_five(
    client, admin_user, clock, location, practitioner, room, django_assert_max_num_queries
) -> None:
    starts = [local(3, 9), local(3, 10), local(3, 11), local(3, 12), local(3, 13)]
    completed_session(CourseFactory(location=location), practitioner, room, clock, starts[0])
    clock.move_to(local(20, 9))
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as one_row:
        assert len(client.get(reverse("frontdesk:worklist")).context["entries"]) == 1
    for start in starts[1:]:
        completed_session(CourseFactory(location=location), practitioner, room, clock, start)
    clock.move_to(local(20, 9))
    client.force_login(admin_user)

    with django_assert_max_num_queries(len(one_row.captured_queries)):
        assert len(client.get(reverse("frontdesk:worklist")).context["entries"]) == 5


def test_a_book_link_for_a_course_without_an_open_window_is_404(client, admin_user, clock, course) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("frontdesk:worklist-book", args=[course.pk]))
    assert response.status_code == 404


def test_a_book_link_needs_the_permission_to_book(client, clock, course) -> None:
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_course"]))
    response = client.get(reverse("frontdesk:worklist-book", args=[course.pk]))
    assert response.status_code == 403


def test_last_contact_is_the_last_message_that_reached_the_patient_not_an_alert_to_staff(
    clock, course, practitioner, room
) -> None:
    session = completed_session(course, practitioner, room, clock, local(3))
    texted = ScheduledMessageFactory(
        patient=course.patient, status=MessageStatus.SENT, sent_at=local(4, 11), due_at=local(4, 11)
    )
    clock.move_to(local(5, 9))
    side_effect_report_create(
        patient=course.patient,
        session=session,
        symptoms=["pus"],
        severity="moderate",
        onset_on=date(2026, 3, 5),
        actor=None,
    )
    ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT).update(status=MessageStatus.SENT, sent_at=local(5))

    rows = worklist(now=on(date(2026, 3, 18)))

    assert {row.kind: row.last_contact_at for row in rows} == {
        "red_flag": texted.sent_at,
        "next_session": texted.sent_at,
    }


def test_the_worklist_page_offers_book_links_only_to_those_who_may_book(
    client, clock, course, practitioner, room
) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20, 9))
    client.force_login(UserFactory(username="dr.look", permissions=["treatments.view_course"]))

    page = client.get(reverse("frontdesk:worklist"))

    [entry] = page.context["entries"]
    assert entry["book_url"] is None
    assert "book-link" not in page.content.decode()
