"""Courses: /api/v1/courses/ starts a course, lists and filters them, shows a
course's sessions, and cancels one (with its booked sessions).

A course planned outside its protocol's bounds is refused by the
session-count rule, named, with why in words; a bad field is a 400 naming it;
after any refusal the database is exactly as it was. The list costs the same
queries however many courses there are.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London, so bookings lie in the future and completions
can come after the start.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.utils import timezone

from integrations.services import api_key_create
from tests.api_assertions import assert_client_error, assert_validation_error, listed_ids, parse_api_datetime
from tests.factories import CourseFactory, LocationFactory, PatientFactory, SessionFactory
from tests.treatments.api_helpers import (
    COURSES_URL,
    action_url,
    assert_rule_violation,
    count_queries,
    course_row,
    detail_url,
    peel_protocol,
    session_row,
)
from tests.treatments.conftest import at, book
from treatments import services
from treatments.models import Course, CourseStatus, Protocol, SessionStatus, TreatmentCategory

pytestmark = pytest.mark.django_db


def new_course_body(patient, protocol, location, **extra: Any) -> dict[str, Any]:
    return {"patient": str(patient.pk), "protocol": str(protocol.pk), "location": str(location.pk), **extra}


def test_starting_a_course_defaults_to_the_protocols_session_count(treatments_client, location, protocol) -> None:
    patient = PatientFactory()

    response = treatments_client.post(COURSES_URL, new_course_body(patient, protocol, location, notes="Dull skin"))

    assert response.status_code == 201, response.content
    body = response.json()
    course = Course.objects.get()
    assert body["id"] == str(course.pk)
    assert (body["patient"], body["protocol"], body["location"]) == (
        str(patient.pk),
        str(protocol.pk),
        str(location.pk),
    )
    assert (body["planned_sessions"], body["sessions_done"], body["status"], body["sessions"]) == (4, 0, "planned", [])
    assert (course.planned_sessions, course.status, course.notes) == (4, CourseStatus.PLANNED, "Dull skin")
    assert parse_api_datetime(body["created_at"]) == timezone.now()


def test_a_course_may_plan_any_count_inside_the_protocols_bounds(treatments_client, location, protocol) -> None:
    response = treatments_client.post(
        COURSES_URL, new_course_body(PatientFactory(), protocol, location, planned_sessions=6)
    )

    assert response.status_code == 201, response.content
    assert Course.objects.get().planned_sessions == 6


@pytest.mark.parametrize("planned", [2, 7])
def test_a_course_planned_outside_the_protocols_bounds_is_refused_by_the_session_count_rule(
    treatments_client, location, protocol, planned
) -> None:
    response = treatments_client.post(
        COURSES_URL, new_course_body(PatientFactory(), protocol, location, planned_sessions=planned)
    )

    body = assert_rule_violation(response, "session_count", earliest_start=None)
    assert body["errors"][0]["attr"] == "planned_sessions"
    assert "3 to 6" in body["errors"][0]["detail"]
    assert not Course.objects.exists()


BAD_COURSE_FIELDS = [
    pytest.param({"patient": str(uuid.uuid4())}, "patient", id="unknown-patient"),
    pytest.param({"patient": "not-a-uuid"}, "patient", id="patient-not-a-uuid"),
    pytest.param({"patient": None}, "patient", id="patient-null"),
    pytest.param({"protocol": str(uuid.uuid4())}, "protocol", id="unknown-protocol"),
    pytest.param({"location": ["a"]}, "location", id="location-as-a-list"),
    pytest.param({"planned_sessions": "four"}, "planned_sessions", id="planned-sessions-as-a-word"),
    pytest.param({"planned_sessions": 0}, "planned_sessions", id="planned-sessions-zero"),
    pytest.param({"planned_sessions": 4.5}, "planned_sessions", id="planned-sessions-fraction"),
    pytest.param({"notes": {"text": "x"}}, "notes", id="notes-as-an-object"),
    pytest.param({"status": "active"}, "status", id="unknown-field-status"),
]


@pytest.mark.parametrize(("fields", "attr"), BAD_COURSE_FIELDS)
def test_a_bad_course_field_is_a_400_naming_it_and_starts_nothing(
    treatments_client, location, protocol, fields, attr
) -> None:
    response = treatments_client.post(COURSES_URL, {**new_course_body(PatientFactory(), protocol, location), **fields})

    assert_validation_error(response, attr)
    assert not Course.objects.exists()


def test_a_course_without_a_protocol_is_refused(treatments_client, location) -> None:
    response = treatments_client.post(COURSES_URL, {"patient": str(PatientFactory().pk), "location": str(location.pk)})

    assert_validation_error(response, "protocol")
    assert not Course.objects.exists()


def test_a_course_on_a_withdrawn_protocol_or_at_a_closed_location_is_refused(
    treatments_client, location, protocol
) -> None:
    closed = LocationFactory(is_active=False)
    withdrawn = peel_protocol()
    withdrawn.is_active = False
    withdrawn.save()

    assert_validation_error(
        treatments_client.post(COURSES_URL, new_course_body(PatientFactory(), withdrawn, location)), "protocol"
    )
    assert_validation_error(
        treatments_client.post(COURSES_URL, new_course_body(PatientFactory(), protocol, closed)), "location"
    )
    assert not Course.objects.exists()


def test_courses_filter_by_patient_protocol_location_and_repeated_status(treatments_client, location, protocol) -> None:
    patient = PatientFactory()
    planned = CourseFactory(patient=patient, location=location)
    active = CourseFactory(location=location, status=CourseStatus.ACTIVE)
    cancelled = CourseFactory(status=CourseStatus.CANCELLED)
    peel = CourseFactory(patient=patient, location=location, protocol=peel_protocol(), status=CourseStatus.ACTIVE)

    def ids(**params: Any) -> set[str]:
        return set(listed_ids(treatments_client.get(COURSES_URL, params)))

    assert ids(patient=str(patient.pk)) == {str(planned.pk), str(peel.pk)}
    assert ids(protocol=str(protocol.pk)) == {str(planned.pk), str(active.pk), str(cancelled.pk)}
    assert ids(location=str(location.pk)) == {str(planned.pk), str(active.pk), str(peel.pk)}
    assert ids(status=["active", "cancelled"]) == {str(active.pk), str(cancelled.pk), str(peel.pk)}
    assert ids(status="planned", patient=str(patient.pk)) == {str(planned.pk)}
    assert_validation_error(treatments_client.get(COURSES_URL, {"status": "finished"}), "status")
    assert_validation_error(treatments_client.get(COURSES_URL, {"patient": "someone"}), "patient")


def test_a_course_shows_its_sessions_oldest_first_and_how_many_are_done(
    treatments_client, clock, course, practitioner, room
) -> None:
    first = book(course, practitioner, room, at(3))
    second = book(course, practitioner, room, at(17))
    clock.move_to(first.ends_at)
    services.session_complete(session=first, actor=first.practitioner.user)

    body = treatments_client.get(detail_url(COURSES_URL, course.pk)).json()

    assert body["sessions"] == [str(first.pk), str(second.pk)]
    assert (body["sessions_done"], body["status"]) == (1, "active")


def test_cancelling_a_course_cancels_its_booked_sessions_and_keeps_the_done_ones(
    treatments_client, clock, course, practitioner, room
) -> None:
    done = book(course, practitioner, room, at(3))
    upcoming = book(course, practitioner, room, at(17))
    clock.move_to(done.ends_at)
    services.session_complete(session=done, actor=done.practitioner.user)

    response = treatments_client.post(action_url(COURSES_URL, course.pk, "cancel"), {"reason": "Moving abroad"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "Moving abroad")
    assert parse_api_datetime(body["cancelled_at"]) == timezone.now()
    upcoming.refresh_from_db()
    done.refresh_from_db()
    assert (upcoming.status, upcoming.cancel_reason, upcoming.cancel_note) == (
        SessionStatus.CANCELLED,
        "course_cancelled",
        "Moving abroad",
    )
    assert done.status == SessionStatus.COMPLETED


def test_cancelling_a_cancelled_course_is_a_409_and_changes_nothing(treatments_client, course) -> None:
    services.course_cancel(course=course, reason="First time", actor=None)
    before = course_row(course)

    response = treatments_client.post(action_url(COURSES_URL, course.pk, "cancel"), {"reason": "Again"})

    assert_client_error(response, 409, "invalid_state")
    assert course_row(course) == before


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({}, "reason", id="no-reason"),
        pytest.param({"reason": ""}, "reason", id="blank-reason"),
        pytest.param({"reason": None}, "reason", id="null-reason"),
        pytest.param({"reason": ["a"]}, "reason", id="reason-as-a-list"),
        pytest.param({"reason": "x", "note": "y"}, "note", id="unknown-field"),
    ],
)
def test_a_course_cancel_without_a_proper_reason_is_refused_and_changes_nothing(
    treatments_client, clock, course, practitioner, room, body, attr
) -> None:
    session = book(course, practitioner, room, at(3))
    before_course, before_session = course_row(course), session_row(session)

    response = treatments_client.post(action_url(COURSES_URL, course.pk, "cancel"), body)

    assert_validation_error(response, attr)
    assert course_row(course) == before_course
    assert session_row(session) == before_session


# --- Query counts: the list does not grow with rows -----------------------------------


def test_the_course_list_costs_the_same_queries_for_3_or_15_courses(
    treatments_client, location, django_assert_num_queries
) -> None:
    def course_with_sessions() -> None:
        course = CourseFactory(location=location)
        SessionFactory(course=course)
        SessionFactory(course=course, status=SessionStatus.COMPLETED, completed_at=timezone.now())

    for _ in range(3):
        course_with_sessions()
    few, response = count_queries(treatments_client, COURSES_URL)
    assert len(response.json()["results"]) == 3
    for _ in range(12):
        course_with_sessions()

    with django_assert_num_queries(few):
        response = treatments_client.get(COURSES_URL)

    assert len(response.json()["results"]) == 15
    assert all(len(row["sessions"]) == 2 and row["sessions_done"] == 1 for row in response.json()["results"])


def test_a_second_course_of_a_protocol_in_progress_is_a_409_and_starts_nothing(
    treatments_client, location, protocol
) -> None:
    patient = PatientFactory()
    first = treatments_client.post(COURSES_URL, new_course_body(patient, protocol, location))
    assert first.status_code == 201, first.content

    second = treatments_client.post(COURSES_URL, new_course_body(patient, protocol, location))

    assert_client_error(second, 409, "invalid_state")
    assert "already has a course of Facial mesotherapy in progress (planned" in second.json()["errors"][0]["detail"]
    assert Course.objects.count() == 1
    # Once that course is over (cancelled here), a new one may start.
    services.course_cancel(course=Course.objects.get(), reason="Started again", actor=None)
    assert treatments_client.post(COURSES_URL, new_course_body(patient, protocol, location)).status_code == 201


def test_ten_simultaneous_starts_of_one_course_make_exactly_one(live_server) -> None:
    """Real concurrent requests against the real database: the partial unique constraint lets one through."""
    category, _ = TreatmentCategory.objects.get_or_create(code="mesotherapy", defaults={"name": "Mesotherapy"})
    protocol = Protocol.objects.create(
        name="Race course",
        category=category,
        min_sessions=3,
        max_sessions=6,
        default_sessions=4,
        min_spacing_days=14,
        max_spacing_days=28,
        maintenance_min_days=90,
        maintenance_max_days=180,
        session_duration_minutes=45,
    )
    location, patient = LocationFactory(), PatientFactory()
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    contenders = 10
    barrier = threading.Barrier(contenders, timeout=30)

    def attempt(_: int) -> int:
        barrier.wait()
        body = json.dumps(new_course_body(patient, protocol, location))
        return requests.post(f"{live_server.url}{COURSES_URL}", data=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        statuses = sorted(pool.map(attempt, range(contenders)))

    assert statuses == [201] + [409] * (contenders - 1)
    assert Course.objects.filter(patient=patient, protocol=protocol).count() == 1
