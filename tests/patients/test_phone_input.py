"""Phone numbers as a UK clinic types them.

Staff type a number the way they dial it ("07400 123456") or with the
country code ("+44 7400 123456"); every door (the admin, the API, a
service called from anywhere) reads it in the configured region (GB unless
PHONENUMBER_DEFAULT_REGION says otherwise) and stores it in E.164. The
example under a phone field is accepted as shown, and a search finds a
number however it is typed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from patients import services
from patients.api.serializers import PatientInputSerializer
from patients.models import Patient
from tests.admin_forms import inline_post_data
from tests.clinic.test_settings import manage, production_environ
from tests.factories import PatientFactory
from tests.patients.test_admin import changelist_names, patient_form
from tests.patients.test_api import listed_last_names, new_patient_body
from treatments.models import Location

pytestmark = pytest.mark.django_db

PATIENTS_URL = "/api/v1/patients/"
PATIENTS_ADMIN = "/admin/patients/patient/"
# How the front desk types the number +447400123456: at home, from abroad, without the trunk 0.
AS_TYPED = ["07400 123456", "+44 7400 123456", "7400123456", "07400123456", "+44 (0)7400 123 456"]


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def examples_in(help_text: str) -> list[str]:
    """The numbers a help text offers as examples ("e.g. …")."""
    return re.findall(r"e\.g\. ([+\d][\d ()]*\d)", str(help_text))


# --- every door reads a national number ------------------------------------------


@pytest.mark.parametrize("typed", AS_TYPED)
def test_the_api_stores_a_number_typed_nationally_or_internationally_in_e164(api_client, typed: str) -> None:
    response = api_client.post(PATIENTS_URL, new_patient_body(phone=typed))

    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+447400123456"
    assert str(Patient.objects.get().phone) == "+447400123456"


def test_the_admin_stores_a_number_typed_nationally_in_e164(clinic_admin) -> None:
    response = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(phone="07400 123456"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert str(Patient.objects.get().phone) == "+447400123456"


def test_the_admin_shows_a_home_number_the_way_it_is_dialled(clinic_admin) -> None:
    patient = PatientFactory(phone="+447400123456")

    form = clinic_admin.get(reverse("admin:patients_patient_change", args=[patient.pk])).context["adminform"].form

    assert 'value="07400 123456"' in str(form["phone"])


def test_a_service_called_from_any_door_reads_a_national_number() -> None:
    patient = services.patient_create(
        actor=None,
        data={
            "first_name": "Amelia",
            "last_name": "Hart",
            "email": "amelia@example.com",
            "phone": "07400 123456",
            "date_of_birth": "1988-04-12",
        },
    )

    patient.refresh_from_db()
    assert str(patient.phone) == "+447400123456"


def test_a_locations_number_is_typed_nationally_too(clinic_admin) -> None:
    add_page = clinic_admin.get(reverse("admin:treatments_location_add"))
    response = clinic_admin.post(
        reverse("admin:treatments_location_add"),
        {
            **inline_post_data(add_page),
            "name": "Marylebone",
            "address": "",
            "phone": "020 7946 0000",
            "time_zone": "Europe/London",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert str(Location.objects.get().phone) == "+442079460000"


def test_a_number_that_is_not_one_is_still_refused(api_client) -> None:
    response = api_client.post(PATIENTS_URL, new_patient_body(phone="07400 12"))

    assert response.status_code == 400
    assert [error["attr"] for error in response.json()["errors"]] == ["phone"]
    assert not Patient.objects.exists()


# --- the examples shown validate as typed --------------------------------------------


def test_the_admin_forms_phone_examples_are_accepted_as_shown(clinic_admin) -> None:
    add_page = clinic_admin.get(f"{PATIENTS_ADMIN}add/")
    phone_field = add_page.context["adminform"].form.fields["phone"]
    examples = examples_in(phone_field.help_text)
    assert examples, f"the help text shows no example: {phone_field.help_text!r}"

    for number, example in enumerate(examples):
        response = clinic_admin.post(
            f"{PATIENTS_ADMIN}add/", patient_form(phone=example, email=f"example{number}@example.com")
        )
        assert response.status_code == 302, f"{example!r}: {response.context['adminform'].form.errors}"

    # The refusal's own example is a number of the clinic's region, and is accepted too.
    refused = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(phone="12", email="refused@example.com"))
    [message] = refused.context["adminform"].form.errors["phone"]
    [suggested] = re.findall(r"e\.g\. ([\d ]+)\)", message)
    accepted = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(phone=suggested, email="x@example.com"))
    assert accepted.status_code == 302, accepted.context["adminform"].form.errors


def test_the_apis_phone_examples_are_accepted_as_shown(api_client) -> None:
    examples = examples_in(PatientInputSerializer().fields["phone"].help_text)
    assert examples

    for number, example in enumerate(examples):
        response = api_client.post(PATIENTS_URL, new_patient_body(phone=example, email=f"e{number}@example.com"))
        assert response.status_code == 201, f"{example!r}: {response.content!r}"


# --- search finds a number however it is typed ----------------------------------------------


@pytest.fixture
def two_patients() -> None:
    PatientFactory(last_name="Hart", phone="+447400123456")
    PatientFactory(last_name="Stone", phone="+447911654321")


@pytest.mark.parametrize("typed", [*AS_TYPED, "07400 123", "+44 7400"])
def test_the_api_search_finds_a_phone_typed_in_any_format(api_client, two_patients, typed: str) -> None:
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": typed})) == ["Hart"]


@pytest.mark.parametrize("typed", [*AS_TYPED, "07400 123", "+44 7400"])
def test_the_admin_search_finds_a_phone_typed_in_any_format(clinic_admin, two_patients, typed: str) -> None:
    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"q": typed})) == ["Hart"]


def test_searching_names_is_unchanged_by_phone_search(api_client, clinic_admin, two_patients) -> None:
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "hart"})) == ["Hart"]
    assert changelist_names(clinic_admin.get(PATIENTS_ADMIN, {"q": "stone"})) == ["Stone"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "0999"})) == []


@pytest.mark.parametrize("typed", ["07400 123456", "+447400123456", " 447400123456"])
def test_the_api_phone_filter_reads_a_national_number(api_client, two_patients, typed: str) -> None:
    assert listed_last_names(api_client.get(PATIENTS_URL, {"phone": typed})) == ["Hart"]


# --- the region is configuration ----------------------------------------------------------------


def read_number_in(region: str) -> Any:
    return manage(
        "shell",
        "--no-imports",
        "-c",
        "from patients.models import Patient; print(Patient(phone='06 12 34 56 78').phone)",
        environ=production_environ(PHONENUMBER_DEFAULT_REGION=region),
    )


def test_the_default_region_comes_from_the_environment() -> None:
    in_france = read_number_in("fr")

    assert in_france.returncode == 0, in_france.stderr
    assert in_france.stdout.strip() == "+33612345678"


def test_an_unknown_region_stops_startup_naming_the_variable() -> None:
    result = read_number_in("UK")  # the ISO code is GB

    assert result.returncode != 0
    assert "PHONENUMBER_DEFAULT_REGION='UK' is not a region code" in result.stderr
