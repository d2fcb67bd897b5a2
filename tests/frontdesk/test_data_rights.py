"""A patient's data rights: everything held, exported; personal data erased, clinical skeleton kept."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SuppressionReason
from frontdesk.data_rights import patient_erase, patient_export
from integrations.services import api_key_create
from patients import services as patient_services
from patients.models import ConsentKind, Patient
from tests.factories import PatientFactory, ProductLotFactory, UserFactory
from tests.treatments.conftest import LONDON
from tests.treatments.conftest import clock as clock  # the fixture, shared
from tests.treatments.conftest import course as course
from tests.treatments.conftest import location as location
from tests.treatments.conftest import practitioner as practitioner
from tests.treatments.conftest import protocol as protocol
from tests.treatments.conftest import room as room
from treatments import services
from treatments.models import SessionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def treated_patient(clock, course, practitioner, room):
    """Amelia Hart: consented, one completed session with a lot, one booked, messages pending."""
    patient = course.patient
    patient_services.patient_update(
        patient=patient,
        actor=None,
        data={
            "first_name": "Amelia",
            "last_name": "Hart",
            "email": "amelia@example.com",
            "phone": "+447911123456",
            "date_of_birth": date(1988, 4, 12),
            "medical_notes": "Takes warfarin.",
        },
    )
    patient_services.consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="v1", actor=None)
    lot = ProductLotFactory(lot_number="HA-1")
    done = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=None,
    )
    clock.move_to(done.ends_at)
    done = services.session_complete(
        session=done,
        actor=practitioner.user,
        notes="2 ml cheeks, well tolerated.",
        product_uses=[services.ProductUse(lot=lot, quantity=Decimal("2"))],
    )
    booked = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 3, 20, 10, tzinfo=LONDON),
        actor=None,
    )
    patient.refresh_from_db()
    return {"patient": patient, "done": done, "booked": booked, "lot": lot}


def test_the_export_holds_everything_on_the_patient(treated_patient) -> None:
    document = patient_export(patient=treated_patient["patient"], actor=None)

    assert document["patient"]["first_name"] == "Amelia"
    assert document["patient"]["phone"] == "+447911123456"
    assert document["patient"]["medical_notes"] == "Takes warfarin."
    assert sorted(c["kind"] for c in document["consents"]) == ["service_messages", "treatment"]
    [course] = document["courses"]
    sessions = {s["id"]: s for s in course["sessions"]}
    done = sessions[str(treated_patient["done"].pk)]
    assert done["notes"] == "2 ml cheeks, well tolerated."
    assert done["product_uses"] == [
        {"product": treated_patient["lot"].product.name, "lot_number": "HA-1", "quantity": "2.00"}
    ]
    assert {m["kind"] for m in document["messages"]} >= {"aftercare", "appointment_reminder"}
    assert len(document["history"]) >= 2, "creation and the update are in the audit trail"
    json.dumps(document)  # plain JSON all the way down


def test_an_export_by_someone_without_the_clinical_record_holds_no_clinical_field(treated_patient) -> None:
    """A manage-scope key's export held every clinical note."""
    _, raw_key = api_key_create(name="Data rights desk", scopes=["manage"], actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    document = client.get(f"/api/v1/patients/{treated_patient['patient'].pk}/export/").json()

    assert (document["patient"]["medical_flags"], document["patient"]["medical_notes"]) == (None, None)
    [course] = document["courses"]
    assert {(s["notes"], s["treated_areas"]) for s in course["sessions"]} == {(None, None)}
    assert "warfarin" not in json.dumps(document)
    assert document["patient"]["first_name"] == "Amelia", "everything else is still there"


def test_erasure_anonymises_the_person_and_keeps_the_clinical_skeleton(treated_patient) -> None:
    patient = patient_erase(patient=treated_patient["patient"], actor=None)

    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.email, str(patient.phone or "")) == (
        "Erased",
        "Patient",
        "",
        "",
    )
    assert patient.date_of_birth == date(1988, 1, 1)
    assert patient.medical_notes == ""
    assert patient.erased_at is not None
    # The clinical record stays: the completed session, its notes and the lot used (for recalls).
    done = treated_patient["done"]
    done.refresh_from_db()
    assert done.status == SessionStatus.COMPLETED
    assert done.notes == "2 ml cheeks, well tolerated."
    assert treated_patient["lot"].uses.get().session == done
    # What was still to happen will not.
    booked = treated_patient["booked"]
    booked.refresh_from_db()
    assert booked.status == SessionStatus.CANCELLED
    pending = ScheduledMessage.objects.filter(patient=patient, status=MessageStatus.PENDING)
    assert not pending.exists()
    suppressed = ScheduledMessage.objects.filter(patient=patient, status=MessageStatus.SUPPRESSED)
    assert suppressed.exists()
    assert set(suppressed.values_list("suppressed_reason", flat=True)) == {SuppressionReason.PATIENT_ERASED}
    assert not ScheduledMessage.objects.filter(patient=patient).exclude(body="").exists(), "texts named her"
    assert ScheduledMessage.objects.filter(patient=patient, kind=MessageKind.AFTERCARE).exists(), "skeleton kept"
    # The audit trail keeps who and when, not the name.
    history = list(patient.history.all())
    assert len(history) >= 3
    assert {h.first_name for h in history} == {"Erased"}
    assert {h.email for h in history} == {""}


