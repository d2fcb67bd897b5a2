"""The treatments REST API under /api/v1/: reference data, courses, sessions
and their actions, availability, products, lots and the recall list.

Staff log in through the session. Every refusal is JSON in the
drf-standardized-errors shape; a rule refusal names the rule, says why in
words and gives the earliest allowed start; a taken slot is a 409 naming the
clashing session; and after any refusal the database is exactly as it was.

Time is frozen by the `clock` fixture at Monday 2026-03-02 08:00 London, so
bookings lie in the future and completions can come after the start.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from aftercare.models import ScheduledMessage
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    ProductFactory,
    ProductLotFactory,
    RoomFactory,
    SessionFactory,
    UserFactory,
)
from tests.treatments.conftest import LONDON
from treatments import services
from treatments.models import (
    Course,
    CourseStatus,
    Location,
    Practitioner,
    Product,
    ProductLot,
    Protocol,
    Room,
    RuleOverride,
    Session,
    SessionProductUse,
    SessionStatus,
    TreatmentCategory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
LOCATIONS_URL = f"{API}/locations/"
ROOMS_URL = f"{API}/rooms/"
PRACTITIONERS_URL = f"{API}/practitioners/"
PROTOCOLS_URL = f"{API}/protocols/"
COURSES_URL = f"{API}/courses/"
SESSIONS_URL = f"{API}/sessions/"
AVAILABILITY_URL = f"{API}/availability/"
PRODUCTS_URL = f"{API}/products/"
LOTS_URL = f"{API}/lots/"

TREATMENT_PERMISSIONS = [
    "treatments.view_course",
    "treatments.add_course",
    "treatments.change_course",
    "treatments.view_session",
    "treatments.add_session",
    "treatments.change_session",
    "treatments.complete_session",
    # Reads every session's notes, as a clinic admin does (test_roles covers who else may).
    "treatments.view_all_clinical_notes",
    "treatments.view_product",
    "treatments.add_product",
    "treatments.change_product",
    "treatments.view_productlot",
    "treatments.add_productlot",
    "treatments.change_productlot",
    "treatments.view_location",
    "treatments.view_room",
    "treatments.view_practitioner",
    "treatments.view_protocol",
    "patients.view_patient",
]

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
    "completed_at",
    "notes",
    "treated_areas",
    "product_uses",
    "overrides",
    "cancelled_at",
    "cancel_reason",
    "cancel_note",
    "no_show_at",
    "sequence",
    "created_at",
    "updated_at",
}


# --- Clients -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):  # type: ignore[no-untyped-def]
    """Every practitioner is a user with a password; hashing it properly would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clinician(db):  # type: ignore[no-untyped-def]
    """A staff user holding the treatments permissions (and reading patients), not a superuser."""
    return UserFactory(username="clinician", permissions=TREATMENT_PERMISSIONS)


@pytest.fixture
def treatments_client(clock, clinician, settings) -> APIClient:  # type: ignore[no-untyped-def]
    """An API client logged in through the session as `clinician`, inside the frozen clock.

    Some stories move the clock months ahead; the login must outlive them.
    """
    settings.SESSION_COOKIE_AGE = 5 * 365 * 24 * 3600
    client = APIClient()
    client.force_login(clinician)
    return client


def client_for(username: str, permissions: list[str]) -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(username=username, permissions=permissions))
    return client


# --- Helpers -------------------------------------------------------------------


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    """A London wall-clock instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def detail_url(base: str, pk: object) -> str:
    return f"{base}{pk}/"


def action_url(base: str, pk: object, action: str) -> str:
    return f"{base}{pk}/{action}/"


def book(course, practitioner, room, starts_at, **kwargs) -> Session:  # type: ignore[no-untyped-def]
    """Set the scene through the service, the way every door books."""
    return services.session_book(
        course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None, **kwargs
    )


def booking_body(course, practitioner, room, starts_at: datetime | str, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {
        "course": str(course.pk),
        "practitioner": str(practitioner.pk),
        "room": str(room.pk),
        "starts_at": starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at,
    }
    body.update(extra)
    return body


def session_row(session: Session) -> dict[str, Any]:
    """Every column of the session as stored, to prove a refused change left it alone."""
    return Session.objects.values().get(pk=session.pk)


def course_row(course: Course) -> dict[str, Any]:
    return Course.objects.values().get(pk=course.pk)


def table_counts() -> dict[str, int]:
    return {
        "courses": Course.objects.count(),
        "sessions": Session.objects.count(),
        "product_uses": SessionProductUse.objects.count(),
        "overrides": RuleOverride.objects.count(),
        "products": Product.objects.count(),
        "lots": ProductLot.objects.count(),
        "messages": ScheduledMessage.objects.count(),
    }


def error_attrs(response: Any) -> list[str | None]:
    return [error["attr"] for error in response.json()["errors"]]


def assert_validation_error(response: Any, attr: str) -> None:
    """A 400 in the drf-standardized-errors shape whose errors name `attr`."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"], body
    for error in body["errors"]:
        assert error["code"] and error["detail"]
    assert attr in error_attrs(response), body


def assert_client_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "client_error", body
    assert body["errors"][0]["code"] == code, body
    assert body["errors"][0]["detail"], body


def assert_rule_violation(response: Any, rule: str, *, earliest_start: datetime | None) -> dict[str, Any]:
    """A 400 naming `rule`, saying why in words, and giving the earliest allowed start (or null)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["rule"] == rule
    assert body["errors"][0]["code"] == rule
    detail = body["errors"][0]["detail"]
    assert isinstance(detail, str) and len(detail.split()) >= 4, detail  # a sentence, not a code
    if earliest_start is None:
        assert body["earliest_start"] is None
    else:
        assert parse_api_datetime(body["earliest_start"]) == earliest_start
    return body


def assert_slot_taken(response: Any, clashing: Session, resource: str) -> None:
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "slot_taken"
    assert body["errors"][0]["attr"] == "starts_at"
    assert body["clashing_session"] == str(clashing.pk)
    assert body["resource"] == resource


def parse_api_datetime(value: str) -> datetime:
    """ISO-8601 with an explicit offset ("Z" or "+HH:MM"); a naive time is a failure."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} carries no offset"
    return parsed


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def listed_ids(response: Any) -> list[str]:
    return [row["id"] for row in results(response)]


def peel_protocol() -> Protocol:
    """A chemical peel protocol: the category mesotherapy's 14-day conflict rule blocks."""
    return Protocol.objects.create(
        name="Glycolic peel",
        category=TreatmentCategory.objects.get(code="chemical_peel"),
        min_sessions=1,
        max_sessions=6,
        default_sessions=3,
        min_spacing_days=21,
        max_spacing_days=42,
        maintenance_min_days=90,
        maintenance_max_days=180,
        session_duration_minutes=30,
    )


# --- Who may use the API ---------------------------------------------------------


def anonymous_requests(session: Session, lot: ProductLot) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("get", LOCATIONS_URL, {}),
        ("get", ROOMS_URL, {}),
        ("get", PRACTITIONERS_URL, {}),
        ("get", PROTOCOLS_URL, {}),
        ("get", COURSES_URL, {}),
        ("get", detail_url(COURSES_URL, session.course_id), {}),
        ("post", COURSES_URL, {"patient": str(session.course.patient_id)}),
        ("post", action_url(COURSES_URL, session.course_id, "cancel"), {"reason": "x"}),
        ("get", SESSIONS_URL, {}),
        ("get", detail_url(SESSIONS_URL, session.pk), {}),
        ("post", SESSIONS_URL, {}),
        ("post", action_url(SESSIONS_URL, session.pk, "reschedule"), {"starts_at": at(4).isoformat()}),
        ("post", action_url(SESSIONS_URL, session.pk, "cancel"), {"reason": "patient_request"}),
        ("post", action_url(SESSIONS_URL, session.pk, "complete"), {}),
        ("post", action_url(SESSIONS_URL, session.pk, "no-show"), {}),
        ("get", AVAILABILITY_URL, {}),
        ("get", PRODUCTS_URL, {}),
        ("post", PRODUCTS_URL, {"name": "X", "kind": "solution", "manufacturer": "Y"}),
        ("get", LOTS_URL, {}),
        ("post", LOTS_URL, {"product": str(lot.product_id), "lot_number": "L", "expires_on": "2027-01-01"}),
        ("get", action_url(LOTS_URL, lot.pk, "recipients"), {}),
    ]


