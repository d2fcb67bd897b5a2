"""Dates as a UK clinic types them on staff pages, and as machines send them to the API.

In the admin, 12/04/1988 is the 12th of April (day first, what the date
picker writes); ISO dates stay accepted; a month-first date such as
04/13/1988 is refused rather than read some other way. The API speaks
ISO-8601 only: a day-first date never leaks into its parsing, in a body or
in a query string.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from patients.models import Patient
from tests.factories import PatientFactory, ProductLotFactory
from tests.patients.test_admin import patient_form
from tests.patients.test_api import new_patient_body
from tests.treatments.conftest import LONDON
from treatments.models import Session

pytestmark = pytest.mark.django_db

PATIENTS_ADMIN = "/admin/patients/patient/"


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_login(admin_user)
    return client


def added_birth_date(clinic_admin, typed: str) -> date | None:
    """The date of birth stored from the admin's add form, or None if the form refused it."""
    response = clinic_admin.post(f"{PATIENTS_ADMIN}add/", patient_form(date_of_birth=typed))
    if response.status_code != 302:
        assert "date_of_birth" in response.context["adminform"].form.errors
        return None
    return Patient.objects.get().date_of_birth


# --- the admin -------------------------------------------------------------------------------


def test_the_admin_reads_a_typed_date_day_first(clinic_admin) -> None:
    assert added_birth_date(clinic_admin, "03/04/1988") == date(1988, 4, 3)


def test_the_admin_still_reads_iso_dates(clinic_admin) -> None:
    assert added_birth_date(clinic_admin, "1988-04-03") == date(1988, 4, 3)


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("04/13/1988", id="month-first"),
        pytest.param("03/04/88", id="two-digit-year"),  # 1988 or 2088? A century is not guessed.
    ],
)
def test_the_admin_refuses_a_date_it_would_have_to_guess(clinic_admin, typed: str) -> None:
    assert added_birth_date(clinic_admin, typed) is None


def test_the_admin_shows_a_stored_date_day_first(clinic_admin) -> None:
    patient = PatientFactory(date_of_birth=date(1988, 4, 3))

    form = clinic_admin.get(reverse("admin:patients_patient_change", args=[patient.pk])).context["adminform"].form

    assert 'value="03/04/1988"' in str(form["date_of_birth"])


def test_a_session_is_booked_in_the_admin_with_a_day_first_date_and_a_short_time(
    clinic_admin, clock, course, practitioner, room
) -> None:
    response = clinic_admin.post(
        reverse("admin:treatments_session_add"),
        {
            "course": str(course.pk),
            "practitioner": str(practitioner.pk),
            "room": str(room.pk),
            "starts_at_0": "17/03/2026",
            "starts_at_1": "10:00",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Session.objects.get().starts_at == datetime(2026, 3, 17, 10, 0, tzinfo=LONDON)


# --- the API: ISO-8601 only ------------------------------------------------------------------------


def test_api_date_filters_refuse_day_first_dates(api) -> None:
    PatientFactory(date_of_birth=date(1980, 2, 1))
    ProductLotFactory(expires_on=date(2026, 3, 31))

    for url, parameter, typed in [
        ("/api/v1/patients/", "born_after", "01/02/1980"),
        ("/api/v1/patients/", "born_before", "01/02/1980"),
        ("/api/v1/lots/", "expires_before", "31/03/2026"),
    ]:
        response = api.get(url, {parameter: typed})
        assert response.status_code == 400, f"{parameter}={typed} was read as a date"
        assert [error["attr"] for error in response.json()["errors"]] == [parameter]

    assert api.get("/api/v1/patients/", {"born_after": "1980-02-01"}).json()["count"] == 1


def test_api_bodies_refuse_day_first_dates_and_times(api, clock, course, practitioner, room) -> None:
    patients_before = Patient.objects.count()

    patient = api.post("/api/v1/patients/", new_patient_body(date_of_birth="03/04/1988"))
    session = api.post(
        "/api/v1/sessions/",
        {
            "course": str(course.pk),
            "practitioner": str(practitioner.pk),
            "room": str(room.pk),
            "starts_at": "17/03/2026 10:00",
        },
    )

    assert patient.status_code == 400
    assert [error["attr"] for error in patient.json()["errors"]] == ["date_of_birth"]
    assert session.status_code == 400
    assert [error["attr"] for error in session.json()["errors"]] == ["starts_at"]
    assert Patient.objects.count() == patients_before
    assert not Session.objects.exists()
