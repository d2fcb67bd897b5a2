"""A course's follow-up state has one definition (treatments.followup), and every door reads it.

The API, the worklist and the messages patients receive must agree on how
many sessions are done and on the next window, whatever happened to the
course: a session done, a maintenance session done, a booking cancelled, a
patient who did not come. Each story below reads all three.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from aftercare.rendering import format_day, message_context
from frontdesk.worklist import worklist
from tests.factories import CourseFactory, UserFactory
from tests.treatments.conftest import LONDON, book
from treatments import services
from treatments.followup import MAINTENANCE, NEXT_SESSION, course_followup, courses_awaiting_booking
from treatments.models import CancelReason, Course, CourseStatus

pytestmark = pytest.mark.django_db


def local(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


def complete(course, practitioner, room, clock, starts_at):
    clock.move_to(starts_at - timedelta(hours=1))
    session = book(course, practitioner, room, starts_at)
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user)


def what_each_door_says(course: Course) -> dict[str, object]:
    """Sessions done and the next window, as the API, the worklist and the messages tell them."""
    client = APIClient()
    client.force_login(UserFactory(permissions=["treatments.view_course"]))
    api = client.get(f"/api/v1/courses/{course.pk}/").json()
    [row] = [row for row in worklist() if row.course_id == course.pk] or [None]
    context = message_context(patient=course.patient, course=course, session=None)
    return {
        "api": (api["sessions_done"], api["next_window_start"], api["next_window_end"]),
        "worklist": (row.sessions_done, str(row.window_start), str(row.window_end)) if row else None,
        "messages": (
            course.planned_sessions - context["sessions_remaining"] if course.status != "maintenance" else None,
            context["next_window_start"],
            context["next_window_end"],
        ),
    }


def assert_agreed(course: Course, *, done: int, window: tuple[date, date], on_worklist: bool = True) -> None:
    course.refresh_from_db()
    said = what_each_door_says(course)
    start, end = (day.isoformat() for day in window)
    assert said["api"] == (done, start, end)
    assert said["worklist"] == ((done, start, end) if on_worklist else None)
    expected_done = done if course.status != CourseStatus.MAINTENANCE else None
    assert said["messages"] == (expected_done, format_day(window[0]), format_day(window[1]))


def test_an_active_course_with_its_window_open(clock, course, practitioner, room) -> None:
    complete(course, practitioner, room, clock, local(3))
    clock.move_to(local(18, 12))

    followup = course_followup(course)
    assert (followup.kind, followup.sessions_done, followup.sessions_remaining) == (NEXT_SESSION, 1, 3)
    assert_agreed(course, done=1, window=(date(2026, 3, 17), date(2026, 3, 31)))


def test_a_course_in_maintenance_counts_course_sessions_only(clock, location, practitioner, room, protocol) -> None:
    course = CourseFactory(location=location, protocol=protocol, planned_sessions=3)
    start = local(3)
    for _ in range(3):
        start = complete(course, practitioner, room, clock, start).completed_at + timedelta(days=14)
    course.refresh_from_db()
    assert course.status == CourseStatus.MAINTENANCE
    first_window = (course.next_maintenance_earliest, course.next_maintenance_latest)
    opens = datetime.combine(first_window[0], datetime.min.time(), tzinfo=LONDON)
    clock.move_to(opens + timedelta(hours=12))
    assert course_followup(course).kind == MAINTENANCE
    assert_agreed(course, done=3, window=first_window)

    # A maintenance session is not a course session: the count stays at 3 and the window moves on.
    complete(course, practitioner, room, clock, opens + timedelta(days=1, hours=10))
    course.refresh_from_db()
    followup = course_followup(course)
    assert (followup.sessions_done, followup.maintenance_done) == (3, 1)
    second_window = (course.next_maintenance_earliest, course.next_maintenance_latest)
    assert second_window[0] > first_window[0]
    clock.move_to(datetime.combine(second_window[0], datetime.min.time(), tzinfo=LONDON) + timedelta(hours=12))
    assert_agreed(course, done=3, window=second_window)


def test_after_the_next_booking_is_cancelled_the_course_is_back_with_the_same_window(
    clock, course, practitioner, room
) -> None:
    done = complete(course, practitioner, room, clock, local(3))
    clock.move_to(local(17, 9))
    booked = book(course, practitioner, room, done.completed_at + timedelta(days=15))
    assert course_followup(course).is_booked
    assert courses_awaiting_booking() == []

    services.session_cancel(session=booked, reason=CancelReason.PATIENT_REQUEST, actor=None)

    assert_agreed(course, done=1, window=(date(2026, 3, 17), date(2026, 3, 31)))


def test_after_a_no_show_the_course_is_back_with_the_same_window(clock, course, practitioner, room) -> None:
    done = complete(course, practitioner, room, clock, local(3))
    clock.move_to(local(17, 9))
    booked = book(course, practitioner, room, done.completed_at + timedelta(days=15))
    clock.move_to(booked.starts_at + timedelta(minutes=20))

    services.session_mark_no_show(session=booked, actor=None)

    assert_agreed(course, done=1, window=(date(2026, 3, 17), date(2026, 3, 31)))


def test_a_planned_or_cancelled_course_has_no_window(clock, course, practitioner, room) -> None:
    assert course_followup(course).window is None
    complete(course, practitioner, room, clock, local(3))
    services.course_cancel(course=course, reason="Moved away", actor=None)

    followup = course_followup(course)
    assert (followup.kind, followup.window, followup.sessions_done, followup.sessions_remaining) == (None, None, 1, 0)


def test_today_is_the_date_at_the_courses_location(clock, location, practitioner, room, protocol) -> None:
    """The window opens on 17 March in London; at 23:30 on the 16th UTC it is already the 17th in Sydney."""
    sydney = CourseFactory(location=location, protocol=protocol)
    complete(sydney, practitioner, room, clock, local(3))
    clock.move_to(datetime(2026, 3, 16, 23, 30, tzinfo=LONDON))
    assert courses_awaiting_booking() == [], "16 March, 23:30 in London: not yet"
    location.time_zone = "Australia/Sydney"
    location.save()

    [waiting] = courses_awaiting_booking()
    assert (waiting.course.pk, waiting.today) == (sydney.pk, date(2026, 3, 17))