def test_an_anonymous_visitor_is_refused_on_every_treatments_endpoint(clock, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    lot = ProductLotFactory()
    before_session, before_counts = session_row(session), table_counts()
    anonymous = APIClient()

    for method, url, body in anonymous_requests(session, lot):
        response = getattr(anonymous, method)(url, body) if method == "post" else anonymous.get(url)
        assert_client_error(response, 403, "not_authenticated")

    assert session_row(session) == before_session
    assert table_counts() == before_counts


def test_front_desk_staff_with_only_patient_permissions_cannot_read_or_book_sessions(
    api_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))

    assert_client_error(api_client.get(SESSIONS_URL), 403, "permission_denied")
    assert_client_error(api_client.get(COURSES_URL), 403, "permission_denied")
    assert_client_error(api_client.get(detail_url(SESSIONS_URL, session.pk)), 403, "permission_denied")
    refused = api_client.post(
        SESSIONS_URL, booking_body(CourseFactory(location=course.location), practitioner, room, at(4))
    )
    assert_client_error(refused, 403, "permission_denied")
    assert Session.objects.count() == 1


def test_a_receptionist_without_the_complete_permission_cannot_complete_a_session(
    clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    lot = ProductLotFactory()
    receptionist = client_for("receptionist", [p for p in TREATMENT_PERMISSIONS if p != "treatments.complete_session"])
    clock.move_to(session.ends_at)
    before = session_row(session)

    response = receptionist.post(
        action_url(SESSIONS_URL, session.pk, "complete"),
        {"notes": "Tried", "product_uses": [{"lot": str(lot.pk), "quantity": "1"}]},
    )

    assert_client_error(response, 403, "permission_denied")
    assert session_row(session) == before
    assert not SessionProductUse.objects.exists()
    # The same receptionist may still mark a no-show: only completion is clinical.
    assert receptionist.post(action_url(SESSIONS_URL, session.pk, "no-show"), {}).status_code == 200


def test_the_recall_list_needs_permission_to_read_patients(clock) -> None:  # type: ignore[no-untyped-def]
    lot = ProductLotFactory()
    stock_keeper = client_for("stock", [p for p in TREATMENT_PERMISSIONS if p != "patients.view_patient"])

    assert_client_error(stock_keeper.get(action_url(LOTS_URL, lot.pk, "recipients")), 403, "permission_denied")
    # Lots themselves name no patient and stay readable.
    assert stock_keeper.get(detail_url(LOTS_URL, lot.pk)).status_code == 200


# --- Reference data: locations, rooms, practitioners, protocols -------------------


def test_locations_are_listed_with_their_time_zone_and_local_opening_hours(treatments_client) -> None:  # type: ignore[no-untyped-def]
    LocationFactory(name="Kensington", opening_hours=[(0, time(9), time(13)), (0, time(14), time(18))])
    LocationFactory(name="Chelsea")

    response = treatments_client.get(LOCATIONS_URL)

    assert [row["name"] for row in results(response)] == ["Chelsea", "Kensington"]
    kensington = results(response)[1]
    assert kensington["time_zone"] == "Europe/London"
    assert kensington["opening_hours"] == [
        {"weekday": 0, "opens_at": "09:00:00", "closes_at": "13:00:00"},
        {"weekday": 0, "opens_at": "14:00:00", "closes_at": "18:00:00"},
    ]
    assert parse_api_datetime(kensington["updated_at"]) == timezone.now()
    single = treatments_client.get(detail_url(LOCATIONS_URL, kensington["id"]))
    assert single.status_code == 200
    assert single.json() == kensington


def test_locations_filter_by_active_and_by_updated_since(treatments_client, clock) -> None:  # type: ignore[no-untyped-def]
    LocationFactory(name="Old")
    clock.move_to(at(2, 12))
    closed = LocationFactory(name="Closed", is_active=False)

    assert [r["name"] for r in results(treatments_client.get(LOCATIONS_URL, {"is_active": "false"}))] == ["Closed"]
    since = treatments_client.get(LOCATIONS_URL, {"updated_since": at(2, 12).isoformat()})
    assert listed_ids(since) == [str(closed.pk)]
    assert_validation_error(treatments_client.get(LOCATIONS_URL, {"updated_since": "last week"}), "updated_since")


def test_rooms_filter_by_location(treatments_client, location, room) -> None:  # type: ignore[no-untyped-def]
    elsewhere = RoomFactory(name="Room 9")

    assert listed_ids(treatments_client.get(ROOMS_URL, {"location": str(location.pk)})) == [str(room.pk)]
    assert listed_ids(treatments_client.get(ROOMS_URL, {"location": str(elsewhere.location_id)})) == [str(elsewhere.pk)]
    row = treatments_client.get(detail_url(ROOMS_URL, room.pk)).json()
    assert (row["name"], row["location"], row["is_active"]) == ("Room 1", str(location.pk), True)
    assert_validation_error(treatments_client.get(ROOMS_URL, {"location": "nowhere"}), "location")


def test_practitioners_filter_by_the_location_they_work_at(treatments_client, location, practitioner) -> None:  # type: ignore[no-untyped-def]
    other = PractitionerFactory(locations=[LocationFactory()], display_name="Dr Zhou")

    response = treatments_client.get(PRACTITIONERS_URL, {"location": str(location.pk)})

    assert listed_ids(response) == [str(practitioner.pk)]
    assert results(response)[0]["display_name"] == "Dr Evans"
    assert results(response)[0]["locations"] == [str(location.pk)]
    everyone = treatments_client.get(PRACTITIONERS_URL)
    assert listed_ids(everyone) == [str(practitioner.pk), str(other.pk)]


def test_the_default_mesotherapy_protocol_is_listed_with_its_bounds_and_conflict_rules(treatments_client) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.get(PROTOCOLS_URL, {"search": "mesotherapy"})

    [meso] = results(response)
    assert meso["name"] == "Facial mesotherapy"
    assert meso["category"] == "mesotherapy"
    assert (meso["min_sessions"], meso["default_sessions"], meso["max_sessions"]) == (3, 4, 6)
    assert (meso["min_spacing_days"], meso["max_spacing_days"]) == (14, 28)
    assert (meso["maintenance_min_days"], meso["maintenance_max_days"]) == (90, 180)
    assert sorted(meso["conflict_rules"], key=lambda r: r["blocked_category"]) == [
        {"blocked_category": "chemical_peel", "days": 14},
        {"blocked_category": "laser", "days": 14},
        {"blocked_category": "microdermabrasion", "days": 14},
    ]
    assert treatments_client.get(detail_url(PROTOCOLS_URL, meso["id"])).json() == meso


@pytest.mark.parametrize(
    ("base", "model"),
    [
        pytest.param(LOCATIONS_URL, Location, id="locations"),
        pytest.param(ROOMS_URL, Room, id="rooms"),
        pytest.param(PRACTITIONERS_URL, Practitioner, id="practitioners"),
        pytest.param(PROTOCOLS_URL, Protocol, id="protocols"),
    ],
)
def test_reference_data_is_read_only_through_the_api(treatments_client, room, practitioner, base, model) -> None:  # type: ignore[no-untyped-def]
    existing = model.objects.first()
    before = model.objects.count()

    assert_client_error(treatments_client.post(base, {"name": "New"}), 405, "method_not_allowed")
    assert_client_error(treatments_client.put(detail_url(base, existing.pk), {"name": "X"}), 405, "method_not_allowed")
    assert_client_error(
        treatments_client.patch(detail_url(base, existing.pk), {"name": "X"}), 405, "method_not_allowed"
    )
    assert_client_error(treatments_client.delete(detail_url(base, existing.pk)), 405, "method_not_allowed")
    assert model.objects.count() == before
    assert model.objects.filter(pk=existing.pk).exists()


@pytest.mark.parametrize(
    "base",
    [LOCATIONS_URL, ROOMS_URL, PRACTITIONERS_URL, PROTOCOLS_URL, COURSES_URL, SESSIONS_URL, PRODUCTS_URL, LOTS_URL],
)
def test_an_unknown_or_malformed_id_is_a_json_404(treatments_client, base) -> None:  # type: ignore[no-untyped-def]
    assert_client_error(treatments_client.get(detail_url(base, uuid.uuid4())), 404, "not_found")
    assert_client_error(treatments_client.get(detail_url(base, "12345")), 404, "not_found")


# --- Courses ---------------------------------------------------------------------


def new_course_body(patient, protocol, location, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"patient": str(patient.pk), "protocol": str(protocol.pk), "location": str(location.pk), **extra}


def test_starting_a_course_defaults_to_the_protocols_session_count(treatments_client, location, protocol) -> None:  # type: ignore[no-untyped-def]
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


def test_a_course_may_plan_any_count_inside_the_protocols_bounds(treatments_client, location, protocol) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(
        COURSES_URL, new_course_body(PatientFactory(), protocol, location, planned_sessions=6)
    )

    assert response.status_code == 201, response.content
    assert Course.objects.get().planned_sessions == 6


@pytest.mark.parametrize("planned", [2, 7])
def test_a_course_planned_outside_the_protocols_bounds_is_refused_by_the_session_count_rule(
    treatments_client, location, protocol, planned
) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(COURSES_URL, {**new_course_body(PatientFactory(), protocol, location), **fields})

    assert_validation_error(response, attr)
    assert not Course.objects.exists()


def test_a_course_without_a_protocol_is_refused(treatments_client, location) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(COURSES_URL, {"patient": str(PatientFactory().pk), "location": str(location.pk)})

    assert_validation_error(response, "protocol")
    assert not Course.objects.exists()


def test_a_course_on_a_withdrawn_protocol_or_at_a_closed_location_is_refused(
    treatments_client, location, protocol
) -> None:  # type: ignore[no-untyped-def]
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


def test_courses_filter_by_patient_protocol_location_and_repeated_status(treatments_client, location, protocol) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
    first = book(course, practitioner, room, at(3))
    second = book(course, practitioner, room, at(17))
    clock.move_to(first.ends_at)
    services.session_complete(session=first, actor=None)

    body = treatments_client.get(detail_url(COURSES_URL, course.pk)).json()

    assert body["sessions"] == [str(first.pk), str(second.pk)]
    assert (body["sessions_done"], body["status"]) == (1, "active")


def test_cancelling_a_course_cancels_its_booked_sessions_and_keeps_the_done_ones(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    done = book(course, practitioner, room, at(3))
    upcoming = book(course, practitioner, room, at(17))
    clock.move_to(done.ends_at)
    services.session_complete(session=done, actor=None)

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


def test_cancelling_a_cancelled_course_is_a_409_and_changes_nothing(treatments_client, course) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    before_course, before_session = course_row(course), session_row(session)

    response = treatments_client.post(action_url(COURSES_URL, course.pk, "cancel"), body)

    assert_validation_error(response, attr)
    assert course_row(course) == before_course
    assert session_row(session) == before_session


# --- Sessions: booking --------------------------------------------------------------


def test_booking_a_session_returns_201_with_offset_times_and_fhir_status_booked(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
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


def test_a_time_given_in_another_offset_is_the_same_instant(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(
        SESSIONS_URL, booking_body(course, practitioner, room, "2026-03-03T05:00:00-05:00")
    )

    assert response.status_code == 201, response.content
    assert Session.objects.get().starts_at == at(3, 10)


def test_booking_too_soon_after_the_previous_session_is_refused_by_spacing_with_the_earliest_start(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))
    refused = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(16, 18)))
    earliest = refused.json()["earliest_start"]

    accepted = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, earliest))

    assert accepted.status_code == 201, accepted.content
    assert parse_api_datetime(accepted.json()["starts_at"]) == at(17)


