"""Fixtures and scene-setting shared by the treatments tests (and imported by a
few others): a frozen clock, a location with a room and a practitioner, the
mesotherapy protocol and a course on it, and a clinician's API client.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from clinic.roles import PRACTITIONER
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PractitionerFactory,
    RoomFactory,
    UserFactory,
    mesotherapy_protocol,
)
from tests.treatments.api_helpers import TREATMENT_PERMISSIONS
from treatments import services
from treatments.models import Session

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def clock():
    """A controllable clock, starting Monday 2026-03-02 08:00 London time.

    `clock.move_to(datetime)` jumps; `clock.shift(timedelta)` moves on.
    """
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=LONDON), tick=False) as traveller:
        yield traveller


@pytest.fixture
def location(db):
    return LocationFactory(name="Marylebone")


@pytest.fixture
def room(location):
    return RoomFactory(location=location, name="Room 1")


@pytest.fixture
def practitioner(location):
    return PractitionerFactory(locations=[location], display_name="Dr Evans")


@pytest.fixture
def protocol(db):
    return mesotherapy_protocol()


@pytest.fixture
def course(location, protocol):
    return CourseFactory(location=location, protocol=protocol, planned_sessions=4)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    """A London wall-clock instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def book(course, practitioner, room, starts_at, **kwargs) -> Session:
    """Set the scene through the service, the way every door books."""
    return services.session_book(
        course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None, **kwargs
    )


def in_role(user, role: str):  # type: ignore[no-untyped-def]
    """`user`, given the permissions of one of the clinic's roles (clinic.roles)."""
    user.groups.add(Group.objects.get(name=role))
    return type(user).objects.get(pk=user.pk)  # fresh: permissions are cached per instance


@pytest.fixture
def practitioner_client(client, practitioner):  # type: ignore[no-untyped-def]
    """The `practitioner` logged in to the admin with the practitioner role: they act as themself."""
    client.force_login(in_role(practitioner.user, PRACTITIONER))
    return client


@pytest.fixture
def practitioner_api(practitioner, settings):  # type: ignore[no-untyped-def]
    """The `practitioner` logged in to the API with the practitioner role, inside the frozen clock's story."""
    settings.SESSION_COOKIE_AGE = 5 * 365 * 24 * 3600
    client = APIClient()
    client.force_login(in_role(practitioner.user, PRACTITIONER))
    return client


@pytest.fixture
def clinician(db):
    """A staff user holding the treatments permissions (and reading patients), not a superuser."""
    return UserFactory(username="clinician", permissions=TREATMENT_PERMISSIONS)


@pytest.fixture
def treatments_client(clock, clinician, settings) -> APIClient:
    """An API client logged in through the session as `clinician`, inside the frozen clock.

    Some stories move the clock months ahead; the login must outlive them.
    """
    settings.SESSION_COOKIE_AGE = 5 * 365 * 24 * 3600
    client = APIClient()
    client.force_login(clinician)
    return client
