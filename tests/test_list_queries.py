"""Every list endpoint costs what the rows returned cost: the same number of queries for a page of 5 rows
as for a page of 50 (no query per row, no count of the whole table), whatever else is stored.

Each scene makes `n` rows of its kind (with what they show: sessions with product uses and overrides,
courses with sessions…); the page of 5 and the page of 50 must take exactly as many queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from aftercare.inbox import inbound_sms_receive
from aftercare.models import SideEffectReport
from frontdesk.models import ContactAttempt
from patients.models import Consent, ConsentKind
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    ProductFactory,
    ProductLotFactory,
    RoomFactory,
    ScheduledMessageFactory,
    SessionFactory,
    UserFactory,
    mesotherapy_protocol,
)
from treatments.models import MedicalClearance, Protocol, RuleOverride, SessionProductUse, SessionStatus

pytestmark = pytest.mark.django_db

API = "/api/v1"
SMALL, LARGE = 5, 50


@dataclass
class Scene:
    """What a scene's rows hang off, made once per test."""

    location: Any
    practitioner: Any
    room: Any
    patient: Any
    lot: Any

    def future(self, index: int) -> datetime:
        """A distinct hour-long slot a week or more ahead, one per index."""
        start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
        return start + timedelta(hours=index)


def _sessions(scene: Scene, first: int, n: int, *, completed: bool = False) -> list[Any]:
    sessions = []
    for index in range(first, first + n):
        starts_at = scene.future(index)
        session = SessionFactory(
            course=CourseFactory(location=scene.location),
            practitioner=scene.practitioner,
            room=scene.room,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
        )
        if completed:
            session.status = SessionStatus.COMPLETED
            session.completed_at = session.ends_at
            session.save()
            SessionProductUse.objects.create(session=session, lot=scene.lot, quantity=Decimal("1.5"))
        RuleOverride.objects.create(
            session=session, rule="spacing", reason="Reviewed", practitioner=scene.practitioner, rule_message="…"
        )
        sessions.append(session)
    return sessions


def _patients(scene: Scene, first: int, n: int) -> None:
    for index in range(first, first + n):
        PatientFactory(last_name=f"Searchable{index:03d}")


def _consents(scene: Scene, first: int, n: int) -> None:
    # One consent in force per kind and scope: the older ones were revoked.
    for index in range(first, first + n):
        given = datetime(2025, 1, 1, tzinfo=timezone.get_current_timezone()) + timedelta(days=index)
        Consent.objects.filter(patient=scene.patient, kind=ConsentKind.MARKETING, revoked_at__isnull=True).update(
            revoked_at=given
        )
        Consent.objects.create(
            patient=scene.patient, kind=ConsentKind.MARKETING, version=f"v{index}", given_at=given, recorded_by=None
        )


