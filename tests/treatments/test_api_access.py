"""Who may use the treatments REST API, and how every endpoint answers a request
it cannot take.

An anonymous visitor is refused on every endpoint; staff need the permission
for what they do (completing a session is clinical, and the recall list names
patients). An unknown or malformed id is a JSON 404, and a body that is not
JSON, or not a JSON object, is a 400 on every POST. Every refusal is JSON in
the drf-standardized-errors shape, and after it the database is exactly as it
was.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London, so bookings lie in the future and completions
can come after the start.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api_assertions import assert_client_error, assert_validation_error
from tests.factories import CourseFactory, ProductLotFactory
from tests.treatments.api_helpers import (
    API,
    AVAILABILITY_URL,
    COURSES_URL,
    LOCATIONS_URL,
    LOTS_URL,
    PRACTITIONERS_URL,
    PRODUCTS_URL,
    PROTOCOLS_URL,
    ROOMS_URL,
    SESSIONS_URL,
    TREATMENT_PERMISSIONS,
    action_url,
    booking_body,
    client_for,
    course_row,
    detail_url,
    session_row,
    table_counts,
)
from tests.treatments.conftest import at, book
from treatments.models import ProductLot, Session, SessionProductUse

pytestmark = pytest.mark.django_db


# --- Who may use the API --------------------------------------------------------------


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


def test_an_anonymous_visitor_is_refused_on_every_treatments_endpoint(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    lot = ProductLotFactory()
    before_session, before_counts = session_row(session), table_counts()
    anonymous = APIClient()

    for method, url, body in anonymous_requests(session, lot):
        response = getattr(anonymous, method)(url, body) if method == "post" else anonymous.get(url)
        assert_client_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Bearer"

    assert session_row(session) == before_session
    assert table_counts() == before_counts


def test_front_desk_staff_with_only_patient_permissions_cannot_read_or_book_sessions(
    api_client, clock, course, practitioner, room
) -> None:
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
) -> None:
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


def test_the_recall_list_needs_permission_to_read_patients(clock) -> None:
    lot = ProductLotFactory()
    stock_keeper = client_for("stock", [p for p in TREATMENT_PERMISSIONS if p != "patients.view_patient"])

    assert_client_error(stock_keeper.get(action_url(LOTS_URL, lot.pk, "recipients")), 403, "permission_denied")
    # Lots themselves name no patient and stay readable.
    assert stock_keeper.get(detail_url(LOTS_URL, lot.pk)).status_code == 200


# --- Every endpoint: unknown ids, unparseable or non-object bodies --------------------


@pytest.mark.parametrize(
    "base",
    [LOCATIONS_URL, ROOMS_URL, PRACTITIONERS_URL, PROTOCOLS_URL, COURSES_URL, SESSIONS_URL, PRODUCTS_URL, LOTS_URL],
)
def test_an_unknown_or_malformed_id_is_a_json_404(treatments_client, base) -> None:
    assert_client_error(treatments_client.get(detail_url(base, uuid.uuid4())), 404, "not_found")
    assert_client_error(treatments_client.get(detail_url(base, "12345")), 404, "not_found")


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
) -> None:
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
) -> None:
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
def test_an_action_on_an_unknown_id_is_a_json_404_and_changes_nothing(treatments_client, path, body) -> None:
    before = table_counts()

    response = treatments_client.post(f"{API}/{path.format(id=uuid.uuid4())}", body)

    assert_client_error(response, 404, "not_found")
    assert table_counts() == before
