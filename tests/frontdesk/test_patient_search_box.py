"""The search box in the front desk's header: name, phone however typed, email or date of birth."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from clinic.roles import FRONT_DESK
from patients.models import Patient
from tests.factories import PatientFactory, UserFactory
from tests.treatments.conftest import in_role

pytestmark = pytest.mark.django_db

SEARCH = "/frontdesk/patients/search/"


@pytest.fixture
def desk(client):  # type: ignore[no-untyped-def]
    client.force_login(in_role(UserFactory(username="desk"), FRONT_DESK))
    return client


@pytest.fixture
def amelia(db):  # type: ignore[no-untyped-def]
    return PatientFactory(
        first_name="Amelia",
        last_name="Hart",
        phone="+447700900123",
        email="amelia.hart@example.com",
        date_of_birth=date(1988, 4, 12),
    )


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    "typed",
    [
        "Hart",
        "amel",
        "amelia hart",
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "900123",
        "amelia.hart@ex",
        "12/04/1988",
        "1988-04-12",
        "12.04.1988",
    ],
)
def test_a_patient_is_found_however_the_desk_types_them(desk, amelia, typed: str) -> None:
    PatientFactory(first_name="Bella", last_name="Stone", phone="+447700900999", date_of_birth=date(1990, 1, 1))

    assert names(desk.get(SEARCH, {"q": typed})) == ["Amelia Hart"]


def test_a_result_says_what_tells_patients_apart_and_links_their_page(desk, amelia) -> None:
    (row,) = desk.get(SEARCH, {"q": "hart"}).json()["results"]

    assert row["date_of_birth"] == "12/04/1988"
    assert row["phone"] == "07700 900123"
    assert row["email"] == "amelia.hart@example.com"
    assert row["url"] == f"/frontdesk/patients/{amelia.pk}/"


def test_one_character_is_a_400_and_erased_patients_are_not_found(desk, amelia) -> None:
    assert desk.get(SEARCH, {"q": "h"}).status_code == 400
    Patient.objects.filter(pk=amelia.pk).update(erased_at=timezone.now())
    assert names(desk.get(SEARCH, {"q": "hart"})) == []


def test_the_first_ten_by_name_in_a_fixed_number_of_queries(desk, django_assert_num_queries) -> None:
    for index in range(12):
        PatientFactory(first_name=f"P{index:02d}", last_name="Smith")
    with django_assert_num_queries(3):  # the login's session, its user with permissions, the patients
        found = names(desk.get(SEARCH, {"q": "smith"}))
    assert found == [f"P{index:02d} Smith" for index in range(10)]


def test_searching_needs_the_permission_to_see_patients(client, amelia) -> None:
    client.force_login(UserFactory(username="nobody"))

    assert client.get(SEARCH, {"q": "hart"}).status_code == 403


def test_the_box_is_in_the_header_of_the_front_desk_pages_for_those_who_may_search(desk, client, location) -> None:
    for url in ("/admin/", "/frontdesk/today/", "/frontdesk/calendar/", "/frontdesk/worklist/"):
        page = desk.get(url)
        assert page.status_code == 200, url
        assert 'id="patient-search-input"' in page.content.decode(), url
    client.force_login(UserFactory(username="looker", permissions=["treatments.view_session"]))
    assert 'id="patient-search-input"' not in client.get("/frontdesk/today/").content.decode()
