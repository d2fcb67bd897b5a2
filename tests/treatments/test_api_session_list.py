"""Reading sessions: GET /api/v1/sessions/.

Every state is listed with its FHIR status and times with an explicit offset;
the list filters by dates, people, rooms, courses, status and what changed
since a sync, orders by start and pages; a bad filter is a 400 naming the
parameter. The list costs the same queries however many sessions there are.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.api_assertions import assert_client_error, assert_validation_error, listed_ids, parse_api_datetime, results
from tests.factories import CourseFactory, PractitionerFactory, ProductLotFactory, RoomFactory, SessionFactory
from tests.treatments.api_helpers import SESSIONS_URL, action_url, count_queries
from tests.treatments.conftest import at, book
from treatments import services
from treatments.models import Course, RuleOverride, Session, SessionProductUse, SessionStatus

pytestmark = pytest.mark.django_db


# --- Filters, ordering, pagination, statuses ------------------------------------------


def test_the_session_list_shows_every_state_with_its_fhir_status_and_offset_times(
    treatments_client, clock, location, practitioner, room
) -> None:
    booked, completed, cancelled, no_show = (
        book(CourseFactory(location=location), practitioner, room, at(3, hour)) for hour in (10, 11, 12, 13)
    )
    clock.move_to(at(3, 14))
    services.session_complete(session=completed, actor=completed.practitioner.user)
    services.session_cancel(session=cancelled, reason="practitioner_unavailable", actor=None)
    services.session_mark_no_show(session=no_show, actor=None)

    rows = {row["id"]: row for row in results(treatments_client.get(SESSIONS_URL))}

    assert {pk: (row["status"], row["fhir_status"]) for pk, row in rows.items()} == {
        str(booked.pk): ("booked", "booked"),
        str(completed.pk): ("completed", "fulfilled"),
        str(cancelled.pk): ("cancelled", "cancelled"),
        str(no_show.pk): ("no_show", "noshow"),
    }
    for row in rows.values():
        for key in ("starts_at", "ends_at", "created_at", "updated_at"):
            parse_api_datetime(row[key])
    assert parse_api_datetime(rows[str(completed.pk)]["completed_at"]) == at(3, 14)
    assert parse_api_datetime(rows[str(cancelled.pk)]["cancelled_at"]) == at(3, 14)
    assert parse_api_datetime(rows[str(no_show.pk)]["no_show_at"]) == at(3, 14)


def test_sessions_filter_by_a_start_date_range(treatments_client, location, practitioner, room) -> None:
    early, middle, late = (
        book(CourseFactory(location=location), practitioner, room, when) for when in (at(3), at(5), at(7))
    )

    def ids(**params: Any) -> list[str]:
        return listed_ids(treatments_client.get(SESSIONS_URL, params))

    assert ids(starts_after=at(5).isoformat()) == [str(middle.pk), str(late.pk)]  # inclusive
    assert ids(starts_before=at(5).isoformat()) == [str(early.pk)]  # exclusive
    assert ids(starts_after=at(4).isoformat(), starts_before=at(6).isoformat()) == [str(middle.pk)]
    assert ids(starts_after="2026-03-05T09:30:00-01:00") == [str(late.pk)]


def test_sessions_filter_by_practitioner_patient_room_and_course(
    treatments_client, location, practitioner, room
) -> None:
    colleague = PractitionerFactory(locations=[location])
    mine = book(CourseFactory(location=location), practitioner, room, at(3))
    theirs = book(CourseFactory(location=location), colleague, RoomFactory(location=location), at(3))

    def ids(**params: Any) -> list[str]:
        return listed_ids(treatments_client.get(SESSIONS_URL, params))

    assert ids(practitioner=str(practitioner.pk)) == [str(mine.pk)]
    assert ids(practitioner=str(colleague.pk)) == [str(theirs.pk)]
    assert ids(patient=str(theirs.course.patient_id)) == [str(theirs.pk)]
    assert ids(room=str(room.pk)) == [str(mine.pk)]
    assert ids(course=str(mine.course_id)) == [str(mine.pk)]
    assert ids(patient=str(uuid.uuid4())) == []


def test_sessions_filter_by_repeated_status(treatments_client, clock, location, practitioner, room) -> None:
    booked, cancelled, no_show = (
        book(CourseFactory(location=location), practitioner, room, at(3, hour)) for hour in (10, 11, 12)
    )
    services.session_cancel(session=cancelled, reason="other", actor=None)
    clock.move_to(at(3, 12, 30))
    services.session_mark_no_show(session=no_show, actor=None)

    def ids(query: str) -> set[str]:
        return set(listed_ids(treatments_client.get(f"{SESSIONS_URL}?{query}")))

    assert ids("status=booked") == {str(booked.pk)}
    assert ids("status=cancelled&status=no_show") == {str(cancelled.pk), str(no_show.pk)}
    assert ids("status=completed") == set()


def test_sessions_filter_by_updated_since_for_incremental_sync(
    treatments_client, clock, location, practitioner, room
) -> None:
    untouched = book(CourseFactory(location=location), practitioner, room, at(3))
    changed = book(CourseFactory(location=location), practitioner, room, at(4))
    clock.move_to(at(2, 9))
    moved = treatments_client.post(
        action_url(SESSIONS_URL, changed.pk, "reschedule"), {"starts_at": at(4, 15).isoformat()}
    )
    assert moved.status_code == 200

    since_change = treatments_client.get(SESSIONS_URL, {"updated_since": at(2, 9).isoformat()})
    since_start = treatments_client.get(SESSIONS_URL, {"updated_since": at(2, 8).isoformat()})

    assert listed_ids(since_change) == [str(changed.pk)]
    assert set(listed_ids(since_start)) == {str(untouched.pk), str(changed.pk)}
    assert parse_api_datetime(results(since_change)[0]["updated_at"]) == at(2, 9)


def test_sessions_are_ordered_by_start_and_paged(treatments_client, location, practitioner, room) -> None:
    sessions = [book(CourseFactory(location=location), practitioner, room, at(3, hour)) for hour in (14, 10, 12)]
    by_start = [str(s.pk) for s in sorted(sessions, key=lambda s: s.starts_at)]

    assert listed_ids(treatments_client.get(SESSIONS_URL)) == by_start
    assert listed_ids(treatments_client.get(SESSIONS_URL, {"ordering": "-starts_at"})) == by_start[::-1]
    first = treatments_client.get(SESSIONS_URL, {"page_size": 2})
    second = treatments_client.get(SESSIONS_URL, {"page_size": 2, "page": 2})
    assert first.json()["count"] is None  # known on the last page, or with count=true
    assert second.json()["count"] == 3
    assert listed_ids(first) == by_start[:2]
    assert first.json()["next"] is not None
    assert listed_ids(second) == by_start[2:]
    assert second.json()["next"] is None
    assert_client_error(treatments_client.get(SESSIONS_URL, {"page": 9}), 404, "not_found")


@pytest.mark.parametrize(
    ("params", "attr"),
    [
        pytest.param({"starts_after": "next week"}, "starts_after", id="starts-after-in-words"),
        pytest.param({"starts_before": "2026-13-01T00:00:00Z"}, "starts_before", id="starts-before-month-13"),
        pytest.param({"status": "done"}, "status", id="unknown-status"),
        pytest.param({"practitioner": "dr-evans"}, "practitioner", id="practitioner-not-a-uuid"),
        pytest.param({"practitioner": str(uuid.uuid4())}, "practitioner", id="unknown-practitioner"),
        pytest.param({"patient": "12"}, "patient", id="patient-not-a-uuid"),
        pytest.param({"updated_since": "yesterday"}, "updated_since", id="updated-since-in-words"),
    ],
)
def test_a_bad_session_filter_is_a_400_naming_the_parameter(treatments_client, params, attr) -> None:
    assert_validation_error(treatments_client.get(SESSIONS_URL, params), attr)


# --- Query counts: the list does not grow with rows -----------------------------------


def completed_session_with_lot_and_override(course: Course) -> Session:
    """A done session carrying a product use and an override, so every prefetch has work to do."""
    session = SessionFactory(course=course, status=SessionStatus.COMPLETED, completed_at=timezone.now())
    SessionProductUse.objects.create(session=session, lot=ProductLotFactory(), quantity=Decimal("1"))
    RuleOverride.objects.create(
        session=session, rule="spacing", reason="r", practitioner=session.practitioner, rule_message="m"
    )
    return session


def test_the_session_list_costs_the_same_queries_for_3_or_15_sessions(
    treatments_client, course, django_assert_num_queries
) -> None:
    for _ in range(3):
        completed_session_with_lot_and_override(course)
    few, response = count_queries(treatments_client, SESSIONS_URL)
    assert len(response.json()["results"]) == 3
    for _ in range(12):
        completed_session_with_lot_and_override(course)

    with django_assert_num_queries(few):
        response = treatments_client.get(SESSIONS_URL)

    assert len(response.json()["results"]) == 15
    assert all(len(row["product_uses"]) == 1 and len(row["overrides"]) == 1 for row in response.json()["results"])