def test_a_practitioner_may_override_spacing_with_a_reason_and_it_is_recorded(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))

    response = treatments_client.post(
        SESSIONS_URL,
        booking_body(
            course,
            practitioner,
            room,
            at(10),
            overrides=[{"rule": "spacing", "reason": "Travelling for a month"}],
            override_by=str(practitioner.pk),
        ),
    )

    assert response.status_code == 201, response.content
    [override] = response.json()["overrides"]
    assert (override["rule"], override["reason"], override["practitioner"]) == (
        "spacing",
        "Travelling for a month",
        str(practitioner.pk),
    )
    assert "14 days" in override["rule_message"]
    assert RuleOverride.objects.get().session_id == uuid.UUID(response.json()["id"])


def test_an_override_by_a_user_who_is_not_a_practitioner_must_name_one(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))
    before = table_counts()

    response = treatments_client.post(
        SESSIONS_URL,
        booking_body(course, practitioner, room, at(10), overrides=[{"rule": "spacing", "reason": "Travelling"}]),
    )

    assert_validation_error(response, "override_by")
    assert table_counts() == before


def test_the_logged_in_practitioner_decides_an_override_when_none_is_named(clock, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))
    for dotted in TREATMENT_PERMISSIONS:
        app_label, codename = dotted.split(".")
        practitioner.user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = APIClient()
    client.force_login(practitioner.user)

    response = client.post(
        SESSIONS_URL,
        booking_body(course, practitioner, room, at(10), overrides=[{"rule": "spacing", "reason": "Travelling"}]),
    )

    assert response.status_code == 201, response.content
    assert RuleOverride.objects.get().practitioner == practitioner


def test_a_peel_within_14_days_after_mesotherapy_is_refused_by_the_conflict_rule(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))
    peel = CourseFactory(patient=course.patient, location=course.location, protocol=peel_protocol())
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(peel, practitioner, room, at(10)))

    body = assert_rule_violation(response, "conflict", earliest_start=at(17))
    assert "chemical peel" in body["errors"][0]["detail"]
    assert table_counts() == before
    assert treatments_client.post(SESSIONS_URL, booking_body(peel, practitioner, room, at(17))).status_code == 201


def test_a_patient_with_medical_flags_is_booked_only_on_a_practitioners_override(
    treatments_client, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    flagged = CourseFactory(location=location, patient=PatientFactory(medical_flags=["anticoagulants"]))

    refused = treatments_client.post(SESSIONS_URL, booking_body(flagged, practitioner, room, at(3)))

    body = assert_rule_violation(refused, "medical_review", earliest_start=None)
    assert "anticoagulants" in body["errors"][0]["detail"]
    assert not Session.objects.exists()
    overridden = treatments_client.post(
        SESSIONS_URL,
        booking_body(
            flagged,
            practitioner,
            room,
            at(3),
            overrides=[{"rule": "medical_review", "reason": "GP letter on file"}],
            override_by=str(practitioner.pk),
        ),
    )
    assert overridden.status_code == 201, overridden.content


def test_booking_outside_opening_hours_is_refused(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(3, 19, 30)))

    body = assert_rule_violation(response, "opening_hours", earliest_start=None)
    assert "08:00–20:00" in body["errors"][0]["detail"]
    assert not Session.objects.exists()


