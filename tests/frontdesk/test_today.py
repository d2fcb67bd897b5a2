"""Today's appointments: by time, phone to tap, check-in from the row, for those who may."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.roles import FRONT_DESK
from tests.factories import CourseFactory, PatientFactory, UserFactory
from tests.treatments.conftest import at, book, in_role
from treatments import services

pytestmark = pytest.mark.django_db

TODAY = "/frontdesk/today/"


@pytest.fixture
def desk(client):  # type: ignore[no-untyped-def]
    client.force_login(in_role(UserFactory(username="desk"), FRONT_DESK))
    return client


def test_today_lists_the_days_appointments_by_time_with_a_phone_to_tap(
    desk, clock, location, course, practitioner, room, protocol
) -> None:
    late = book(course, practitioner, room, at(2, 15))
    early_course = CourseFactory(
        location=location, protocol=protocol, patient=PatientFactory(first_name="Bella", phone="+447700900123")
    )
    early = book(early_course, practitioner, room, at(2, 9))
    book(CourseFactory(location=location, protocol=protocol), practitioner, room, at(3, 9))  # tomorrow

    page = desk.get(TODAY, {"location": str(location.pk)})

    assert page.status_code == 200
    rows = page.context["rows"]
    assert [row["session"].pk for row in rows] == [early.pk, late.pk]
    html = page.content.decode()
    assert f'name="next" value="{TODAY}?location={location.pk}"' in html  # each row's check-in comes back here
    assert 'href="tel:+447700900123"' in html
    assert "07700 900123" in html
    assert html.count("Check in</button>") == 2
    tomorrow = desk.get(TODAY, {"location": str(location.pk), "span": "tomorrow"})
    assert len(tomorrow.context["rows"]) == 1
    assert len(desk.get(TODAY, {"location": str(location.pk), "span": "week"}).context["rows"]) == 3


def test_the_desk_checks_a_patient_in_from_the_row_and_comes_back_to_the_list(
    desk, clock, location, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(2, 9))
    clock.move_to(at(2, 8, 55))

    # As the row's form posts it: back to the list it was sent from.
    here = f"{TODAY}?location={location.pk}"
    response = desk.post(
        reverse("frontdesk:session-action", args=[session.pk, "check-in"]), {"next": here}, follow=True
    )

    assert response.redirect_chain[-1][0].startswith(TODAY)
    session.refresh_from_db()
    assert session.arrived_at == at(2, 8, 55)
    html = response.content.decode()
    assert "checked in" in html
    assert "Arrived 08:55" in html
    assert "Check in</button>" not in html


def test_someone_who_may_only_look_sees_no_check_in_button_and_cannot_post_one(
    client, clock, location, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(2, 9))
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_session"]))

    page = client.get(TODAY, {"location": str(location.pk)})
    assert page.status_code == 200
    assert "Check in</button>" not in page.content.decode()
    assert client.post(reverse("frontdesk:session-action", args=[session.pk, "check-in"])).status_code == 403
    session.refresh_from_db()
    assert session.arrived_at is None


def test_the_list_costs_the_same_queries_for_one_appointment_or_ten(
    desk, clock, location, protocol, practitioner, room, django_assert_num_queries
) -> None:
    book(CourseFactory(location=location, protocol=protocol), practitioner, room, at(2, 9))
    # The login (2), the location, the location list, whether the user is a practitioner, the appointments.
    with django_assert_num_queries(6) as one:
        desk.get(TODAY, {"location": str(location.pk)})
    for hour in range(10, 19):
        book(CourseFactory(location=location, protocol=protocol), practitioner, room, at(2, hour))
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(desk.get(TODAY, {"location": str(location.pk)}).context["rows"]) == 10


def test_today_says_which_appointments_the_patients_confirmed(
    desk, clock, location, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(2, 15))
    services.session_confirm(session=session, actor=None)

    html = desk.get(TODAY, {"location": str(location.pk)}).content.decode()

    assert '<td data-label="Status">Confirmed</td>' in html
