"""Availability: GET /api/v1/availability/ offers a practitioner's free starts at
a location for a protocol, over at most 31 days.

A free start is inside opening hours, clear of the practitioner's live
sessions, with at least one free room; a start already begun is not offered,
and an offered one can be booked. Bad parameters are a 400 naming them.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London.
"""

from __future__ import annotations

import uuid
from datetime import date, time
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api_assertions import assert_validation_error, parse_api_datetime
from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory
from tests.treatments.api_helpers import AVAILABILITY_URL, SESSIONS_URL, booking_body
from tests.treatments.conftest import at, book
from treatments import services

pytestmark = pytest.mark.django_db


def availability(client: APIClient, practitioner, location, protocol, date_from, date_to, **extra: Any) -> Any:
    return client.get(
        AVAILABILITY_URL,
        {
            "practitioner": str(practitioner.pk),
            "location": str(location.pk),
            "protocol": str(protocol.pk),
            "date_from": str(date_from),
            "date_to": str(date_to),
            **extra,
        },
    )


def test_availability_is_opening_hours_minus_live_sessions_of_the_practitioner_and_rooms(
    treatments_client, protocol
) -> None:
    # Open on Tuesdays only, 09:00–12:00 London; Tuesday 31 March is summer time (UTC+1).
    hampstead = LocationFactory(name="Hampstead", opening_hours=[(1, time(9), time(12))])
    room_a, room_b = RoomFactory(location=hampstead, name="A"), RoomFactory(location=hampstead, name="B")
    evans = PractitionerFactory(locations=[hampstead])
    colleague = PractitionerFactory(locations=[hampstead])
    book(CourseFactory(location=hampstead), evans, room_a, at(31, 10))
    cancelled = book(CourseFactory(location=hampstead), evans, room_b, at(31, 11))
    services.session_cancel(session=cancelled, reason="other", actor=None)
    book(CourseFactory(location=hampstead), colleague, room_b, at(31, 9))

    response = availability(treatments_client, evans, hampstead, protocol, date(2026, 3, 31), date(2026, 4, 1))

    assert response.status_code == 200, response.content
    slots = [
        (parse_api_datetime(s["starts_at"]), parse_api_datetime(s["ends_at"]), set(s["room_ids"]))
        for s in response.json()
    ]
    a, b = str(room_a.pk), str(room_b.pk)
    assert slots == [
        (at(31, 9), at(31, 9, 45), {a}),  # room B is the colleague's until 09:45
        (at(31, 9, 15), at(31, 10), {a}),
        # 09:30–10:30 overlap Dr Evans's own 10:00–10:45 session; the cancelled 11:00 one holds nothing.
        (at(31, 10, 45), at(31, 11, 30), {a, b}),
        (at(31, 11), at(31, 11, 45), {a, b}),
        (at(31, 11, 15), at(31, 12), {a, b}),
    ]
    assert response.json()[0]["starts_at"] in {"2026-03-31T08:00:00Z", "2026-03-31T08:00:00+00:00"}


def test_a_slot_offered_by_availability_can_be_booked(treatments_client, course, practitioner, room, protocol) -> None:
    slots = availability(treatments_client, practitioner, course.location, protocol, date(2026, 3, 3), date(2026, 3, 3))
    first = slots.json()[0]

    booked = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, first["starts_at"]))

    assert booked.status_code == 201, booked.content
    again = availability(treatments_client, practitioner, course.location, protocol, date(2026, 3, 3), date(2026, 3, 3))
    assert first["starts_at"] not in [s["starts_at"] for s in again.json()]


def test_availability_does_not_offer_slots_that_have_already_begun(
    treatments_client, clock, practitioner, room, protocol
) -> None:
    clock.move_to(at(2, 10, 5))

    response = availability(
        treatments_client, practitioner, room.location, protocol, date(2026, 3, 2), date(2026, 3, 2)
    )

    starts = [parse_api_datetime(s["starts_at"]) for s in response.json()]
    assert starts[0] == at(2, 10, 15)
    assert starts[-1] == at(2, 19, 15)
    assert all(start >= timezone.now() for start in starts)


def test_availability_spans_at_most_31_days(treatments_client, practitioner, room, protocol) -> None:
    location = room.location
    widest = availability(treatments_client, practitioner, location, protocol, date(2026, 3, 3), date(2026, 4, 2))
    too_wide = availability(treatments_client, practitioner, location, protocol, date(2026, 3, 3), date(2026, 4, 3))

    assert widest.status_code == 200, widest.content
    # Open 08:00–20:00 every day: 46 starts of 45 minutes at a 15-minute step, for 31 days.
    assert len(widest.json()) == 31 * 46
    assert_validation_error(too_wide, "date_to")


@pytest.mark.parametrize(
    ("change", "attr"),
    [
        pytest.param({"practitioner": None}, "practitioner", id="no-practitioner"),
        pytest.param({"practitioner": str(uuid.uuid4())}, "practitioner", id="unknown-practitioner"),
        pytest.param({"location": "marylebone"}, "location", id="location-not-a-uuid"),
        pytest.param({"protocol": None}, "protocol", id="no-protocol"),
        pytest.param({"date_from": "tomorrow"}, "date_from", id="date-from-in-words"),
        pytest.param({"date_to": "2026-02-30"}, "date_to", id="date-to-impossible"),
        pytest.param({"date_from": "2026-03-10", "date_to": "2026-03-09"}, "date_to", id="range-backwards"),
        pytest.param({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "date_to", id="end-of-the-calendar"),
        pytest.param({"step_minutes": "0"}, "step_minutes", id="step-zero"),
        pytest.param({"step_minutes": "ten"}, "step_minutes", id="step-in-words"),
    ],
)
def test_bad_availability_parameters_are_a_400_naming_them(
    treatments_client, practitioner, location, protocol, change, attr
) -> None:
    params = {
        "practitioner": str(practitioner.pk),
        "location": str(location.pk),
        "protocol": str(protocol.pk),
        "date_from": "2026-03-03",
        "date_to": "2026-03-04",
    }
    params.update(change)
    params = {key: value for key, value in params.items() if value is not None}

    assert_validation_error(treatments_client.get(AVAILABILITY_URL, params), attr)


def test_availability_for_a_practitioner_who_does_not_work_there_is_a_400(
    treatments_client, location, protocol
) -> None:
    elsewhere = PractitionerFactory(locations=[LocationFactory()])

    response = treatments_client.get(
        AVAILABILITY_URL,
        {
            "practitioner": str(elsewhere.pk),
            "location": str(location.pk),
            "protocol": str(protocol.pk),
            "date_from": "2026-03-03",
            "date_to": "2026-03-04",
        },
    )

    assert_validation_error(response, "practitioner")