def test_erasing_twice_is_refused(treated_patient) -> None:
    from clinic.errors import InvalidState

    patient_erase(patient=treated_patient["patient"], actor=None)
    with pytest.raises(InvalidState):
        patient_erase(patient=treated_patient["patient"], actor=None)


def test_export_and_erasure_through_the_api_need_the_manage_scope(treated_patient) -> None:
    patient = treated_patient["patient"]
    book_key = api_key_create(name="Widget", scopes=["book"], actor=None)[1]
    manage_key = api_key_create(name="DPO tool", scopes=["manage"], actor=None)[1]
    booker, manager = APIClient(), APIClient()
    booker.credentials(HTTP_AUTHORIZATION=f"Bearer {book_key}")
    manager.credentials(HTTP_AUTHORIZATION=f"Bearer {manage_key}")

    assert booker.get(f"/api/v1/patients/{patient.pk}/export/").status_code == 403
    assert booker.post(f"/api/v1/patients/{patient.pk}/erase/").status_code == 403
    exported = manager.get(f"/api/v1/patients/{patient.pk}/export/")
    assert exported.status_code == 200
    assert exported.json()["patient"]["last_name"] == "Hart"

    erased = manager.post(f"/api/v1/patients/{patient.pk}/erase/")
    assert erased.status_code == 200
    assert erased.json()["last_name"] == "Patient"
    assert erased.json()["erased_at"] is not None
    again = manager.post(f"/api/v1/patients/{patient.pk}/erase/")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invalid_state"


def test_the_admin_exports_and_erases_by_action(client, admin_user, treated_patient) -> None:
    patient = treated_patient["patient"]
    client.force_login(admin_user)

    download = client.post(
        "/admin/patients/patient/", {"action": "export_selected", "_selected_action": [str(patient.pk)]}
    )
    assert download["Content-Type"] == "application/json"
    assert json.loads(download.content)[0]["patient"]["email"] == "amelia@example.com"

    asked = client.post("/admin/patients/patient/", {"action": "erase_selected", "_selected_action": [str(patient.pk)]})
    assert "cannot be undone" in asked.content.decode()
    assert Patient.objects.get(pk=patient.pk).first_name == "Amelia", "nothing happens before confirmation"

    client.post(
        "/admin/patients/patient/",
        {"action": "erase_selected", "_selected_action": [str(patient.pk)], "confirmed": "yes"},
    )
    assert Patient.objects.get(pk=patient.pk).first_name == "Erased"


def test_a_front_desk_user_cannot_erase_in_the_admin(client, treated_patient) -> None:
    desk = UserFactory(username="desk", permissions=["patients.view_patient", "patients.change_patient"])
    client.force_login(desk)
    patient = treated_patient["patient"]

    client.post(
        "/admin/patients/patient/",
        {"action": "erase_selected", "_selected_action": [str(patient.pk)], "confirmed": "yes"},
    )

    assert Patient.objects.get(pk=patient.pk).first_name == "Amelia"
    assert PatientFactory()  # other patients unaffected by the refusal
