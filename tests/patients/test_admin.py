"""A clinic admin works with patients and consents in the Django admin.

The admin writes through patients.services like every other door, so the
same rules hold here: one active consent per kind, no consent from the
future, no deleting clinical records.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from patients.models import Consent, ConsentKind, ContactChannel, MedicalFlag, Patient
from tests.factories import ConsentFactory, PatientFactory

pytestmark = pytest.mark.django_db

PATIENTS_ADMIN = "/admin/patients/patient/"
CONSENTS_ADMIN = "/admin/patients/consent/"


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def patient_form(**overrides: object) -> dict[str, Any]:
    """The patient add/change form as a browser posts it (no consents inline rows)."""
    form: dict[str, Any] = {
        "first_name": "Amelia",
        "last_name": "Hart",
        "date_of_birth": "1988-04-12",
        "email": "amelia.hart@example.com",
        "phone": "+447911123456",
        "preferred_channel": "email",
        "language": "en",
        "time_zone": "Europe/London",
        "skin_type": "",
        "medical_notes": "",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
        # The read-only side-effect and message inlines, empty for these patients.
        "side_effect_reports-TOTAL_FORMS": "0",
        "side_effect_reports-INITIAL_FORMS": "0",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
    }
    form.update(overrides)
    return form


def consent_form(*, patient: Patient, kind: str, given_at: datetime, version: str = "2026-03") -> dict[str, Any]:
    local = timezone.localtime(given_at)
    return {
        "patient": str(patient.pk),
        "kind": kind,
        "scope": "facial-mesotherapy" if kind == "treatment" else "",
        "version": version,
        "given_at_0": local.strftime("%Y-%m-%d"),
        "given_at_1": local.strftime("%H:%M:%S"),
    }


def changelist_names(response: Any) -> list[str]:
    assert response.status_code == 200
    return sorted(patient.last_name for patient in response.context["cl"].result_list)


def message_texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Patients -------------------------------------------------------------------


def test_the_patient_changelist_lists_every_patient(clinic_admin) -> None:
    PatientFactory(last_name="Hart")
    PatientFactory(last_name="Stone")

    response = clinic_admin.get(PATIENTS_ADMIN)

    assert changelist_names(response) == ["Hart", "Stone"]
    assert b"Hart" in response.content


def test_the_changelist_search_finds_patients_by_name_email_or_phone(clinic_admin) -> None:
    PatientFactory(last_name="Hart", email="amelia@example.com", phone="+447911123456")
    PatientFactory(last_name="Stone", email="bella@example.com", phone="+447911654321")

    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"q": "hart"})) == ["Hart"]
    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"q": "bella@"})) == ["Stone"]
    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"q": "654321"})) == ["Stone"]


def test_the_changelist_filters_by_medical_flag(clinic_admin) -> None:
    PatientFactory(last_name="Expecting", medical_flags=[MedicalFlag.PREGNANCY])
    PatientFactory(last_name="Thinned", medical_flags=[MedicalFlag.ANTICOAGULANTS])
    PatientFactory(last_name="Clear")

    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"medical_flag": "pregnancy"})) == ["Expecting"]
    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"medical_flag": "any"})) == ["Expecting", "Thinned"]


def test_a_patient_is_added_through_the_admin_form_with_medical_flags(clinic_admin) -> None:
    response = clinic_admin.post(
        f"{PATIENTS_ADMIN}add/",
        patient_form(phone="+44 7911 123456", skin_type="2", medical_flags=["pregnancy", "component_allergy"]),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient = Patient.objects.get()
    assert response["Location"] == f"{PATIENTS_ADMIN}"
    assert (patient.first_name, patient.last_name) == ("Amelia", "Hart")
    assert str(patient.phone) == "+447911123456"
    assert patient.skin_type == 2
    assert patient.medical_flags == ["pregnancy", "component_allergy"]
    assert str(patient.time_zone) == "Europe/London"


def test_the_add_form_shows_the_reachable_channel_rule_as_a_form_error(clinic_admin) -> None:
    response = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(preferred_channel="sms", phone=""))

    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert not Patient.objects.exists()


def test_a_name_with_a_line_break_is_a_form_error_on_add_and_on_change(clinic_admin) -> None:
    response = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(first_name="Amelia\nJane"))

    assert response.status_code == 200
    assert "line breaks" in str(response.context["adminform"].form.errors["first_name"])
    assert not Patient.objects.exists()

    patient = PatientFactory(first_name="Grace", last_name="Hopper")
    response = clinic_admin.post(
        f"{PATIENTS_ADMIN}{patient.pk}/change/",
        patient_form(first_name="Grace", last_name="Hopper\r\nBcc: someone@example.com", email=patient.email),
    )

    assert response.status_code == 200
    assert "last_name" in response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.last_name == "Hopper"


def test_the_change_form_loads_and_saves_a_change(clinic_admin) -> None:
    patient = PatientFactory(first_name="Grace", last_name="Hopper", phone="+447911000111", medical_flags=[])
    change_url = f"{PATIENTS_ADMIN}{patient.pk}/change/"

    page = clinic_admin.get(change_url)
    assert page.status_code == 200
    assert page.context["adminform"].form.instance == patient

    response = clinic_admin.post(
        change_url,
        patient_form(
            first_name="Grace",
            last_name="Hopper",
            email=patient.email,
            phone="+447911000111",
            preferred_channel="sms",
            medical_flags=["autoimmune_disease"],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.preferred_channel == ContactChannel.SMS
    assert patient.medical_flags == ["autoimmune_disease"]


def test_the_time_zone_is_typed_not_chosen_among_hundreds_and_a_wrong_one_is_a_form_error(clinic_admin) -> None:
    patient = PatientFactory(time_zone="Europe/Paris")
    change_url = f"{PATIENTS_ADMIN}{patient.pk}/change/"

    page = clinic_admin.get(change_url)
    html = page.content.decode()
    assert 'name="time_zone" value="Europe/Paris"' in html
    assert html.count("<option") < 100  # the zone select alone had ~600
    assert len(page.content) < 60_000

    form = patient_form(email=patient.email, phone=str(patient.phone), time_zone="Mars/Olympus")
    refused = clinic_admin.post(change_url, form)
    assert refused.status_code == 200
    assert "time_zone" in refused.context["adminform"].form.errors
    saved = clinic_admin.post(change_url, {**form, "time_zone": "America/New_York"})
    assert saved.status_code == 302
    patient.refresh_from_db()
    assert str(patient.time_zone) == "America/New_York"


def test_patients_cannot_be_deleted_in_the_admin(clinic_admin) -> None:
    patient = PatientFactory()

    delete_page = clinic_admin.get(f"{PATIENTS_ADMIN}{patient.pk}/delete/")
    bulk_delete = clinic_admin.post(
        PATIENTS_ADMIN, {"action": "delete_selected", "_selected_action": [str(patient.pk)]}
    )

    assert delete_page.status_code == 403
    changelist = clinic_admin.get(PATIENTS_ADMIN)
    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)
    assert bulk_delete.status_code in (200, 302)
    assert Patient.objects.filter(pk=patient.pk).exists()


# --- Consents -------------------------------------------------------------------


def test_a_consent_added_in_the_admin_revokes_the_older_one_of_its_kind(clinic_admin, admin_user) -> None:
    patient = PatientFactory()
    older = ConsentFactory(patient=patient, kind=ConsentKind.MARKETING, given_at=timezone.now() - timedelta(days=30))
    other_kind = ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT)
    given_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)

    response = clinic_admin.post(
        f"{CONSENTS_ADMIN}add/", consent_form(patient=patient, kind=ConsentKind.MARKETING, given_at=given_at)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    new = Consent.objects.get(patient=patient, kind=ConsentKind.MARKETING, revoked_at__isnull=True)
    assert (new.version, new.given_at, new.recorded_by) == ("2026-03", given_at, admin_user)
    older.refresh_from_db()
    other_kind.refresh_from_db()
    assert older.revoked_at == given_at
    assert other_kind.revoked_at is None


def test_a_consent_given_in_the_future_is_a_form_error_not_a_crash(clinic_admin) -> None:
    patient = PatientFactory()
    current = ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT)

    response = clinic_admin.post(
        f"{CONSENTS_ADMIN}add/",
        consent_form(patient=patient, kind=ConsentKind.TREATMENT, given_at=timezone.now() + timedelta(days=2)),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["given_at"] == ["Consent cannot be given in the future."]
    assert Consent.objects.count() == 1
    current.refresh_from_db()
    assert current.revoked_at is None


def test_a_consent_older_than_the_one_in_force_is_a_form_error(clinic_admin) -> None:
    patient = PatientFactory()
    ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT, given_at=timezone.now() - timedelta(days=1))

    response = clinic_admin.post(
        f"{CONSENTS_ADMIN}add/",
        consent_form(patient=patient, kind=ConsentKind.TREATMENT, given_at=timezone.now() - timedelta(days=10)),
    )

    assert response.status_code == 200
    assert "given_at" in response.context["adminform"].form.errors
    assert Consent.objects.count() == 1


def test_revoke_selected_consents_revokes_the_active_ones(clinic_admin) -> None:
    patient = PatientFactory()
    treatment = ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT)
    marketing = ConsentFactory(patient=patient, kind=ConsentKind.MARKETING)
    already = ConsentFactory(patient=patient, kind=ConsentKind.SERVICE_MESSAGES)
    already_revoked_at = already.given_at + timedelta(hours=1)
    Consent.objects.filter(pk=already.pk).update(revoked_at=already_revoked_at)

    response = clinic_admin.post(
        CONSENTS_ADMIN,
        {"action": "revoke_selected", "_selected_action": [str(treatment.pk), str(marketing.pk), str(already.pk)]},
    )

    assert response.status_code == 302
    assert "Revoked 2 consent(s)." in message_texts(response)
    for consent in (treatment, marketing, already):
        consent.refresh_from_db()
    assert treatment.revoked_at is not None
    assert marketing.revoked_at is not None
    assert already.revoked_at == already_revoked_at  # the first revocation is never overwritten


def test_consents_cannot_be_deleted_in_the_admin(clinic_admin) -> None:
    consent = ConsentFactory()

    response = clinic_admin.get(f"{CONSENTS_ADMIN}{consent.pk}/delete/")

    assert response.status_code == 403
    assert Consent.objects.filter(pk=consent.pk).exists()


def test_the_patient_page_says_in_words_whether_a_medical_review_is_needed(clinic_admin) -> None:
    flagged = PatientFactory(last_name="Expecting", medical_flags=[MedicalFlag.PREGNANCY])
    clear = PatientFactory(last_name="Clear", medical_flags=[])

    flagged_page = clinic_admin.get(f"{PATIENTS_ADMIN}{flagged.pk}/change/").content.decode()
    clear_page = clinic_admin.get(f"{PATIENTS_ADMIN}{clear.pk}/change/").content.decode()

    # Words, not a green tick that reads as "all good" on the patient who needs the review.
    assert "a practitioner reviews the medical flags before treatment" in flagged_page
    assert "Not needed: no medical flags on file." in clear_page
    assert "Not needed" not in flagged_page