def test_a_course_with_every_planned_session_booked_takes_no_more(
    treatments_client, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    course = CourseFactory(location=location, planned_sessions=3)
    for day in (3, 17, 31):
        book(course, practitioner, room, at(day))
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(14, month=4)))

    body = assert_rule_violation(response, "session_count", earliest_start=None)
    assert "All 3 planned sessions" in body["errors"][0]["detail"]
    assert table_counts() == before


def test_a_taken_practitioner_slot_is_a_409_naming_the_clashing_session(
    treatments_client, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    course = CourseFactory(location=location)
    before_counts, before_course = table_counts(), course_row(course)

    response = treatments_client.post(
        SESSIONS_URL, booking_body(course, practitioner, RoomFactory(location=location), at(3, 10, 30))
    )

    assert_slot_taken(response, taken, "practitioner")
    assert table_counts() == before_counts
    assert course_row(course) == before_course


def test_a_taken_room_is_a_409_naming_the_clashing_session(treatments_client, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    colleague = PractitionerFactory(locations=[location])
    course = CourseFactory(location=location)
    before = table_counts()

    response = treatments_client.post(SESSIONS_URL, booking_body(course, colleague, room, at(3, 9, 30)))

    assert_slot_taken(response, taken, "room")
    assert table_counts() == before


def test_back_to_back_sessions_do_not_clash(treatments_client, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    book(CourseFactory(location=location), practitioner, room, at(3))

    response = treatments_client.post(
        SESSIONS_URL, booking_body(CourseFactory(location=location), practitioner, room, at(3, 10, 45))
    )

    assert response.status_code == 201, response.content


def test_a_cancelled_session_no_longer_holds_its_slot(treatments_client, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    freed = book(CourseFactory(location=location), practitioner, room, at(3))
    services.session_cancel(session=freed, reason="patient_unwell", actor=None)

    response = treatments_client.post(
        SESSIONS_URL, booking_body(CourseFactory(location=location), practitioner, room, at(3))
    )

    assert response.status_code == 201, response.content


def test_a_session_cannot_be_booked_in_the_past(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(2, 7, 45)))

    assert_validation_error(response, "starts_at")
    assert not Session.objects.exists()


def test_a_cancelled_course_takes_no_booking(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    services.course_cancel(course=course, reason="Changed mind", actor=None)

    response = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(3)))

    assert_client_error(response, 409, "invalid_state")
    assert not Session.objects.exists()


def test_a_room_at_another_location_or_a_practitioner_who_works_elsewhere_is_refused(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
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
    pytest.param({"override_by": str(uuid.uuid4())}, "override_by", id="override-by-unknown-practitioner"),
]


@pytest.mark.parametrize(("fields", "attr"), BAD_BOOKING_FIELDS)
def test_a_bad_booking_field_is_a_400_naming_it_and_books_nothing(
    treatments_client, course, practitioner, room, fields, attr
) -> None:  # type: ignore[no-untyped-def]
    before_course = course_row(course)

    response = treatments_client.post(SESSIONS_URL, {**booking_body(course, practitioner, room, at(3)), **fields})

    assert_validation_error(response, attr)
    assert not Session.objects.exists()
    assert not RuleOverride.objects.exists()
    assert course_row(course) == before_course


def test_a_booking_missing_its_start_is_refused(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    body = booking_body(course, practitioner, room, at(3))
    del body["starts_at"]

    assert_validation_error(treatments_client.post(SESSIONS_URL, body), "starts_at")
    assert not Session.objects.exists()


def test_a_start_at_the_very_end_of_the_calendar_is_a_400_not_a_crash(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
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


def test_sessions_cannot_be_edited_or_deleted_directly(treatments_client, clock, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_client_error(
        treatments_client.patch(detail_url(SESSIONS_URL, session.pk), {"status": "completed"}),
        405,
        "method_not_allowed",
    )
    assert_client_error(treatments_client.delete(detail_url(SESSIONS_URL, session.pk)), 405, "method_not_allowed")
    assert session_row(session) == before


# --- Sessions: reschedule ----------------------------------------------------------


def reschedule(client: APIClient, session: Session, **body: Any) -> Any:
    return client.post(action_url(SESSIONS_URL, session.pk, "reschedule"), body)


def test_rescheduling_moves_the_session_keeps_its_length_and_raises_its_sequence(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    other_room = RoomFactory(location=course.location)

    response = reschedule(treatments_client, session, starts_at=at(4, 15).isoformat(), room=str(other_room.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert parse_api_datetime(body["starts_at"]) == at(4, 15)
    assert parse_api_datetime(body["ends_at"]) == at(4, 15, 45)
    assert (body["room"], body["sequence"], body["status"]) == (str(other_room.pk), 1, "booked")
    session.refresh_from_db()
    assert (session.starts_at, session.room, session.practitioner) == (at(4, 15), other_room, practitioner)


def test_rescheduling_into_a_taken_slot_is_a_409_and_leaves_the_session_where_it_was(
    treatments_client, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    moving = book(CourseFactory(location=location), practitioner, RoomFactory(location=location), at(3, 14))
    before = session_row(moving)

    response = reschedule(treatments_client, moving, starts_at=at(3, 10, 15).isoformat())

    assert_slot_taken(response, taken, "practitioner")
    assert session_row(moving) == before


def test_rescheduling_too_close_to_the_course_neighbour_is_refused_by_spacing(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    book(course, practitioner, room, at(3))
    second = book(course, practitioner, room, at(17))
    before = session_row(second)

    response = reschedule(treatments_client, second, starts_at=at(10).isoformat())

    assert_rule_violation(response, "spacing", earliest_start=at(17))
    assert session_row(second) == before
    assert not RuleOverride.objects.exists()


def test_rescheduling_a_cancelled_session_is_a_409_invalid_state(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="patient_request", actor=None
    )
    before = session_row(session)

    response = reschedule(treatments_client, session, starts_at=at(4).isoformat())

    assert_client_error(response, 409, "invalid_state")
    assert session_row(session) == before


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({}, "starts_at", id="no-start"),
        pytest.param({"starts_at": "soon"}, "starts_at", id="start-in-words"),
        pytest.param({"starts_at": "2026-03-01T10:00:00Z"}, "starts_at", id="start-in-the-past"),
        pytest.param({"starts_at": "2026-03-04T10:00:00Z", "ends_at": "x"}, "ends_at", id="unknown-field"),
        pytest.param({"starts_at": "2026-03-04T10:00:00Z", "room": str(uuid.uuid4())}, "room", id="unknown-room"),
        pytest.param(
            {"starts_at": "2026-03-04T10:00:00Z", "practitioner": 5}, "practitioner", id="practitioner-number"
        ),
    ],
)
def test_a_bad_reschedule_is_a_400_naming_the_field_and_moves_nothing(
    treatments_client, course, practitioner, room, body, attr
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_validation_error(reschedule(treatments_client, session, **body), attr)
    assert session_row(session) == before


def test_rescheduling_to_a_room_at_another_location_is_refused(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    response = reschedule(treatments_client, session, starts_at=at(4).isoformat(), room=str(RoomFactory().pk))

    assert_validation_error(response, "room")
    assert session_row(session) == before


# --- Sessions: cancel ------------------------------------------------------------------


def test_cancelling_a_session_records_the_reason_code_and_reads_as_fhir_cancelled(
    treatments_client, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))

    response = treatments_client.post(
        action_url(SESSIONS_URL, session.pk, "cancel"), {"reason": "patient_unwell", "note": "Has a cold"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["cancel_reason"], body["cancel_note"], body["sequence"]) == (
        "cancelled",
        "cancelled",
        "patient_unwell",
        "Has a cold",
        1,
    )
    assert parse_api_datetime(body["cancelled_at"]) == timezone.now()
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (SessionStatus.CANCELLED, "patient_unwell")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({}, "reason", id="no-reason-code"),
        pytest.param({"reason": "bored"}, "reason", id="unknown-reason-code"),
        pytest.param({"reason": "Patient asked"}, "reason", id="reason-label-not-code"),
        pytest.param({"reason": 3}, "reason", id="reason-as-a-number"),
        pytest.param({"reason": "other", "note": ["x"]}, "note", id="note-as-a-list"),
        pytest.param({"reason": "other", "refund": True}, "refund", id="unknown-field"),
    ],
)
def test_a_cancel_without_a_known_reason_code_is_refused_and_changes_nothing(
    treatments_client, course, practitioner, room, body, attr
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_validation_error(treatments_client.post(action_url(SESSIONS_URL, session.pk, "cancel"), body), attr)
    assert session_row(session) == before


def test_cancelling_twice_is_a_409_and_keeps_the_first_reason(treatments_client, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="clinic_closed", actor=None
    )
    before = session_row(session)

    response = treatments_client.post(action_url(SESSIONS_URL, session.pk, "cancel"), {"reason": "other"})

    assert_client_error(response, 409, "invalid_state")
    assert session_row(session) == before


# --- Sessions: complete -----------------------------------------------------------------


def complete_url(session: Session) -> str:
    return action_url(SESSIONS_URL, session.pk, "complete")


def test_completing_records_notes_areas_and_lots_and_reads_as_fhir_fulfilled(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    cocktail = ProductLotFactory(product=ProductFactory(name="Vitamin cocktail"), lot_number="VC-1")
    needle = ProductLotFactory(lot_number="N-7")
    clock.move_to(at(3, 10, 50))

    response = treatments_client.post(
        complete_url(session),
        {
            "notes": "Good tolerance.",
            "treated_areas": ["cheeks", "forehead"],
            "product_uses": [{"lot": str(cocktail.pk), "quantity": "2.5"}, {"lot": str(needle.pk), "quantity": 1}],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["notes"], body["treated_areas"], body["sequence"]) == (
        "completed",
        "fulfilled",
        "Good tolerance.",
        ["cheeks", "forehead"],
        1,
    )
    assert parse_api_datetime(body["completed_at"]) == at(3, 10, 50)
    uses = {use["lot_number"]: use for use in body["product_uses"]}
    assert uses["VC-1"] == {
        "lot": str(cocktail.pk),
        "lot_number": "VC-1",
        "product": str(cocktail.product_id),
        "product_name": "Vitamin cocktail",
        "quantity": "2.50",
    }
    assert uses["N-7"]["quantity"] == "1.00"
    assert {(u.lot_id, u.quantity) for u in SessionProductUse.objects.filter(session=session)} == {
        (cocktail.pk, Decimal("2.50")),
        (needle.pk, Decimal("1.00")),
    }


def test_a_session_may_be_completed_at_an_earlier_instant_after_its_start(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 18))

    response = treatments_client.post(complete_url(session), {"completed_at": at(3, 10, 40).isoformat()})

    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.completed_at == at(3, 10, 40)


def test_completing_a_cancelled_session_is_a_409_invalid_state_and_writes_nothing(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="patient_request", actor=None
    )
    lot = ProductLotFactory()
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = treatments_client.post(
        complete_url(session), {"notes": "x", "product_uses": [{"lot": str(lot.pk), "quantity": "1"}]}
    )

    assert_client_error(response, 409, "invalid_state")
    assert "cancelled" in response.json()["errors"][0]["detail"]
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_an_expired_lot_is_refused_at_completion_and_nothing_is_recorded(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    fresh = ProductLotFactory(expires_on=date(2027, 1, 1))
    expired = ProductLotFactory(lot_number="OLD-1", expires_on=date(2026, 3, 2))
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = treatments_client.post(
        complete_url(session),
        {
            "notes": "Should not be saved",
            "product_uses": [{"lot": str(fresh.pk), "quantity": "1"}, {"lot": str(expired.pk), "quantity": "1"}],
        },
    )

    body = assert_rule_violation(response, "lot_expired", earliest_start=None)
    assert body["errors"][0]["attr"] == "product_uses"
    assert "OLD-1" in body["errors"][0]["detail"]
    assert "2026-03-02" in body["errors"][0]["detail"]
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_a_lot_is_usable_up_to_and_including_its_expiry_day(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    last_day = ProductLotFactory(expires_on=date(2026, 3, 3))
    clock.move_to(at(3, 23, 30))  # late evening in London, still the expiry day

    response = treatments_client.post(
        complete_url(session), {"product_uses": [{"lot": str(last_day.pk), "quantity": "1"}]}
    )

    assert response.status_code == 200, response.content
    assert SessionProductUse.objects.get().lot == last_day


def test_a_session_cannot_be_completed_before_it_starts(treatments_client, clock, course, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 9, 59))
    before = session_row(session)

    assert_validation_error(treatments_client.post(complete_url(session), {"notes": "Early"}), "completed_at")
    assert session_row(session) == before


BAD_COMPLETION_FIELDS = [
    pytest.param({"treated_areas": ["elbow"]}, "treated_areas.0", id="unknown-treated-area"),
    pytest.param({"treated_areas": "cheeks"}, "treated_areas", id="treated-areas-as-a-string"),
    pytest.param({"notes": ["a", "b"]}, "notes", id="notes-as-a-list"),
    pytest.param({"product_uses": [{"lot": "LOT", "quantity": "1"}]}, "product_uses.0.lot", id="lot-not-a-uuid"),
    pytest.param({"product_uses": [{"lot": "UNKNOWN", "quantity": "1"}]}, "product_uses.0.lot", id="unknown-lot"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "0"}]}, "product_uses.0.quantity", id="quantity-0"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "-1"}]}, "product_uses.0.quantity", id="quantity-neg"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "lots"}]}, "product_uses.0.quantity", id="qty-word"),
    pytest.param({"product_uses": [{"lot": "FRESH"}]}, "product_uses.0.quantity", id="quantity-missing"),
    pytest.param(
        {"product_uses": [{"lot": "FRESH", "quantity": "1", "expiry": "2030-01-01"}]},
        "product_uses.0.expiry",
        id="product-use-unknown-field",
    ),
    pytest.param(
        {"product_uses": [{"lot": "FRESH", "quantity": "1"}, {"lot": "FRESH", "quantity": "2"}]},
        "product_uses",
        id="same-lot-twice",
    ),
    pytest.param({"product_uses": {"lot": "FRESH"}}, "product_uses.non_field_errors", id="product-uses-as-an-object"),
    pytest.param({"completed_at": "2026-03-04T10:00:00Z"}, "completed_at", id="completed-in-the-future"),
    pytest.param({"completed_at": "yesterday"}, "completed_at", id="completed-at-in-words"),
    pytest.param({"status": "completed"}, "status", id="unknown-field-status"),
]


def resolve_lots(value: Any, lots: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: resolve_lots(item, lots) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_lots(item, lots) for item in value]
    return lots.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize(("fields", "attr"), BAD_COMPLETION_FIELDS)
def test_a_bad_completion_field_is_a_400_naming_it_and_records_nothing(
    treatments_client, clock, course, practitioner, room, fields, attr
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    lots = {"FRESH": str(ProductLotFactory().pk), "UNKNOWN": str(uuid.uuid4())}
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = treatments_client.post(complete_url(session), resolve_lots({"notes": "x", **fields}, lots))

    assert_validation_error(response, attr)
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_completing_the_last_planned_session_moves_the_course_to_maintenance(
    treatments_client, clock, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    course = CourseFactory(location=location, planned_sessions=3)
    start = at(3)
    for _ in range(3):
        booked = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, start))
        assert booked.status_code == 201, booked.content
        clock.move_to(start + timedelta(minutes=45))
        done = treatments_client.post(action_url(SESSIONS_URL, booked.json()["id"], "complete"), {"notes": "ok"})
        assert done.status_code == 200, done.content
        start = parse_api_datetime(done.json()["completed_at"]) + timedelta(days=14)

    body = treatments_client.get(detail_url(COURSES_URL, course.pk)).json()

    # The last session ended 10:45 on 31 March (London); maintenance is 90–180 days on.
    assert (body["status"], body["sessions_done"]) == ("maintenance", 3)
    assert body["next_maintenance_earliest"] == (date(2026, 3, 31) + timedelta(days=90)).isoformat()
    assert body["next_maintenance_latest"] == (date(2026, 3, 31) + timedelta(days=180)).isoformat()
    maintenance = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(1, 10, month=7)))
    assert maintenance.status_code == 201, maintenance.content
    assert maintenance.json()["kind"] == "maintenance"


