"""Patients and consents are written only through patients.services."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from patients import services
from patients.models import Consent, ConsentKind, ContactChannel, MedicalFlag, Patient
from patients.selectors import patient_has_consent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def valid_patient_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Amelia",
        "last_name": "Hart",
        "email": "amelia@example.com",
        "phone": "+447911123456",
        "date_of_birth": date(1988, 4, 12),
        "preferred_channel": ContactChannel.EMAIL,
    }
    data.update(overrides)
    return data


def test_a_patient_is_created_with_the_clinic_default_time_zone() -> None:
    patient = services.patient_create(actor=None, data=valid_patient_data())

    patient.refresh_from_db()
    assert str(patient.time_zone) == "Europe/London"
    assert str(patient.phone) == "+447911123456"
    assert patient.medical_flags == []


def test_a_birth_date_in_the_future_is_refused_and_nothing_is_saved() -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)

    with pytest.raises(ValidationError) as excinfo:
        services.patient_create(actor=None, data=valid_patient_data(date_of_birth=tomorrow))

    assert "date_of_birth" in excinfo.value.message_dict
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["Amelia\nJane", "Amelia\r\n", "Amelia\tJane", "Amelia\x00", "Amelia\u2028Jane", "Amelia\x85Jane"],
    ids=["line-feed", "crlf", "tab", "nul", "line-separator", "next-line"],
)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_name_with_a_line_break_or_control_character_is_refused(field: str, name: str) -> None:
    """Names are printed in email subjects; a line break there made every red-flag alert fail."""
    with pytest.raises(ValidationError) as excinfo:
        services.patient_create(actor=None, data=valid_patient_data(**{field: name}))

    assert [error.code for error in excinfo.value.error_dict[field]] == ["control_characters"]
    assert not Patient.objects.exists()
    patient = services.patient_create(actor=None, data=valid_patient_data())
    with pytest.raises(ValidationError):
        services.patient_update(patient=patient, actor=None, data={field: name})
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name) == ("Amelia", "Hart")


@pytest.mark.parametrize("name", ["Chloé", "O'Brien-Smith", "Zoë Anne", "김민준", "محمد"])
def test_names_in_any_script_with_spaces_hyphens_and_apostrophes_are_accepted(name: str) -> None:
    patient = services.patient_create(actor=None, data=valid_patient_data(first_name=name))

    assert Patient.objects.get(pk=patient.pk).first_name == name


def test_a_phone_number_must_be_a_valid_number() -> None:
    # A national number ("07911 123456") is read in the clinic's region; one too short for it is refused.
    with pytest.raises(ValidationError) as excinfo:
        services.patient_create(actor=None, data=valid_patient_data(phone="07911 123"))
    assert "phone" in excinfo.value.message_dict


def test_the_preferred_channel_needs_a_matching_contact_detail() -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.patient_create(actor=None, data=valid_patient_data(preferred_channel=ContactChannel.SMS, phone=""))
    assert excinfo.value.message_dict == {"phone": ["A phone number is needed when the preferred channel is SMS."]}


def test_an_update_is_validated_against_the_whole_record() -> None:
    patient = PatientFactory(phone="", preferred_channel=ContactChannel.EMAIL)

    with pytest.raises(ValidationError) as excinfo:
        services.patient_update(patient=patient, actor=None, data={"preferred_channel": ContactChannel.SMS})

    assert "phone" in excinfo.value.message_dict
    patient.refresh_from_db()
    assert patient.preferred_channel == ContactChannel.EMAIL


def test_an_update_changes_only_the_given_fields_and_moves_updated_at() -> None:
    patient = PatientFactory(first_name="Grace")
    before = patient.updated_at

    services.patient_update(patient=patient, actor=None, data={"medical_flags": [MedicalFlag.ANTICOAGULANTS]})

    patient.refresh_from_db()
    assert patient.first_name == "Grace"
    assert patient.medical_flags == ["anticoagulants"]
    assert patient.updated_at > before


def test_identity_and_timestamps_cannot_be_set_through_the_service() -> None:
    patient = PatientFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.patient_update(patient=patient, actor=None, data={"created_at": timezone.now()})
    assert "created_at" in excinfo.value.message_dict


def test_a_repeated_medical_flag_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.patient_create(actor=None, data=valid_patient_data(medical_flags=["pregnancy", "pregnancy"]))
    assert "medical_flags" in excinfo.value.message_dict


def test_a_new_consent_version_replaces_the_one_in_force(staff_user) -> None:
    patient = PatientFactory()
    first = services.consent_give(patient=patient, kind=ConsentKind.MARKETING, version="v1", actor=staff_user)

    second = services.consent_give(patient=patient, kind=ConsentKind.MARKETING, version="v2", actor=staff_user)

    first.refresh_from_db()
    assert first.revoked_at == second.given_at
    assert second.is_active
    assert second.recorded_by == staff_user
    assert list(Consent.objects.filter(patient=patient, revoked_at__isnull=True)) == [second]


def test_consent_cannot_be_dated_in_the_future_or_before_the_one_in_force() -> None:
    patient = PatientFactory()
    now = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        services.consent_give(
            patient=patient,
            kind=ConsentKind.TREATMENT,
            scope="facial-mesotherapy",
            version="v1",
            actor=None,
            given_at=now + timedelta(hours=1),
        )
    assert "given_at" in excinfo.value.message_dict

    services.consent_give(
        patient=patient, kind=ConsentKind.TREATMENT, scope="facial-mesotherapy", version="v2", actor=None, given_at=now
    )
    with pytest.raises(ValidationError, match="newer consent"):
        services.consent_give(
            patient=patient,
            kind=ConsentKind.TREATMENT,
            scope="facial-mesotherapy",
            version="v1",
            actor=None,
            given_at=now - timedelta(days=1),
        )


def test_revoking_twice_is_an_error_and_keeps_the_first_revocation() -> None:
    patient = PatientFactory()
    consent = services.consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="v1", actor=None)
    services.consent_revoke(consent=consent, actor=None)
    consent.refresh_from_db()
    first_revocation = consent.revoked_at

    with pytest.raises(ValidationError, match="already revoked"):
        services.consent_revoke(consent=consent, actor=None)

    consent.refresh_from_db()
    assert consent.revoked_at == first_revocation


def test_has_consent_answers_for_the_instant_asked() -> None:
    patient = PatientFactory()
    given = timezone.now() - timedelta(days=10)
    consent = services.consent_give(
        patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="v1", actor=None, given_at=given
    )
    revoked = given + timedelta(days=5)
    services.consent_revoke(consent=consent, actor=None, revoked_at=revoked)

    kind = ConsentKind.SERVICE_MESSAGES
    assert not patient_has_consent(patient=patient, kind=kind, at=given - timedelta(seconds=1))
    assert patient_has_consent(patient=patient, kind=kind, at=given + timedelta(days=1))
    assert not patient_has_consent(patient=patient, kind=kind, at=revoked)
    assert not patient_has_consent(patient=patient, kind=kind)
    assert not patient_has_consent(patient=patient, kind=ConsentKind.MARKETING, at=given + timedelta(days=1))


@pytest.mark.django_db(transaction=True)
def test_concurrent_consents_of_one_kind_leave_exactly_one_in_force() -> None:
    """Eight requests record the same consent at once; the patient lock queues
    them, so each revokes its predecessor and one stays active."""
    patient = PatientFactory()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def give(version: str) -> None:
        try:
            barrier.wait(timeout=10)
            services.consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version=version, actor=None)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=give, args=(f"v{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    consents = Consent.objects.filter(patient=patient, kind=ConsentKind.SERVICE_MESSAGES)
    assert consents.count() == 8
    assert consents.filter(revoked_at__isnull=True).count() == 1
