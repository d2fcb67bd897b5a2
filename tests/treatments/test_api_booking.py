"""Booking a session: POST /api/v1/sessions/.

A rule refusal names the rule, says why in words and gives the earliest
allowed start; a practitioner may override the rules that allow it, with a
reason that is recorded; a taken slot is a 409 naming the clashing session,
and of twenty simultaneous bookings of one slot exactly one gets through.
After any refusal the database is exactly as it was.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London, so bookings lie in the future; the race runs
against a real server on the real clock.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.services import api_key_create
from tests.api_assertions import assert_client_error, assert_validation_error, parse_api_datetime
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    UserFactory,
)
from tests.treatments.api_helpers import (
    COURSES_URL,
    SESSIONS_URL,
    TREATMENT_PERMISSIONS,
    action_url,
    assert_rule_violation,
    assert_slot_taken,
    booking_body,
    course_row,
    detail_url,
    peel_protocol,
    reschedule,
    session_row,
    table_counts,
)
from tests.treatments.conftest import LONDON, at, book
from treatments import services
from treatments.models import (
    Course,
    CourseStatus,
    MedicalClearance,
    Protocol,
    RuleOverride,
    Session,
    TreatmentCategory,
)

pytestmark = pytest.mark.django_db


SESSION_FIELDS = {
    "id",
    "course",
    "patient",
    "protocol",
    "kind",
    "practitioner",
    "room",
    "location",
    "starts_at",
    "ends_at",
    "status",
    "fhir_status",
    "booked_late",
    "treatment_consent_needed",
    "completed_at",
    "notes",
    "treated_areas",
    "product_uses",
    "overrides",
    "cancelled_at",
    "cancel_reason",
    "cancel_note",
    "no_show_at",
    "arrived_at",
    "treatment_started_at",
    "confirmed_at",
    "sequence",
    "created_at",
    "updated_at",
}


# --- Booking --------------------------------------------------------------------------


def test_booking_a_session_returns_201_with_offset_times_and_fhir_status_booked(
    treatments_client, course, practitioner, room
) -> None:
    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(1, 10, month=4)))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SESSION_FIELDS
    session = Session.objects.get()
    assert body["id"] == str(session.pk)
    assert (body["course"], body["patient"], body["protocol"]) == (
        str(course.pk),
        str(course.patient_id),
        str(course.protocol_id),
    )
    assert (body["practitioner"], body["room"], body["location"]) == (
        str(practitioner.pk),
        str(room.pk),
        str(room.location_id),
    )
    # 10:00 in London in April is 09:00 UTC; the API speaks UTC with an explicit offset.
    assert body["starts_at"] in {"2026-04-01T09:00:00Z", "2026-04-01T09:00:00+00:00"}
    assert parse_api_datetime(body["starts_at"]) == at(1, 10, month=4)
    assert parse_api_datetime(body["ends_at"]) == at(1, 10, 45, month=4)
    assert (body["status"], body["fhir_status"], body["kind"], body["booked_late"]) == (
        "booked",
        "booked",
        "course",
        False,
    )
    assert (body["sequence"], body["product_uses"], body["overrides"], body["completed_at"]) == (0, [], [], None)
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE
    assert treatments_client.get(detail_url(SESSIONS_URL, session.pk)).json() == body


def test_a_time_given_in_another_offset_is_the_same_instant(treatments_client, course, practitioner, room) -> None:
    response = treatments_client.post(
        SESSIONS_URL, booking_body(course, practitioner, room, "2026-03-03T05:00:00-05:00")
    )

    assert response.status_code == 201, response.content
    assert Session.objects.get().starts_at == at(3, 10)


# --- Rules, the earliest allowed start and overrides ----------------------------------


def test_booking_too_soon_after_the_previous_session_is_refused_by_spacing_with_the_earliest_start(
    treatments_client, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(1, 10, month=4))
    before_counts, before_course = table_counts(), course_row(course)

    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(8, 10, month=4)))

    body = assert_rule_violation(response, "spacing", earliest_start=at(15, 10, month=4))
    assert body["errors"][0]["attr"] == "starts_at"
    assert "14 days apart" in body["errors"][0]["detail"]
    assert "override" in body["errors"][0]["detail"]
    # London wall-clock 10:00 in April, given with its offset.
    assert body["earliest_start"].endswith("+01:00")
    assert table_counts() == before_counts
    assert course_row(course) == before_course


def test_exactly_the_earliest_start_given_by_a_refusal_is_accepted(
    treatments_client, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3))
    refused = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(16, 18)))
    earliest = refused.json()["earliest_start"]

    accepted = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, earliest))

    assert accepted.status_code == 201, accepted.content
    assert parse_api_datetime(accepted.json()["starts_at"]) == at(17)


def test_a_practitioner_booking_their_own_session_overrides_spacing_as_themself(
    practitioner_api, clock, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3))

    response = practitioner_api.post(
        SESSIONS_URL,
        booking_body(course, practitioner, room, at(10), overrides=[{"rule": "spacing", "reason": "Travelling"}]),
    )

    assert response.status_code == 201, response.content
    [override] = response.json()["overrides"]
    assert (override["rule"], override["reason"], override["practitioner"]) == (
        "spacing",
        "Travelling",
        str(practitioner.pk),
    )
    assert "14 days" in override["rule_message"]
    assert RuleOverride.objects.get().session_id == uuid.UUID(response.json()["id"])
    # The response is built from the booking in hand, not read back: it shows the session as stored.
    assert practitioner_api.get(detail_url(SESSIONS_URL, response.json()["id"])).json() == response.json()


def test_the_front_desk_cannot_override_a_rule_whoever_it_names(treatments_client, course, practitioner, room) -> None:
    """Reception (and booking software) got 201 overriding a medical review by naming a practitioner."""
    book(course, practitioner, room, at(3))
    before = table_counts()

    response = treatments_client.post(
        SESSIONS_URL,
        booking_body(course, practitioner, room, at(10), overrides=[{"rule": "spacing", "reason": "Travelling"}]),
    )
    named = treatments_client.post(
        SESSIONS_URL,
        booking_body(
            course,
            practitioner,
            room,
            at(10),
            overrides=[{"rule": "spacing", "reason": "Travelling"}],
            override_by=str(practitioner.pk),
        ),
    )

    assert_client_error(response, 403, "permission_denied")
    assert "Only a practitioner can override a rule" in response.json()["errors"][0]["detail"]
    assert_validation_error(named, "override_by")  # there is no one to name: the field does not exist
    assert table_counts() == before


def test_a_booking_key_cannot_override_a_rule(clock, course, practitioner, room) -> None:
    book(course, practitioner, room, at(3))
    _, raw_key = api_key_create(name="Booking app", scopes=["book", "manage"], actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    before = table_counts()

    response = client.post(
        SESSIONS_URL,
        booking_body(course, practitioner, room, at(10), overrides=[{"rule": "spacing", "reason": "Travelling"}]),
    )

    assert_client_error(response, 403, "permission_denied")
    assert table_counts() == before


def test_a_practitioner_books_and_moves_only_their_own_sessions(
    practitioner_api, clock, location, course, practitioner, room
) -> None:
    colleague = PractitionerFactory(locations=[location], display_name="Dr Colleague")
    theirs = book(course, colleague, room, at(3))
    before = table_counts()

    for_a_colleague = practitioner_api.post(SESSIONS_URL, booking_body(course, colleague, room, at(17)))
    taken_over = practitioner_api.post(
        action_url(SESSIONS_URL, theirs.pk, "reschedule"),
        {"starts_at": at(3, 14).isoformat(), "practitioner": str(practitioner.pk)},
        format="json",
    )
    moved = practitioner_api.post(
        action_url(SESSIONS_URL, theirs.pk, "reschedule"), {"starts_at": at(3, 14).isoformat()}, format="json"
    )

    for response in (for_a_colleague, taken_over, moved):
        assert_client_error(response, 403, "permission_denied")
    assert table_counts() == before
    theirs.refresh_from_db()
    assert (theirs.practitioner, theirs.starts_at) == (colleague, at(3))
    own = practitioner_api.post(SESSIONS_URL, booking_body(course, practitioner, room, at(17)))
    assert own.status_code == 201, own.content


def test_a_peel_within_14_days_after_mesotherapy_is_refused_by_the_conflict_rule(
    treatments_client, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3))
    peel = CourseFactory(patient=course.patient, location=course.location, protocol=peel_protocol())
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(peel, practitioner, room, at(10)))

    body = assert_rule_violation(response, "conflict", earliest_start=at(17))
    assert "chemical peel" in body["errors"][0]["detail"]
    assert table_counts() == before
    assert treatments_client.post(SESSIONS_URL, booking_body(peel, practitioner, room, at(17))).status_code == 201


def test_a_patient_with_medical_flags_is_booked_only_after_a_practitioners_review(
    treatments_client, practitioner_api, location, practitioner, room
) -> None:
    flagged = CourseFactory(location=location, patient=PatientFactory(medical_flags=["anticoagulants"]))

    refused = treatments_client.post(SESSIONS_URL, booking_body(flagged, practitioner, room, at(3)))

    body = assert_rule_violation(refused, "medical_review", earliest_start=None)
    assert "anticoagulant" not in body["errors"][0]["detail"], "the front desk learns a review is needed, not why"
    assert not Session.objects.exists()
    # The practitioner books the first session themself, deciding as themself.
    overridden = practitioner_api.post(
        SESSIONS_URL,
        booking_body(
            flagged, practitioner, room, at(3), overrides=[{"rule": "medical_review", "reason": "GP letter on file"}]
        ),
    )
    assert overridden.status_code == 201, overridden.content
    # Then clears the patient for the course, and the front desk books the rest normally.
    cleared = practitioner_api.post(
        "/api/v1/medical-clearances/",
        {
            "patient": str(flagged.patient_id),
            "course": str(flagged.pk),
            "reason": "INR stable; bruising risk explained.",
        },
        format="json",
    )
    assert cleared.status_code == 201, cleared.content
    assert cleared.json()["flags_reviewed"] == ["anticoagulants"]
    followed = treatments_client.post(SESSIONS_URL, booking_body(flagged, practitioner, room, at(17)))
    assert followed.status_code == 201, followed.content


def test_a_clearance_does_not_cover_a_flag_added_after_it(
    treatments_client, practitioner_api, location, practitioner, room
) -> None:
    flagged = CourseFactory(location=location, patient=PatientFactory(medical_flags=["anticoagulants"]))
    services.session_book(  # the practitioner treats the patient from here on
        course=flagged,
        practitioner=practitioner,
        room=room,
        starts_at=at(3),
        actor=practitioner.user,
        overrides=[services.Override(rule="medical_review", reason="Seen in clinic.")],
    )
    cleared = practitioner_api.post(
        "/api/v1/medical-clearances/",
        {"patient": str(flagged.patient_id), "valid_until": "2026-12-31", "reason": "Reviewed."},
        format="json",
    )
    assert cleared.status_code == 201, cleared.content
    flagged.patient.medical_flags = ["anticoagulants", "pregnancy"]
    flagged.patient.save()

    refused = treatments_client.post(SESSIONS_URL, booking_body(flagged, practitioner, room, at(17)))

    assert_rule_violation(refused, "medical_review", earliest_start=None)


def test_only_a_practitioner_who_treats_the_patient_records_a_clearance(
    treatments_client, practitioner_api, location, practitioner
) -> None:
    flagged = CourseFactory(location=location, patient=PatientFactory(medical_flags=["pregnancy"]))
    body = {"patient": str(flagged.patient_id), "course": str(flagged.pk), "reason": "Reviewed."}

    by_front_desk = treatments_client.post("/api/v1/medical-clearances/", body, format="json")
    not_yet_treating = practitioner_api.post("/api/v1/medical-clearances/", body, format="json")

    assert by_front_desk.status_code == 403
    assert_client_error(not_yet_treating, 403, "permission_denied")
    assert not MedicalClearance.objects.exists()


def test_a_practitioner_decides_ahead_on_the_course_and_the_front_desk_books(
    treatments_client, practitioner_api, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3))
    decided = practitioner_api.post(
        action_url(COURSES_URL, course.pk, "overrides"),
        {"rule": "spacing", "reason": "Wedding on the 12th; agreed 10 days."},
        format="json",
    )
    assert decided.status_code == 201, decided.content

    booked = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(13)))

    assert booked.status_code == 201, booked.content
    [override] = RuleOverride.objects.filter(session_id=booked.json()["id"])
    assert (override.rule, override.practitioner, override.reason) == (
        "spacing",
        practitioner,
        "Wedding on the 12th; agreed 10 days.",
    )
    assert treatments_client.get(detail_url(SESSIONS_URL, booked.json()["id"])).json() == booked.json()
    again = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(20)))
    assert_rule_violation(again, "spacing", earliest_start=at(27)), "an advance decision is used once"


def test_booking_outside_opening_hours_is_refused(treatments_client, course, practitioner, room) -> None:
    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(3, 19, 30)))

    body = assert_rule_violation(response, "opening_hours", earliest_start=None)
    assert "08:00–20:00" in body["errors"][0]["detail"]
    assert not Session.objects.exists()


def test_a_course_with_every_planned_session_booked_takes_no_more(
    treatments_client, location, practitioner, room
) -> None:
    course = CourseFactory(location=location, planned_sessions=3)
    for day in (3, 17, 31):
        book(course, practitioner, room, at(day))
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(14, month=4)))

    body = assert_rule_violation(response, "session_count", earliest_start=None)
    assert "All 3 planned sessions" in body["errors"][0]["detail"]
    assert table_counts() == before


# --- Taken slots ----------------------------------------------------------------------


def test_a_taken_practitioner_slot_is_a_409_naming_the_clashing_session(
    treatments_client, location, practitioner, room
) -> None:
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    course = CourseFactory(location=location)
    before_counts, before_course = table_counts(), course_row(course)

    response = treatments_client.post(
        SESSIONS_URL, booking_body(course, practitioner, RoomFactory(location=location), at(3, 10, 30))
    )

    assert_slot_taken(response, taken, "practitioner")
    assert table_counts() == before_counts
    assert course_row(course) == before_course


def test_a_taken_room_is_a_409_naming_the_clashing_session(treatments_client, location, practitioner, room) -> None:
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    colleague = PractitionerFactory(locations=[location])
    course = CourseFactory(location=location)
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(course, colleague, room, at(3, 9, 30)))

    assert_slot_taken(response, taken, "room")
    assert table_counts() == before


def test_back_to_back_sessions_do_not_clash(treatments_client, location, practitioner, room) -> None:
    book(CourseFactory(location=location), practitioner, room, at(3))

    response = treatments_client.post(
        SESSIONS_URL, booking_body(CourseFactory(location=location), practitioner, room, at(3, 10, 45))
    )

    assert response.status_code == 201, response.content


def test_a_cancelled_session_no_longer_holds_its_slot(treatments_client, location, practitioner, room) -> None:
    freed = book(CourseFactory(location=location), practitioner, room, at(3))
    services.session_cancel(session=freed, reason="patient_unwell", actor=None)

    response = treatments_client.post(
        SESSIONS_URL, booking_body(CourseFactory(location=location), practitioner, room, at(3))
    )

    assert response.status_code == 201, response.content


# --- Bad bookings ---------------------------------------------------------------------


def test_a_session_cannot_be_booked_in_the_past(treatments_client, course, practitioner, room) -> None:
    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(2, 7, 45)))

    assert_validation_error(response, "starts_at")
    assert not Session.objects.exists()


def test_a_cancelled_course_takes_no_booking(treatments_client, course, practitioner, room) -> None:
    services.course_cancel(course=course, reason="Changed mind", actor=None)

    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(3)))

    assert_client_error(response, 409, "invalid_state")
    assert not Session.objects.exists()


def test_a_room_at_another_location_or_a_practitioner_who_works_elsewhere_is_refused(
    treatments_client, course, practitioner, room
) -> None:
    elsewhere = LocationFactory()
    far_room = RoomFactory(location=elsewhere)
    stranger = PractitionerFactory(locations=[elsewhere])

    assert_validation_error(
        treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, far_room, at(3))), "room"
    )
    assert_validation_error(
        treatments_client.post(SESSIONS_URL, booking_body(course, stranger, room, at(3))), "practitioner"
    )
    assert not Session.objects.exists()


BAD_BOOKING_FIELDS = [
    pytest.param({"starts_at": "next tuesday"}, "starts_at", id="starts-at-in-words"),
    pytest.param({"starts_at": 1772532000}, "starts_at", id="starts-at-as-a-number"),
    pytest.param({"starts_at": None}, "starts_at", id="starts-at-null"),
    pytest.param({"course": "abc"}, "course", id="course-not-a-uuid"),
    pytest.param({"course": str(uuid.uuid4())}, "course", id="unknown-course"),
    pytest.param({"practitioner": [1]}, "practitioner", id="practitioner-as-a-list"),
    pytest.param({"room": str(uuid.uuid4())}, "room", id="unknown-room"),
    pytest.param({"ends_at": "2026-03-03T11:00:00Z"}, "ends_at", id="unknown-field-ends-at"),
    pytest.param({"overrides": "spacing"}, "overrides.non_field_errors", id="overrides-as-a-string"),
    pytest.param(
        {"overrides": [{"rule": "opening_hours", "reason": "VIP"}]}, "overrides.0.rule", id="override-a-fixed-rule"
    ),
    pytest.param({"overrides": [{"rule": "spacing", "reason": ""}]}, "overrides.0.reason", id="override-blank-reason"),
    pytest.param(
        {"overrides": [{"rule": "spacing", "reason": "x", "by": "me"}]}, "overrides.0.by", id="override-unknown-field"
    ),
    pytest.param({"override_by": str(uuid.uuid4())}, "override_by", id="override-by-is-not-a-field"),
]


@pytest.mark.parametrize(("fields", "attr"), BAD_BOOKING_FIELDS)
def test_a_bad_booking_field_is_a_400_naming_it_and_books_nothing(
    treatments_client, course, practitioner, room, fields, attr
) -> None:
    before_course = course_row(course)

    response = treatments_client.post(SESSIONS_URL, {**booking_body(course, practitioner, room, at(3)), **fields})

    assert_validation_error(response, attr)
    assert not Session.objects.exists()
    assert not RuleOverride.objects.exists()
    assert course_row(course) == before_course


def test_a_booking_missing_its_start_is_refused(treatments_client, course, practitioner, room) -> None:
    body = booking_body(course, practitioner, room, at(3))
    del body["starts_at"]

    assert_validation_error(treatments_client.post(SESSIONS_URL, body), "starts_at")
    assert not Session.objects.exists()


def test_a_start_at_the_very_end_of_the_calendar_is_a_400_not_a_crash(
    treatments_client, course, practitioner, room
) -> None:
    # 23:30 on the last day datetime can hold: the session would end in year 10000.
    session = book(course, practitioner, room, at(3))
    other_course = CourseFactory(location=course.location)
    before_session, before_counts = session_row(session), table_counts()

    booked = treatments_client.post(
        SESSIONS_URL, booking_body(other_course, practitioner, room, "9999-12-31T23:30:00Z")
    )
    moved = reschedule(treatments_client, session, starts_at="9999-12-31T23:30:00Z")

    assert_validation_error(booked, "starts_at")
    assert_validation_error(moved, "starts_at")
    assert session_row(session) == before_session
    assert table_counts() == before_counts


def test_sessions_cannot_be_edited_or_deleted_directly(treatments_client, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_client_error(
        treatments_client.patch(detail_url(SESSIONS_URL, session.pk), {"status": "completed"}),
        405,
        "method_not_allowed",
    )
    assert_client_error(treatments_client.delete(detail_url(SESSIONS_URL, session.pk)), 405, "method_not_allowed")
    assert session_row(session) == before


# --- Concurrency: twenty bookings race for one slot against a real server -------------


@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_bookings_of_one_practitioner_slot_let_exactly_one_through(live_server) -> None:
    # A transactional test may run after another one emptied the tables, so
    # it makes its own protocol rather than relying on the data migration's.
    category, _ = TreatmentCategory.objects.get_or_create(code="mesotherapy", defaults={"name": "Mesotherapy"})
    protocol = Protocol.objects.create(
        name="Race mesotherapy",
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
    location = LocationFactory()
    practitioner = PractitionerFactory(locations=[location])
    contenders = 20
    rooms = [RoomFactory(location=location) for _ in range(contenders)]
    courses = [CourseFactory(location=location, protocol=protocol) for _ in range(contenders)]
    tomorrow = timezone.localdate(timezone.now(), LONDON) + timedelta(days=2)
    starts_at = datetime.combine(tomorrow, time(10), tzinfo=LONDON)

    user = UserFactory(username="racer", permissions=TREATMENT_PERMISSIONS)
    browser = Client()
    browser.force_login(user)
    session_cookie = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    login_page = requests.get(f"{live_server.url}/admin/login/", timeout=10)
    csrf_token = login_page.cookies[django_settings.CSRF_COOKIE_NAME]
    cookies = {django_settings.SESSION_COOKIE_NAME: session_cookie, django_settings.CSRF_COOKIE_NAME: csrf_token}
    headers = {
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "X-CSRFToken": csrf_token,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    barrier = threading.Barrier(contenders, timeout=30)

    def attempt(index: int) -> tuple[int, dict[str, Any]]:
        body = booking_body(courses[index], practitioner, rooms[index], starts_at)
        barrier.wait()
        response = requests.post(f"{live_server.url}{SESSIONS_URL}", data=json.dumps(body), headers=headers, timeout=60)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        outcomes = [future.result(timeout=90) for future in [pool.submit(attempt, i) for i in range(contenders)]]

    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] + [409] * (contenders - 1), outcomes
    [winner] = [body for status, body in outcomes if status == 201]
    for status, body in outcomes:
        if status == 409:
            assert body["errors"][0]["code"] == "slot_taken", body
            assert body["clashing_session"] == winner["id"], body
            assert body["resource"] == "practitioner", body
    assert list(Session.objects.filter(practitioner=practitioner).values_list("id", flat=True)) == [
        uuid.UUID(winner["id"])
    ]
    assert Session.objects.get().starts_at == starts_at
    # Only the winner's course started; the losers' are as they were.
    assert list(Course.objects.filter(status=CourseStatus.ACTIVE).values_list("id", flat=True)) == [
        uuid.UUID(winner["course"])
    ]
    assert Course.objects.filter(status=CourseStatus.PLANNED).count() == contenders - 1
