from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory, mesotherapy_protocol

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    """A controllable clock, starting Monday 2026-03-02 08:00 London time.

    `clock.move_to(datetime)` jumps; `clock.shift(timedelta)` moves on.
    """
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=LONDON), tick=False) as traveller:
        yield traveller


@pytest.fixture
def location(db):  # type: ignore[no-untyped-def]
    return LocationFactory(name="Marylebone")


@pytest.fixture
def room(location):  # type: ignore[no-untyped-def]
    return RoomFactory(location=location, name="Room 1")


@pytest.fixture
def practitioner(location):  # type: ignore[no-untyped-def]
    return PractitionerFactory(locations=[location], display_name="Dr Evans")


@pytest.fixture
def protocol(db):  # type: ignore[no-untyped-def]
    return mesotherapy_protocol()


@pytest.fixture
def course(location, protocol):  # type: ignore[no-untyped-def]
    return CourseFactory(location=location, protocol=protocol, planned_sessions=4)
