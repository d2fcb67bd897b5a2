"""Fixtures for the aftercare tests: a London clinic open until 21:00, a
patient who consented to service messages, a controllable clock, and the
outside world (email, SMS) stubbed with Django's locmem backend and the
file SMS transport.

Helpers that book and complete sessions go through treatments.services,
the same door the admin and the API use, so the aftercare hooks run as
they do in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from aftercare.dispatch import dispatch_due
from aftercare.models import MessageStatus, ScheduledMessage
from patients.models import ConsentKind, Patient
from tests.aftercare.dispatch_helpers import RECORDING_TRANSPORT
from tests.factories import (
    ConsentFactory,
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    UserFactory,
    mesotherapy_protocol,
)
from tests.treatments.conftest import practitioner_api, practitioner_client  # noqa: F401 - shared fixtures
from treatments import services
from treatments.models import Course, Location, Practitioner, Room, Session

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")

# 15:00 in London and 10:00 in New York: outside quiet hours for both.
AFTERNOON = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CLINIC_PHONE = "+442079460000"
# Open every day until 21:00, so a session can end after the 20:00 start of quiet hours.
LATE_OPENING = [(day, time(8), time(21)) for day in range(7)]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """A controllable clock, starting Monday 2026-03-02 08:00 London time (GMT).

    `clock.move_to(datetime)` jumps; `clock.shift(timedelta)` moves on.
    """
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=LONDON), tick=False) as traveller:
        yield traveller


@pytest.fixture
def outside_world(settings, tmp_path):
    """Email into Django's locmem outbox, SMS into tmp_path/sms.jsonl; quiet hours 20:00–09:00."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "aftercare.channels.sms.FileSmsTransport"
    settings.SMS_FILE_PATH = str(tmp_path)
    settings.AFTERCARE_QUIET_HOURS = "20:00-09:00"
    return tmp_path


@pytest.fixture
def dispatch_clock() -> Iterator[time_machine.Traveller]:
    """A stopped clock at AFTERNOON; `move_to` / `shift` move it."""
    with time_machine.travel(AFTERNOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def provider(db, settings, tmp_path: Path) -> Path:
    """SMS to the recording transport, email to locmem, quiet hours 20:00–09:00; yields the recording file."""
    recording = tmp_path / "sms-received.txt"
    settings.SMS_BACKEND = RECORDING_TRANSPORT
    settings.SMS_RECORDING_FILE = str(recording)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.AFTERCARE_QUIET_HOURS = "20:00-09:00"
    settings.AFTERCARE_SENDING_LEASE_SECONDS = 300
    settings.AFTERCARE_RETRY_BASE_SECONDS = 60
    settings.AFTERCARE_RETRY_MAX_SECONDS = 6 * 3600
    settings.AFTERCARE_MAX_ATTEMPTS = 6
    return recording


@pytest.fixture
def location(db) -> Location:
    return LocationFactory(name="Marylebone", phone=CLINIC_PHONE, opening_hours=LATE_OPENING)


@pytest.fixture
def room(location: Location) -> Room:
    return RoomFactory(location=location, name="Room 1")


@pytest.fixture
def practitioner(location: Location) -> Practitioner:
    user = UserFactory(username="dr.evans", email="dr.evans@clinic.example")
    return PractitionerFactory(user=user, locations=[location], display_name="Dr Evans")


@pytest.fixture
def patient(db) -> Patient:
    return consenting_patient(first_name="Amelia", last_name="Hart", email="amelia.hart@example.com")


@pytest.fixture
def course(patient: Patient, location: Location) -> Course:
    return CourseFactory(patient=patient, location=location, protocol=mesotherapy_protocol(), planned_sessions=4)


def consenting_patient(**fields: object) -> Patient:
    """A patient who consented to service messages a month before the tests' clock starts."""
    patient = PatientFactory(**fields)
    ConsentFactory(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, given_at=datetime(2026, 2, 1, tzinfo=UTC))
    return patient


def book(course: Course, practitioner: Practitioner, room: Room, starts_at: datetime) -> Session:
    return services.session_book(course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None)


def complete(session: Session, clock: time_machine.Traveller) -> Session:
    """Complete `session` at its end time, moving the clock there."""
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user)


def deliver_until(clock: time_machine.Traveller, until: datetime) -> None:
    """Run the dispatcher at each pending message's due time up to `until`, then stop the clock there.

    This is what beat does every minute, compressed: each message is
    delivered at the moment it falls due, in order.
    """
    while True:
        next_due = (
            ScheduledMessage.objects.filter(status=MessageStatus.PENDING, due_at__lte=until)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        if next_due is None:
            break
        clock.move_to(max(next_due, timezone.now()))
        dispatch_due()
    if until > timezone.now():
        clock.move_to(until)


def local(zone: ZoneInfo, month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)
