"""The treatments reference data under /api/v1/: locations, rooms, practitioners
and protocols.

Staff read them, filtered by what a booking screen needs (the location, the
active ones, what changed since a sync); the API offers no way to change them.
Times carry an explicit offset.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London.
"""

from __future__ import annotations

from datetime import time

import pytest
from django.utils import timezone

from tests.api_assertions import assert_client_error, assert_validation_error, listed_ids, parse_api_datetime, results
from tests.factories import LocationFactory, PractitionerFactory, RoomFactory
from tests.treatments.api_helpers import LOCATIONS_URL, PRACTITIONERS_URL, PROTOCOLS_URL, ROOMS_URL, detail_url
from tests.treatments.conftest import at
from treatments.models import Location, Practitioner, Protocol, Room

pytestmark = pytest.mark.django_db


def test_locations_are_listed_with_their_time_zone_and_local_opening_hours(treatments_client) -> None:
    LocationFactory(name="Kensington", opening_hours=[(0, time(9), time(13)), (0, time(14), time(18))])
    LocationFactory(name="Chelsea")

    response = treatments_client.get(LOCATIONS_URL)

    assert [row["name"] for row in results(response)] == ["Chelsea", "Kensington"]
    kensington = results(response)[1]
    assert kensington["time_zone"] == "Europe/London"
    assert kensington["opening_hours"] == [
        {"weekday": 0, "opens_at": "09:00:00", "closes_at": "13:00:00"},
        {"weekday": 0, "opens_at": "14:00:00", "closes_at": "18:00:00"},
    ]
    assert parse_api_datetime(kensington["updated_at"]) == timezone.now()
    single = treatments_client.get(detail_url(LOCATIONS_URL, kensington["id"]))
    assert single.status_code == 200
    assert single.json() == kensington


def test_locations_filter_by_active_and_by_updated_since(treatments_client, clock) -> None:
    LocationFactory(name="Old")
    clock.move_to(at(2, 12))
    closed = LocationFactory(name="Closed", is_active=False)

    assert [r["name"] for r in results(treatments_client.get(LOCATIONS_URL, {"is_active": "false"}))] == ["Closed"]
    since = treatments_client.get(LOCATIONS_URL, {"updated_since": at(2, 12).isoformat()})
    assert listed_ids(since) == [str(closed.pk)]
    assert_validation_error(treatments_client.get(LOCATIONS_URL, {"updated_since": "last week"}), "updated_since")


def test_rooms_filter_by_location(treatments_client, location, room) -> None:
    elsewhere = RoomFactory(name="Room 9")

    assert listed_ids(treatments_client.get(ROOMS_URL, {"location": str(location.pk)})) == [str(room.pk)]
    assert listed_ids(treatments_client.get(ROOMS_URL, {"location": str(elsewhere.location_id)})) == [str(elsewhere.pk)]
    row = treatments_client.get(detail_url(ROOMS_URL, room.pk)).json()
    assert (row["name"], row["location"], row["is_active"]) == ("Room 1", str(location.pk), True)
    assert_validation_error(treatments_client.get(ROOMS_URL, {"location": "nowhere"}), "location")


def test_practitioners_filter_by_the_location_they_work_at(treatments_client, location, practitioner) -> None:
    other = PractitionerFactory(locations=[LocationFactory()], display_name="Dr Zhou")

    response = treatments_client.get(PRACTITIONERS_URL, {"location": str(location.pk)})

    assert listed_ids(response) == [str(practitioner.pk)]
    assert results(response)[0]["display_name"] == "Dr Evans"
    assert results(response)[0]["locations"] == [str(location.pk)]
    everyone = treatments_client.get(PRACTITIONERS_URL)
    assert listed_ids(everyone) == [str(practitioner.pk), str(other.pk)]


def test_the_default_mesotherapy_protocol_is_listed_with_its_bounds_and_conflict_rules(treatments_client) -> None:
    response = treatments_client.get(PROTOCOLS_URL, {"search": "mesotherapy"})

    [meso] = results(response)
    assert meso["name"] == "Facial mesotherapy"
    assert meso["category"] == "mesotherapy"
    assert (meso["min_sessions"], meso["default_sessions"], meso["max_sessions"]) == (3, 4, 6)
    assert (meso["min_spacing_days"], meso["max_spacing_days"]) == (14, 28)
    assert (meso["maintenance_min_days"], meso["maintenance_max_days"]) == (90, 180)
    assert sorted(meso["conflict_rules"], key=lambda r: r["blocked_category"]) == [
        {"blocked_category": "chemical_peel", "days": 14},
        {"blocked_category": "laser", "days": 14},
        {"blocked_category": "microdermabrasion", "days": 14},
    ]
    assert treatments_client.get(detail_url(PROTOCOLS_URL, meso["id"])).json() == meso


@pytest.mark.parametrize(
    ("base", "model"),
    [
        pytest.param(LOCATIONS_URL, Location, id="locations"),
        pytest.param(ROOMS_URL, Room, id="rooms"),
        pytest.param(PRACTITIONERS_URL, Practitioner, id="practitioners"),
        pytest.param(PROTOCOLS_URL, Protocol, id="protocols"),
    ],
)
def test_reference_data_is_read_only_through_the_api(treatments_client, room, practitioner, base, model) -> None:
    existing = model.objects.first()
    before = model.objects.count()

    assert_client_error(treatments_client.post(base, {"name": "New"}), 405, "method_not_allowed")
    assert_client_error(treatments_client.put(detail_url(base, existing.pk), {"name": "X"}), 405, "method_not_allowed")
    assert_client_error(
        treatments_client.patch(detail_url(base, existing.pk), {"name": "X"}), 405, "method_not_allowed"
    )
    assert_client_error(treatments_client.delete(detail_url(base, existing.pk)), 405, "method_not_allowed")
    assert model.objects.count() == before
    assert model.objects.filter(pk=existing.pk).exists()
