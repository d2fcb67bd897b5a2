"""Every change to patient, course, session, consent and side-effect data is recorded: who, when, what."""

from __future__ import annotations

from datetime import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from rest_framework.test import APIClient
from simple_history.models import HistoricalRecords

from clinic.actors import PatientActor, is_integration, is_patient
from integrations.services import api_key_create
from patients import services as patient_services
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
        actor=practitioner.user,
        overrides=[services.Override(rule="spacing", reason="test")],
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


def test_the_history_is_visible_in_the_admin(client, admin_user) -> None:
    patient = PatientFactory(first_name="Grace")
    patient.first_name = "Gracie"
    patient.save()
    client.force_login(admin_user)

    page = client.get(f"/admin/patients/patient/{patient.pk}/history/")

    assert page.status_code == 200
    assert "Gracie" in page.content.decode()
    assert "Grace" in page.content.decode()


def test_a_command_run_on_behalf_of_a_user_is_attributed_to_that_user(clock, course, practitioner, room) -> None:
    """No request, no thread-local user: the actor the command hands the services is what the trail records."""
    booked = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )
    dpo = UserFactory(username="dpo", permissions=["patients.erase_patient"])

    call_command("erase_patient", str(course.patient_id), "--as", "dpo", stdout=StringIO())

    erased = course.patient.history.latest()
    assert (erased.history_user, erased.history_actor, erased.first_name) == (dpo, "dpo", "Erased")
    cancelled = Session.history.filter(id=booked.pk).latest()
    assert (cancelled.status, cancelled.history_user, cancelled.history_actor) == ("cancelled", dpo, "dpo")


def test_a_command_refuses_a_user_without_the_permission_and_changes_nothing(course) -> None:
    UserFactory(username="desk")

    with pytest.raises(CommandError, match="may not erase"):
        call_command("erase_patient", str(course.patient_id), "--as", "desk", stdout=StringIO())

    course.patient.refresh_from_db()
    assert course.patient.erased_at is None


def test_the_actor_given_to_a_service_wins_over_the_user_of_the_request_around_it() -> None:
    """A view that acts for someone else (or a task run inside a test request) records who it acts for."""
    patient = PatientFactory(first_name="Ada")
    desk = UserFactory(username="desk")
    doctor = UserFactory(username="dr.evans")
    request = RequestFactory().post("/")
    request.user = desk
    HistoricalRecords.context.request = request
    try:
        patient_services.patient_update(patient=patient, actor=doctor, data={"first_name": "Adah"})
        patient_services.patient_update(patient=patient, actor=None, data={"first_name": "Ada"})
    finally:
        del HistoricalRecords.context.request

    by_doctor, by_system = patient.history.order_by("-history_date")[1], patient.history.latest()
    assert (by_doctor.first_name, by_doctor.history_user, by_doctor.history_actor) == ("Adah", doctor, "dr.evans")
    assert (by_system.history_user, by_system.history_actor) == (None, "system")


def test_a_service_called_without_saying_who_acts_is_refused() -> None:
    patient = PatientFactory()

    with pytest.raises(TypeError, match="needs actor="):
        patient_services.patient_update(patient=patient, data={"first_name": "Bo"})


def test_a_change_the_patient_makes_themself_is_recorded_as_theirs_through_its_door() -> None:
    patient = PatientFactory()
    consent = patient_services.consent_give(
        patient=patient, kind="service_messages", version="v1", actor=UserFactory(username="desk")
    )
    themself = PatientActor(patient_id=patient.pk, door="SMS reply")

    patient_services.consent_revoke(consent=consent, actor=themself)

    latest = consent.history.latest()
    assert (latest.history_type, latest.history_user, latest.history_actor) == ("~", None, "patient:SMS reply")
    assert is_patient(themself) and not is_integration(themself)