# --- Sessions: no-show -------------------------------------------------------------------


def test_a_patient_who_did_not_come_is_marked_no_show_once_the_session_has_started(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    url = action_url(SESSIONS_URL, session.pk, "no-show")
    before = session_row(session)

    assert_validation_error(treatments_client.post(url, {}), "status")
    assert session_row(session) == before

    clock.move_to(at(3, 10, 20))
    response = treatments_client.post(url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["sequence"]) == ("no_show", "noshow", 1)
    assert parse_api_datetime(body["no_show_at"]) == at(3, 10, 20)


def test_a_no_show_takes_no_fields_and_only_a_booked_session_can_be_one(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 11))
    url = action_url(SESSIONS_URL, session.pk, "no-show")
    before = session_row(session)

    assert_validation_error(treatments_client.post(url, {"reason": "late"}), "reason")
    assert session_row(session) == before

    services.session_complete(session=session, actor=None)
    completed = session_row(session)
    assert_client_error(treatments_client.post(url, {}), 409, "invalid_state")
    assert session_row(session) == completed


# --- Every POST: unparseable or non-object bodies, unknown ids ---------------------------


def post_targets(session: Session, lot: ProductLot) -> list[str]:
    return [
        COURSES_URL,
        action_url(COURSES_URL, session.course_id, "cancel"),
        SESSIONS_URL,
        action_url(SESSIONS_URL, session.pk, "reschedule"),
        action_url(SESSIONS_URL, session.pk, "cancel"),
        action_url(SESSIONS_URL, session.pk, "complete"),
        action_url(SESSIONS_URL, session.pk, "no-show"),
        PRODUCTS_URL,
        LOTS_URL,
    ]


