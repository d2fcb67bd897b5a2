"""Every change to patient, course, session, consent and side-effect data is recorded: who, when, what."""

from __future__ import annotations

from datetime import datetime

import pytest
from rest_framework.test import APIClient

from integrations.services import api_key_create
from patients.models import Patient
from tests.factories import PatientFactory, UserFactory
from tests.treatments.conftest import LONDON
from tests.treatments.conftest import clock as clock  # the fixtures, shared
from tests.treatments.conftest import course as course
from tests.treatments.conftest import location as location
from tests.treatments.conftest import practitioner as practitioner
from tests.treatments.conftest import protocol as protocol
from tests.treatments.conftest import room as room
from treatments import services
from treatments.models import Session, SessionStatus

pytestmark = pytest.mark.django_db


def test_an_api_change_by_staff_records_the_user_the_time_and_the_values() -> None:
    patient = PatientFactory(first_name="Amelia")
    desk = UserFactory(username="desk", permissions=["patients.view_patient", "patients.change_patient"])
    client = APIClient()
    client.force_login(desk)

    client.patch(f"/api/v1/patients/{patient.pk}/", {"first_name": "Amy"}, format="json")

    latest = patient.history.latest()
    assert (latest.history_type, latest.first_name, latest.history_user, latest.history_actor) == (
        "~",
        "Amy",
        desk,
        "desk",
    )
    previous = latest.prev_record
    assert previous.first_name == "Amelia"
    assert [change.field for change in latest.diff_against(previous).changes] == ["first_name"]


def test_an_integration_change_is_attributed_to_its_key() -> None:
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post(
        "/api/v1/patients/",
        {"first_name": "Ada", "last_name": "King", "email": "ada@example.com", "date_of_birth": "1990-01-01"},
        format="json",
    )

    created = Patient.objects.get(pk=response.json()["id"]).history.get()
    assert (created.history_type, created.history_user, created.history_actor) == ("+", None, "integration:Booking app")


def test_cancelling_a_course_records_each_cancelled_session_in_the_trail(clock, course, practitioner, room) -> None:
    """A bulk write: one UPDATE for many sessions, and still one history row each."""
    first = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )
    second = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 17, 11, tzinfo=LONDON),
        actor=None,
        overrides=[services.Override(rule="spacing", reason="test")],
        override_by=practitioner,
    )
    admin = UserFactory(username="boss", is_superuser=True)

    services.course_cancel(course=course, reason="Patient moved away", actor=admin)

    for session in (first, second):
        latest = Session.history.filter(id=session.pk).latest()
        assert latest.status == SessionStatus.CANCELLED
        assert latest.cancel_note == "Patient moved away"
        assert latest.history_user == admin
        assert Session.history.filter(id=session.pk).count() == 2, "booked, then cancelled"
    assert course.history.latest().status == "cancelled"


def test_the_history_is_visible_in_the_admin(client, admin_user) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory(first_name="Grace")
    patient.first_name = "Gracie"
    patient.save()
    client.force_login(admin_user)

    page = client.get(f"/admin/patients/patient/{patient.pk}/history/")

    assert page.status_code == 200
    assert "Gracie" in page.content.decode()
    assert "Grace" in page.content.decode()