def _locations(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        LocationFactory()


def _rooms(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        RoomFactory(location=scene.location)


def _practitioners(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        PractitionerFactory(locations=[scene.location])


def _protocols(scene: Scene, first: int, n: int) -> None:
    template = mesotherapy_protocol()
    for index in range(first, first + n):
        Protocol.objects.create(
            name=f"Protocol {index}",
            category=template.category,
            min_sessions=1,
            max_sessions=6,
            default_sessions=3,
            min_spacing_days=14,
            max_spacing_days=28,
            maintenance_min_days=90,
            maintenance_max_days=180,
        )


def _courses(scene: Scene, first: int, n: int) -> None:
    _sessions(scene, first, n)  # each on a course of its own


def _clearances(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        MedicalClearance.objects.create(
            patient=scene.patient,
            flags_reviewed=["pregnancy"],
            valid_until=date(2030, 1, 1),
            reason="Reviewed",
            practitioner=scene.practitioner,
        )


def _products(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        ProductFactory()


def _lots(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        ProductLotFactory()


def _recipients(scene: Scene, first: int, n: int) -> None:
    _sessions(scene, first, n, completed=True)


def _messages(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        ScheduledMessageFactory(patient=scene.patient)


def _reports(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        SideEffectReport.objects.create(
            patient=scene.patient, symptoms=["redness"], severity="mild", onset_on=date(2026, 1, 1)
        )


def _inbox(scene: Scene, first: int, n: int) -> None:
    # Texts from the scene's patient (each about their next session, if any) and from unknown numbers.
    for index in range(first, first + n):
        sender = str(scene.patient.phone) if index % 2 else f"+44770090{index:04d}"
        inbound_sms_receive(from_number=sender, body=f"Message {index}", provider_message_id=f"SM{index:032d}")


def _contact_attempts(scene: Scene, first: int, n: int) -> None:
    course = CourseFactory(location=scene.location)
    for index in range(first, first + n):
        ContactAttempt.objects.create(
            course=course, outcome="no_answer", made_by_label="reception", made_at=scene.future(-index - 200)
        )


def _waiting_courses(scene: Scene, first: int, n: int) -> None:
    for _ in range(n):
        CourseFactory(location=scene.location)


# (name, url for a scene, rows maker, whether the list is paged)
LISTS: list[tuple[str, Callable[[Scene], str], Callable[[Scene, int, int], Any], bool]] = [
    ("patients", lambda s: f"{API}/patients/", _patients, True),
    ("patient search", lambda s: f"{API}/patients/?search=searchable", _patients, True),
    ("consents", lambda s: f"{API}/patients/{s.patient.pk}/consents/", _consents, False),
    ("locations", lambda s: f"{API}/locations/", _locations, True),
    ("rooms", lambda s: f"{API}/rooms/", _rooms, True),
    ("practitioners", lambda s: f"{API}/practitioners/", _practitioners, True),
    ("protocols", lambda s: f"{API}/protocols/", _protocols, True),
    ("courses", lambda s: f"{API}/courses/", _courses, True),
    ("sessions", lambda s: f"{API}/sessions/", _sessions, True),
    (
        "sessions of a practitioner",
        lambda s: f"{API}/sessions/?practitioner={s.practitioner.pk}&status=booked",
        _sessions,
        True,
    ),
    ("medical clearances", lambda s: f"{API}/medical-clearances/", _clearances, True),
    ("products", lambda s: f"{API}/products/", _products, True),
    ("lots", lambda s: f"{API}/lots/", _lots, True),
    ("lot recipients", lambda s: f"{API}/lots/{s.lot.pk}/recipients/", _recipients, True),
    ("messages", lambda s: f"{API}/messages/", _messages, True),
    ("side-effect reports", lambda s: f"{API}/side-effect-reports/", _reports, True),
    ("contact attempts", lambda s: f"{API}/contact-attempts/", _contact_attempts, True),
    ("inbox", lambda s: f"{API}/inbox/?handled=false", _inbox, True),
    ("worklist", lambda s: f"{API}/worklist/", _waiting_courses, True),
]


@pytest.fixture
def scene(db) -> Scene:
    location = LocationFactory(name="Marylebone")
    return Scene(
        location=location,
        practitioner=PractitionerFactory(locations=[location]),
        room=RoomFactory(location=location),
        patient=PatientFactory(last_name="Zed"),
        lot=ProductLotFactory(),
    )


def _queries_for_page(client: APIClient, url: str, page_size: int | None) -> tuple[int, int]:
    if page_size is not None:
        url += ("&" if "?" in url else "?") + f"page_size={page_size}"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return len(queries), len(rows)


@pytest.mark.parametrize(("name", "url", "make", "paged"), LISTS, ids=[entry[0] for entry in LISTS])
def test_a_page_of_50_rows_takes_as_many_queries_as_a_page_of_5(scene, name, url, make, paged) -> None:
    client = APIClient()
    client.force_login(UserFactory(username="owner", is_superuser=True))

    make(scene, 0, SMALL)
    small_queries, small_rows = _queries_for_page(client, url(scene), SMALL if paged else None)
    make(scene, SMALL, LARGE - SMALL)
    large_queries, large_rows = _queries_for_page(client, url(scene), LARGE if paged else None)

    assert (small_rows, large_rows) == (SMALL, LARGE)
    assert large_queries == small_queries, (
        f"{name}: {small_queries} queries for {SMALL} rows, {large_queries} for {LARGE}"
    )


def test_availability_takes_as_many_queries_whatever_is_booked(scene) -> None:
    client = APIClient()
    client.force_login(UserFactory(username="owner", is_superuser=True))
    first_day = scene.future(0).date()
    url = (
        f"{API}/availability/?practitioner={scene.practitioner.pk}&location={scene.location.pk}"
        f"&protocol={mesotherapy_protocol().pk}&date_from={first_day}&date_to={first_day + timedelta(days=30)}"
    )

    _sessions(scene, 0, SMALL)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _sessions(scene, SMALL, LARGE - SMALL)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200

    assert len(many) == len(few)


def test_a_practitioners_page_of_sessions_takes_as_many_queries_for_50_rows_as_for_5(scene) -> None:
    """The clinical record's access check is made once per response, not per row."""
    from django.contrib.auth.models import Group

    from clinic.roles import PRACTITIONER

    user = scene.practitioner.user
    user.groups.add(Group.objects.get(name=PRACTITIONER))
    client = APIClient()
    client.force_login(user)
    url = f"{API}/sessions/?practitioner={scene.practitioner.pk}"

    _sessions(scene, 0, SMALL)
    small_queries, _ = _queries_for_page(client, url, SMALL)
    _sessions(scene, SMALL, LARGE - SMALL)
    large_queries, _ = _queries_for_page(client, url, LARGE)

    assert large_queries == small_queries