POST_TARGET_IDS = [
    "course-create",
    "course-cancel",
    "session-book",
    "reschedule",
    "session-cancel",
    "complete",
    "no-show",
    "product",
    "lot",
]


@pytest.mark.parametrize("target", range(len(POST_TARGET_IDS)), ids=POST_TARGET_IDS)
def test_malformed_json_is_a_400_parse_error_and_changes_nothing(
    treatments_client, clock, course, practitioner, room, target
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    lot = ProductLotFactory()
    clock.move_to(at(3, 11))
    url = post_targets(session, lot)[target]
    before = (table_counts(), session_row(session), course_row(course))

    response = treatments_client.post(url, '{"reason": "patient_request",', content_type="application/json")

    assert_client_error(response, 400, "parse_error")
    assert (table_counts(), session_row(session), course_row(course)) == before


@pytest.mark.parametrize("target", range(len(POST_TARGET_IDS)), ids=POST_TARGET_IDS)
def test_a_json_list_instead_of_an_object_is_refused_and_changes_nothing(
    treatments_client, clock, course, practitioner, room, target
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    lot = ProductLotFactory()
    clock.move_to(at(3, 11))
    url = post_targets(session, lot)[target]
    before = (table_counts(), session_row(session), course_row(course))

    response = treatments_client.post(url, json.dumps([{"reason": "other"}]), content_type="application/json")

    assert_validation_error(response, "non_field_errors")
    assert (table_counts(), session_row(session), course_row(course)) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("courses/{id}/cancel/", {"reason": "x"}, id="course-cancel"),
        pytest.param("sessions/{id}/reschedule/", {"starts_at": "2026-03-04T10:00:00Z"}, id="reschedule"),
        pytest.param("sessions/{id}/cancel/", {"reason": "other"}, id="session-cancel"),
        pytest.param("sessions/{id}/complete/", {}, id="complete"),
        pytest.param("sessions/{id}/no-show/", {}, id="no-show"),
    ],
)
def test_an_action_on_an_unknown_id_is_a_json_404_and_changes_nothing(treatments_client, path, body) -> None:  # type: ignore[no-untyped-def]
    before = table_counts()

    response = treatments_client.post(f"{API}/{path.format(id=uuid.uuid4())}", body)

    assert_client_error(response, 404, "not_found")
    assert table_counts() == before


# --- Session list: filters, ordering, pagination, statuses --------------------------------


