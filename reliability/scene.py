"""The clinic a reliability run works in: one location, a few practitioners and rooms, a few hundred patients.

Every patient has a course of facial mesotherapy; a third of them had their
first session three weeks ago, so the worklist has rows and the spacing rule
refuses some bookings, as it would in a real diary. Built with the test
factories (the data a test would set up), in the throwaway database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone


@dataclass(frozen=True)
class Clinic:
    location_id: str
    protocol_id: str
    practitioner_ids: list[str]
    room_ids: list[str]
    patient_ids: list[str]
    patient_last_names: list[str]
    course_ids: list[str]
    session_ids: list[str]  # the completed first sessions the scene starts with
    read_key: str  # raw API keys, scoped read, and read and book
    book_key: str


def clinic_build(*, patients: int, practitioners: int = 3, rooms: int = 3) -> Clinic:
    """Write the clinic; return the ids and keys a run's clients need."""
    from integrations.services import api_key_create
    from tests.factories import (
        CourseFactory,
        LocationFactory,
        PatientFactory,
        PractitionerFactory,
        RoomFactory,
        SessionFactory,
        mesotherapy_protocol,
    )
    from treatments.models import SessionStatus

    location = LocationFactory(name="Reliability clinic")
    protocol = mesotherapy_protocol()
    staff = [PractitionerFactory(locations=[location]) for _ in range(practitioners)]
    places = [RoomFactory(location=location) for _ in range(rooms)]
    first_sessions_at = timezone.now() - timedelta(days=21)
    people: list[Any] = []
    courses: list[Any] = []
    sessions: list[Any] = []
    for n in range(patients):
        patient = PatientFactory(phone=f"+4474001{n:05d}")
        course = CourseFactory(patient=patient, protocol=protocol, location=location, status="active")
        people.append(patient)
        courses.append(course)
        if n % 3 == 0:
            # One after another (an hour apart), so no two of them overlap for a practitioner or a room.
            starts_at = first_sessions_at - timedelta(hours=len(sessions))
            sessions.append(
                SessionFactory(
                    course=course,
                    practitioner=staff[len(sessions) % len(staff)],
                    room=places[len(sessions) % len(places)],
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=protocol.session_duration_minutes),
                    status=SessionStatus.COMPLETED,
                    completed_at=starts_at + timedelta(minutes=protocol.session_duration_minutes),
                )
            )
    _, read_key = api_key_create(name="Reliability reader", scopes=["read"], actor=None)
    _, book_key = api_key_create(name="Reliability booking app", scopes=["read", "book"], actor=None)
    return Clinic(
        location_id=str(location.pk),
        protocol_id=str(protocol.pk),
        practitioner_ids=[str(p.pk) for p in staff],
        room_ids=[str(r.pk) for r in places],
        patient_ids=[str(p.pk) for p in people],
        patient_last_names=[p.last_name for p in people],
        course_ids=[str(c.pk) for c in courses],
        session_ids=[str(s.pk) for s in sessions],
        read_key=read_key,
        book_key=book_key,
    )
