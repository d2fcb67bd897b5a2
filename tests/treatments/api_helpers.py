"""What the treatments API tests share: the endpoints, the permissions a
clinician holds, request bodies, the rows and counts that prove a refusal
changed nothing, and the assertions for a rule refusal and a taken slot.

A rule refusal is a 400 naming the rule, saying why in words and giving the
earliest allowed start; a taken slot is a 409 naming the clashing session.
The generic refusal shapes are in tests/api_assertions.py; the `clinician`
and `treatments_client` fixtures are in conftest.py beside this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from aftercare.models import ScheduledMessage
from tests.api_assertions import parse_api_datetime
from tests.factories import UserFactory
from treatments.models import (
    Course,
    Product,
    ProductLot,
    Protocol,
    RuleOverride,
    Session,
    SessionProductUse,
    TreatmentCategory,
)

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
    "treatments.book_for_any_practitioner",
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


def client_for(username: str, permissions: list[str]) -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(username=username, permissions=permissions))
    return client


def detail_url(base: str, pk: object) -> str:
    return f"{base}{pk}/"


def action_url(base: str, pk: object, action: str) -> str:
    return f"{base}{pk}/{action}/"


def booking_body(course, practitioner, room, starts_at: datetime | str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "course": str(course.pk),
        "practitioner": str(practitioner.pk),
        "room": str(room.pk),
        "starts_at": starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at,
    }
    body.update(extra)
    return body


def reschedule(client: APIClient, session: Session, **body: Any) -> Any:
    return client.post(action_url(SESSIONS_URL, session.pk, "reschedule"), body)


def complete_url(session: Session) -> str:
    return action_url(SESSIONS_URL, session.pk, "complete")


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


def count_queries(client: APIClient, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), response


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