def test_the_session_list_shows_every_state_with_its_fhir_status_and_offset_times(
    treatments_client, clock, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    booked, completed, cancelled, no_show = (
        book(CourseFactory(location=location), practitioner, room, at(3, hour)) for hour in (10, 11, 12, 13)
    )
    clock.move_to(at(3, 14))
    services.session_complete(session=completed, actor=None)
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


def test_sessions_filter_by_a_start_date_range(treatments_client, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
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


def test_sessions_filter_by_repeated_status(treatments_client, clock, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
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
) -> None:  # type: ignore[no-untyped-def]
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


def test_sessions_are_ordered_by_start_and_paged(treatments_client, location, practitioner, room) -> None:  # type: ignore[no-untyped-def]
    sessions = [book(CourseFactory(location=location), practitioner, room, at(3, hour)) for hour in (14, 10, 12)]
    by_start = [str(s.pk) for s in sorted(sessions, key=lambda s: s.starts_at)]

    assert listed_ids(treatments_client.get(SESSIONS_URL)) == by_start
    assert listed_ids(treatments_client.get(SESSIONS_URL, {"ordering": "-starts_at"})) == by_start[::-1]
    first = treatments_client.get(SESSIONS_URL, {"page_size": 2})
    second = treatments_client.get(SESSIONS_URL, {"page_size": 2, "page": 2})
    assert first.json()["count"] == 3
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
def test_a_bad_session_filter_is_a_400_naming_the_parameter(treatments_client, params, attr) -> None:  # type: ignore[no-untyped-def]
    assert_validation_error(treatments_client.get(SESSIONS_URL, params), attr)


# --- Query counts: lists do not grow with rows ----------------------------------------------


def completed_session_with_lot_and_override(course: Course) -> Session:
    """A done session carrying a product use and an override, so every prefetch has work to do."""
    session = SessionFactory(course=course, status=SessionStatus.COMPLETED, completed_at=timezone.now())
    SessionProductUse.objects.create(session=session, lot=ProductLotFactory(), quantity=Decimal("1"))
    RuleOverride.objects.create(
        session=session, rule="spacing", reason="r", practitioner=session.practitioner, rule_message="m"
    )
    return session


def count_queries(client: APIClient, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), response


def test_the_session_list_costs_the_same_queries_for_3_or_15_sessions(
    treatments_client, course, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
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


def test_the_course_list_costs_the_same_queries_for_3_or_15_courses(
    treatments_client, location, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
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


# --- Availability --------------------------------------------------------------------------


def availability(client: APIClient, practitioner, location, protocol, date_from, date_to, **extra: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.get(
        AVAILABILITY_URL,
        {
            "practitioner": str(practitioner.pk),
            "location": str(location.pk),
            "protocol": str(protocol.pk),
            "date_from": str(date_from),
            "date_to": str(date_to),
            **extra,
        },
    )


def test_availability_is_opening_hours_minus_live_sessions_of_the_practitioner_and_rooms(
    treatments_client, protocol
) -> None:  # type: ignore[no-untyped-def]
    # Open on Tuesdays only, 09:00–12:00 London; Tuesday 31 March is summer time (UTC+1).
    hampstead = LocationFactory(name="Hampstead", opening_hours=[(1, time(9), time(12))])
    room_a, room_b = RoomFactory(location=hampstead, name="A"), RoomFactory(location=hampstead, name="B")
    evans = PractitionerFactory(locations=[hampstead])
    colleague = PractitionerFactory(locations=[hampstead])
    book(CourseFactory(location=hampstead), evans, room_a, at(31, 10))
    cancelled = book(CourseFactory(location=hampstead), evans, room_b, at(31, 11))
    services.session_cancel(session=cancelled, reason="other", actor=None)
    book(CourseFactory(location=hampstead), colleague, room_b, at(31, 9))

    response = availability(treatments_client, evans, hampstead, protocol, date(2026, 3, 31), date(2026, 4, 1))

    assert response.status_code == 200, response.content
    slots = [
        (parse_api_datetime(s["starts_at"]), parse_api_datetime(s["ends_at"]), set(s["room_ids"]))
        for s in response.json()
    ]
    a, b = str(room_a.pk), str(room_b.pk)
    assert slots == [
        (at(31, 9), at(31, 9, 45), {a}),  # room B is the colleague's until 09:45
        (at(31, 9, 15), at(31, 10), {a}),
        # 09:30–10:30 overlap Dr Evans's own 10:00–10:45 session; the cancelled 11:00 one holds nothing.
        (at(31, 10, 45), at(31, 11, 30), {a, b}),
        (at(31, 11), at(31, 11, 45), {a, b}),
        (at(31, 11, 15), at(31, 12), {a, b}),
    ]
    assert response.json()[0]["starts_at"] in {"2026-03-31T08:00:00Z", "2026-03-31T08:00:00+00:00"}


def test_a_slot_offered_by_availability_can_be_booked(treatments_client, course, practitioner, room, protocol) -> None:  # type: ignore[no-untyped-def]
    slots = availability(treatments_client, practitioner, course.location, protocol, date(2026, 3, 3), date(2026, 3, 3))
    first = slots.json()[0]

    booked = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, first["starts_at"]))

    assert booked.status_code == 201, booked.content
    again = availability(treatments_client, practitioner, course.location, protocol, date(2026, 3, 3), date(2026, 3, 3))
    assert first["starts_at"] not in [s["starts_at"] for s in again.json()]


def test_availability_does_not_offer_slots_that_have_already_begun(
    treatments_client, clock, practitioner, room, protocol
) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(at(2, 10, 5))

    response = availability(
        treatments_client, practitioner, room.location, protocol, date(2026, 3, 2), date(2026, 3, 2)
    )

    starts = [parse_api_datetime(s["starts_at"]) for s in response.json()]
    assert starts[0] == at(2, 10, 15)
    assert starts[-1] == at(2, 19, 15)
    assert all(start >= timezone.now() for start in starts)


def test_availability_spans_at_most_31_days(treatments_client, practitioner, room, protocol) -> None:  # type: ignore[no-untyped-def]
    location = room.location
    widest = availability(treatments_client, practitioner, location, protocol, date(2026, 3, 3), date(2026, 4, 2))
    too_wide = availability(treatments_client, practitioner, location, protocol, date(2026, 3, 3), date(2026, 4, 3))

    assert widest.status_code == 200, widest.content
    # Open 08:00–20:00 every day: 46 starts of 45 minutes at a 15-minute step, for 31 days.
    assert len(widest.json()) == 31 * 46
    assert_validation_error(too_wide, "date_to")


@pytest.mark.parametrize(
    ("change", "attr"),
    [
        pytest.param({"practitioner": None}, "practitioner", id="no-practitioner"),
        pytest.param({"practitioner": str(uuid.uuid4())}, "practitioner", id="unknown-practitioner"),
        pytest.param({"location": "marylebone"}, "location", id="location-not-a-uuid"),
        pytest.param({"protocol": None}, "protocol", id="no-protocol"),
        pytest.param({"date_from": "tomorrow"}, "date_from", id="date-from-in-words"),
        pytest.param({"date_to": "2026-02-30"}, "date_to", id="date-to-impossible"),
        pytest.param({"date_from": "2026-03-10", "date_to": "2026-03-09"}, "date_to", id="range-backwards"),
        pytest.param({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "date_to", id="end-of-the-calendar"),
        pytest.param({"step_minutes": "0"}, "step_minutes", id="step-zero"),
        pytest.param({"step_minutes": "ten"}, "step_minutes", id="step-in-words"),
    ],
)
def test_bad_availability_parameters_are_a_400_naming_them(
    treatments_client, practitioner, location, protocol, change, attr
) -> None:  # type: ignore[no-untyped-def]
    params = {
        "practitioner": str(practitioner.pk),
        "location": str(location.pk),
        "protocol": str(protocol.pk),
        "date_from": "2026-03-03",
        "date_to": "2026-03-04",
    }
    params.update(change)
    params = {key: value for key, value in params.items() if value is not None}

    assert_validation_error(treatments_client.get(AVAILABILITY_URL, params), attr)


# --- Products and lots ------------------------------------------------------------------------


def test_adding_a_product_returns_201_and_it_is_listed(treatments_client) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(
        PRODUCTS_URL,
        {"name": "Nanosoft 0.7", "kind": "multi_injector_needle", "manufacturer": "Fillmed", "unit": "needle"},
    )

    assert response.status_code == 201, response.content
    product = Product.objects.get()
    assert response.json()["id"] == str(product.pk)
    assert (product.name, product.kind, product.manufacturer, product.unit) == (
        "Nanosoft 0.7",
        "multi_injector_needle",
        "Fillmed",
        "needle",
    )
    listed = treatments_client.get(PRODUCTS_URL, {"kind": "multi_injector_needle"})
    assert listed_ids(listed) == [str(product.pk)]
    assert treatments_client.get(detail_url(PRODUCTS_URL, product.pk)).json() == response.json()


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({"kind": "potion"}, "kind", id="unknown-kind"),
        pytest.param({"name": ""}, "name", id="blank-name"),
        pytest.param({"name": {"en": "x"}}, "name", id="name-as-an-object"),
        pytest.param({"manufacturer": None}, "manufacturer", id="manufacturer-null"),
        pytest.param({"is_active": "perhaps"}, "is_active", id="is-active-not-a-boolean"),
        pytest.param({"price": "9.99"}, "price", id="unknown-field"),
        pytest.param({"id": str(uuid.uuid4())}, "id", id="read-only-id"),
    ],
)
def test_a_bad_product_is_a_400_naming_the_field_and_adds_nothing(treatments_client, body, attr) -> None:  # type: ignore[no-untyped-def]
    response = treatments_client.post(
        PRODUCTS_URL, {"name": "Cocktail", "kind": "solution", "manufacturer": "Dermalab", **body}
    )

    assert_validation_error(response, attr)
    assert not Product.objects.exists()


def test_a_product_already_known_from_the_same_manufacturer_is_refused(treatments_client) -> None:  # type: ignore[no-untyped-def]
    ProductFactory(name="Cocktail", manufacturer="Dermalab")

    response = treatments_client.post(
        PRODUCTS_URL, {"name": "Cocktail", "kind": "solution", "manufacturer": "Dermalab"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert Product.objects.count() == 1


def test_registering_lots_and_filtering_them(treatments_client) -> None:  # type: ignore[no-untyped-def]
    needle = ProductFactory(name="Needle", kind="multi_injector_needle")
    solution = ProductFactory(name="Solution", kind="solution")

    fresh = treatments_client.post(
        LOTS_URL,
        {"product": str(needle.pk), "lot_number": "N-1", "expires_on": "2027-06-30", "received_on": "2026-03-01"},
    )
    # An expired lot may be recorded, for the traceability of stock on hand.
    expired = treatments_client.post(
        LOTS_URL, {"product": str(solution.pk), "lot_number": "S-0", "expires_on": "2026-01-31"}
    )

    assert fresh.status_code == 201, fresh.content
    assert expired.status_code == 201, expired.content
    assert (fresh.json()["lot_number"], fresh.json()["expires_on"], fresh.json()["received_on"]) == (
        "N-1",
        "2027-06-30",
        "2026-03-01",
    )
    assert ProductLot.objects.count() == 2

    def lot_numbers(**params: Any) -> list[str]:
        return [row["lot_number"] for row in results(treatments_client.get(LOTS_URL, params))]

    assert lot_numbers() == ["S-0", "N-1"]  # soonest expiry first
    assert lot_numbers(expires_before="2026-03-02") == ["S-0"]
    assert lot_numbers(kind="multi_injector_needle") == ["N-1"]
    assert lot_numbers(product=str(solution.pk)) == ["S-0"]
    assert_validation_error(treatments_client.get(LOTS_URL, {"expires_before": "soon"}), "expires_before")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({"product": str(uuid.uuid4())}, "product", id="unknown-product"),
        pytest.param({"product": "cocktail"}, "product", id="product-not-a-uuid"),
        pytest.param({"expires_on": "soon"}, "expires_on", id="expiry-in-words"),
        pytest.param({"expires_on": "2027-06-30T00:00:00Z"}, "expires_on", id="expiry-as-a-datetime"),
        pytest.param({"expires_on": None}, "expires_on", id="expiry-null"),
        pytest.param({"lot_number": ""}, "lot_number", id="blank-lot-number"),
        pytest.param({"batch": "x"}, "batch", id="unknown-field"),
        pytest.param({"created_at": "2026-01-01T00:00:00Z"}, "created_at", id="read-only-created-at"),
    ],
)
def test_a_bad_lot_is_a_400_naming_the_field_and_registers_nothing(treatments_client, body, attr) -> None:  # type: ignore[no-untyped-def]
    product = ProductFactory()

    response = treatments_client.post(
        LOTS_URL, {"product": str(product.pk), "lot_number": "L-1", "expires_on": "2027-01-01", **body}
    )

    assert_validation_error(response, attr)
    assert not ProductLot.objects.exists()


def test_a_lot_number_already_registered_for_the_product_is_refused(treatments_client) -> None:  # type: ignore[no-untyped-def]
    existing = ProductLotFactory(lot_number="L-1")

    response = treatments_client.post(
        LOTS_URL, {"product": str(existing.product_id), "lot_number": "L-1", "expires_on": "2027-01-01"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert ProductLot.objects.count() == 1
    # The same number from another product is a different lot.
    other = treatments_client.post(
        LOTS_URL, {"product": str(ProductFactory().pk), "lot_number": "L-1", "expires_on": "2027-01-01"}
    )
    assert other.status_code == 201, other.content


def test_products_and_lots_cannot_be_changed_or_deleted_through_the_api(treatments_client) -> None:  # type: ignore[no-untyped-def]
    lot = ProductLotFactory(lot_number="L-1")

    assert_client_error(
        treatments_client.patch(detail_url(LOTS_URL, lot.pk), {"lot_number": "X"}), 405, "method_not_allowed"
    )
    assert_client_error(treatments_client.delete(detail_url(LOTS_URL, lot.pk)), 405, "method_not_allowed")
    assert_client_error(treatments_client.delete(detail_url(PRODUCTS_URL, lot.product_id)), 405, "method_not_allowed")
    lot.refresh_from_db()
    assert lot.lot_number == "L-1"


def test_the_recall_list_names_every_patient_and_session_that_received_a_lot(
    treatments_client, clock, location, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    recalled = ProductLotFactory(lot_number="RECALL-1")
    other_lot = ProductLotFactory(lot_number="SAFE-1")
    alice, bella, carol = (PatientFactory(first_name=name, last_name="Smith") for name in ("Alice", "Bella", "Carol"))
    sessions = {}
    for hour, patient in ((10, alice), (11, bella), (12, carol)):
        sessions[patient.first_name] = book(
            CourseFactory(location=location, patient=patient), practitioner, room, at(3, hour)
        )
    clock.move_to(at(3, 13))
    for name, lot, quantity in (("Alice", recalled, "1.5"), ("Bella", other_lot, "1"), ("Carol", recalled, "2")):
        done = treatments_client.post(
            complete_url(sessions[name]), {"product_uses": [{"lot": str(lot.pk), "quantity": quantity}]}
        )
        assert done.status_code == 200, done.content
        clock.shift(timedelta(minutes=5))

    response = treatments_client.get(action_url(LOTS_URL, recalled.pk, "recipients"))

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    rows = response.json()["results"]
    assert [(row["patient"], row["patient_name"], row["session"], row["quantity"]) for row in rows] == [
        (str(alice.pk), alice.full_name, str(sessions["Alice"].pk), "1.50"),
        (str(carol.pk), carol.full_name, str(sessions["Carol"].pk), "2.00"),
    ]
    assert rows[0]["practitioner"] == str(practitioner.pk)
    assert parse_api_datetime(rows[0]["session_starts_at"]) == at(3, 10)
    assert parse_api_datetime(rows[0]["completed_at"]) == at(3, 13)
    assert parse_api_datetime(rows[1]["completed_at"]) == at(3, 13, 10)
    paged = treatments_client.get(action_url(LOTS_URL, recalled.pk, "recipients"), {"page_size": 1, "page": 2})
    assert [row["patient"] for row in paged.json()["results"]] == [str(carol.pk)]


def test_the_recall_list_of_an_unused_lot_is_empty_and_of_an_unknown_lot_a_404(treatments_client) -> None:  # type: ignore[no-untyped-def]
    unused = ProductLotFactory()

    response = treatments_client.get(action_url(LOTS_URL, unused.pk, "recipients"))

    assert response.status_code == 200, response.content
    assert (response.json()["count"], response.json()["results"]) == (0, [])
    assert_client_error(treatments_client.get(action_url(LOTS_URL, uuid.uuid4(), "recipients")), 404, "not_found")


# --- Concurrency: twenty bookings race for one slot against a real server -------------------


@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_bookings_of_one_practitioner_slot_let_exactly_one_through(live_server) -> None:  # type: ignore[no-untyped-def]
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


def test_availability_for_a_practitioner_who_does_not_work_there_is_a_400(
    treatments_client, location, protocol
) -> None:  # type: ignore[no-untyped-def]
    elsewhere = PractitionerFactory(locations=[LocationFactory()])

    response = treatments_client.get(
        AVAILABILITY_URL,
        {
            "practitioner": str(elsewhere.pk),
            "location": str(location.pk),
            "protocol": str(protocol.pk),
            "date_from": "2026-03-03",
            "date_to": "2026-03-04",
        },
    )

    assert_validation_error(response, "practitioner")


def test_a_treated_area_named_twice_is_refused_and_the_session_stays_booked(
    treatments_client, clock, course, practitioner, room
) -> None:  # type: ignore[no-untyped-def]
    session = book(course, practitioner, room, at(3))
    clock.move_to(session.ends_at)

    response = treatments_client.post(complete_url(session), {"treated_areas": ["cheeks", "cheeks"]})

    assert_validation_error(response, "treated_areas")
    session.refresh_from_db()
    assert session.status == "booked"
