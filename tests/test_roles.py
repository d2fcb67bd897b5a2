"""Each role sees and changes only what it needs: every endpoint × every role.

Roles are the Django groups made by a migration (clinic admin, front desk,
practitioner) and API keys by scope (read, book). Object-level: a
practitioner reads the clinical notes of their own sessions only; the front
desk and integrations never read clinical notes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from aftercare.side_effects import side_effect_report_create
from clinic.roles import CLINIC_ADMIN, FRONT_DESK, PRACTITIONER
from integrations.services import api_key_create
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    ProductLotFactory,
    RoomFactory,
    UserFactory,
)
from tests.treatments.conftest import LONDON
from tests.treatments.conftest import clock as clock  # the fixture, shared
from treatments import services

pytestmark = pytest.mark.django_db

ROLES = ["admin", "front_desk", "practitioner", "other_practitioner", "key_read", "key_book", "anonymous"]


@pytest.fixture
def scene(clock):
    """A clinic with one completed session (with notes) by practitioner A, one booked, and a red-flag report."""
    location = LocationFactory()
    room = RoomFactory(location=location)
    users = {
        "admin": UserFactory(username="role-admin"),
        "front_desk": UserFactory(username="role-desk"),
        "practitioner": UserFactory(username="role-pa"),
        "other_practitioner": UserFactory(username="role-pb"),
    }
    users["admin"].groups.add(Group.objects.get(name=CLINIC_ADMIN))
    users["front_desk"].groups.add(Group.objects.get(name=FRONT_DESK))
    for name in ("practitioner", "other_practitioner"):
        users[name].groups.add(Group.objects.get(name=PRACTITIONER))
    mine = PractitionerFactory(user=users["practitioner"], locations=[location])
    PractitionerFactory(user=users["other_practitioner"], locations=[location])
    patient = PatientFactory(medical_notes="Warfarin 5 mg daily.")
    course = CourseFactory(patient=patient, location=location)
    done = services.session_book(
        course=course, practitioner=mine, room=room, starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON), actor=None
    )
    clock.move_to(done.ends_at)
    done = services.session_complete(session=done, actor=None, notes="Mild erythema, 2 ml cheeks.")
    booked = services.session_book(
        course=course, practitioner=mine, room=room, starts_at=datetime(2026, 3, 18, 10, tzinfo=LONDON), actor=None
    )
    report = side_effect_report_create(
        patient=patient, session=done, symptoms=["rash"], severity="mild", onset_on=date(2026, 3, 3), actor=None
    )
    lot = ProductLotFactory()
    keys = {
        "key_read": api_key_create(name="Reader", scopes=["read"], actor=None)[1],
        "key_book": api_key_create(name="Booker", scopes=["book"], actor=None)[1],
    }
    return {
        "users": users,
        "keys": keys,
        "location": location,
        "room": room,
        "practitioner": mine,
        "patient": patient,
        "course": course,
        "done": done,
        "booked": booked,
        "report": report,
        "lot": lot,
    }


def client_as(role: str, scene: dict[str, Any]) -> APIClient:
    client = APIClient()
    if role in scene["users"]:
        client.force_login(scene["users"][role])
    elif role in scene["keys"]:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {scene['keys'][role]}")
    return client


READS = {
    "patients": lambda s: "/api/v1/patients/",
    "patient": lambda s: f"/api/v1/patients/{s['patient'].pk}/",
    "consents": lambda s: f"/api/v1/patients/{s['patient'].pk}/consents/",
    "locations": lambda s: "/api/v1/locations/",
    "rooms": lambda s: "/api/v1/rooms/",
    "practitioners": lambda s: "/api/v1/practitioners/",
    "protocols": lambda s: "/api/v1/protocols/",
    "courses": lambda s: "/api/v1/courses/",
    "sessions": lambda s: "/api/v1/sessions/",
    "session": lambda s: f"/api/v1/sessions/{s['done'].pk}/",
    "worklist": lambda s: "/api/v1/worklist/",
    "products": lambda s: "/api/v1/products/",
    "lots": lambda s: "/api/v1/lots/",
    "lot_recipients": lambda s: f"/api/v1/lots/{s['lot'].pk}/recipients/",
    "messages": lambda s: "/api/v1/messages/",
    "side_effect_reports": lambda s: "/api/v1/side-effect-reports/",
}
NO = 403
# Who may read what; everyone else gets 403.
READ_DENIED = {
    "anonymous": set(READS),
    "key_read": set(),
    "key_book": set(),
    "front_desk": set(),
    "practitioner": set(),
    "other_practitioner": set(),
    "admin": set(),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(READS))
def test_reads_by_role(scene, role: str, endpoint: str) -> None:
    response = client_as(role, scene).get(READS[endpoint](scene))
    expected = NO if endpoint in READ_DENIED[role] else 200
    assert response.status_code == expected, response.content


def book_body(scene: dict[str, Any]) -> dict[str, Any]:
    other_course = CourseFactory(location=scene["location"])
    return {
        "course": str(other_course.pk),
        "practitioner": str(scene["practitioner"].pk),
        "room": str(scene["room"].pk),
        "starts_at": datetime(2026, 3, 5, 12, tzinfo=LONDON).isoformat(),
    }


WRITES = {
    "create_patient": (
        lambda s: "/api/v1/patients/",
        lambda s: {"first_name": "N", "last_name": "P", "email": "n@example.com", "date_of_birth": "1990-01-01"},
        201,
    ),
    "book_session": (lambda s: "/api/v1/sessions/", book_body, 201),
    "cancel_session": (lambda s: f"/api/v1/sessions/{s['booked'].pk}/cancel/", lambda s: {"reason": "other"}, 200),
    "complete_session": (lambda s: f"/api/v1/sessions/{s['booked'].pk}/complete/", lambda s: {"notes": "x"}, 400),
    "report_side_effect": (
        lambda s: "/api/v1/side-effect-reports/",
        lambda s: {
            "patient": str(s["patient"].pk),
            "symptoms": ["redness"],
            "severity": "mild",
            "onset_on": "2026-03-03",
        },
        201,
    ),
    "resolve_report": (
        lambda s: f"/api/v1/side-effect-reports/{s['report'].pk}/resolve/",
        lambda s: {"resolution_note": "Called; settling.", "practitioner": str(s["practitioner"].pk)},
        200,
    ),
    "add_lot": (
        lambda s: "/api/v1/lots/",
        lambda s: {"product": str(s["lot"].product_id), "lot_number": "NEW-1", "expires_on": "2027-01-01"},
        201,
    ),
}
# (Completing a session that has not started is a 400 for those allowed: the
# permission check comes first, so anything but 403 proves they got past it.)
WRITE_ALLOWED = {
    "admin": set(WRITES),
    "front_desk": {"create_patient", "book_session", "cancel_session", "report_side_effect"},
    "practitioner": {"complete_session", "report_side_effect", "resolve_report", "add_lot", "cancel_session"},
    "other_practitioner": {"complete_session", "report_side_effect", "resolve_report", "add_lot", "cancel_session"},
    "key_read": set(),
    "key_book": {"create_patient", "book_session", "cancel_session", "report_side_effect"},
    "anonymous": set(),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(WRITES))
def test_writes_by_role(scene, role: str, operation: str) -> None:
    url, body, success = WRITES[operation]
    response = client_as(role, scene).post(url(scene), body(scene), format="json")
    expected = success if operation in WRITE_ALLOWED[role] else NO
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("role", "sees_notes"),
    [
        ("admin", True),
        ("practitioner", True),
        ("other_practitioner", False),
        ("front_desk", False),
        ("key_read", False),
        ("key_book", False),
    ],
)
def test_clinical_notes_are_for_the_treating_practitioner_and_admins(scene, role: str, sees_notes: bool) -> None:
    client = client_as(role, scene)

    session = client.get(f"/api/v1/sessions/{scene['done'].pk}/").json()
    listed = {s["id"]: s for s in client.get("/api/v1/sessions/").json()["results"]}[str(scene["done"].pk)]
    patient = client.get(f"/api/v1/patients/{scene['patient'].pk}/").json()

    if sees_notes:
        assert session["notes"] == listed["notes"] == "Mild erythema, 2 ml cheeks."
        assert patient["medical_notes"] == "Warfarin 5 mg daily."
    else:
        assert session["notes"] is None and listed["notes"] is None
        assert session["treated_areas"] is None
        assert patient["medical_notes"] is None
    assert session["status"] == "completed", "the rest of the session stays visible"
