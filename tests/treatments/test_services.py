"""Courses and sessions change only through treatments.services; every rule holds there."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import InvalidState, RuleViolation, SlotTaken
from tests.factories import PatientFactory, ProductLotFactory
from tests.treatments.conftest import LONDON, at, book
from treatments import services
from treatments.models import CourseStatus, RuleOverride, SessionKind, SessionStatus

pytestmark = pytest.mark.django_db


def complete(session, clock, **kwargs):
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user, **kwargs)


def test_booking_the_first_session_activates_the_course(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))

    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE
    assert session.kind == SessionKind.COURSE
    assert session.ends_at - session.starts_at == timedelta(minutes=45)
    assert session.location == room.location


def test_the_next_session_must_wait_the_minimum_spacing(clock, course, practitioner, room) -> None:
    first = book(course, practitioner, room, at(3))
    first = complete(first, clock)

    with pytest.raises(RuleViolation) as excinfo:
        book(course, practitioner, room, at(16, 10, 44))

    assert excinfo.value.rule == "spacing"
    assert excinfo.value.earliest_start == first.completed_at + timedelta(days=14)
    second = book(course, practitioner, room, at(17, 10, 45))
    assert second.booked_late is False


def test_spacing_is_overridable_with_a_reason_and_the_override_is_recorded(clock, course, practitioner, room) -> None:
    first = book(course, practitioner, room, at(3))
    first = complete(first, clock)

    second = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=at(10),
        actor=practitioner.user,  # the practitioner decides, as themself
        overrides=[services.Override(rule="spacing", reason="Patient travelling for a month")],
    )

    override = RuleOverride.objects.get(session=second)
    assert (override.rule, override.practitioner) == ("spacing", practitioner)
    assert "14 days" in override.rule_message


def test_booking_after_the_maximum_spacing_is_allowed_and_flagged_late(clock, course, practitioner, room) -> None:
    first = book(course, practitioner, room, at(3))
    first = complete(first, clock)

    late = book(course, practitioner, room, at(3, month=4))

    assert late.booked_late is True


def test_a_double_booked_practitioner_gets_slot_taken_naming_the_clash(clock, location, practitioner, room) -> None:
    from tests.factories import CourseFactory, RoomFactory

    taken = book(CourseFactory(location=location), practitioner, room, at(3))

    with pytest.raises(SlotTaken) as excinfo:
        book(CourseFactory(location=location), practitioner, RoomFactory(location=location), at(3, 10, 30))

    assert excinfo.value.clashing_session_id == str(taken.pk)
    assert excinfo.value.details["resource"] == "practitioner"


def test_completing_the_last_planned_session_opens_maintenance(clock, course, practitioner, room) -> None:
    start = at(3)
    for _ in range(4):
        session = book(course, practitioner, room, start)
        session = complete(session, clock)
        start = session.completed_at + timedelta(days=14)

    course.refresh_from_db()
    assert course.status == CourseStatus.MAINTENANCE
    last = session.completed_at.astimezone(LONDON).date()
    assert course.next_maintenance_earliest == last + timedelta(days=90)
    assert course.next_maintenance_latest == last + timedelta(days=180)
    maintenance = book(course, practitioner, room, session.completed_at + timedelta(days=100))
    assert maintenance.kind == SessionKind.MAINTENANCE


def test_an_expired_lot_is_refused_at_completion(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    expired = ProductLotFactory(expires_on=at(2).date())

    with pytest.raises(RuleViolation) as excinfo:
        complete(session, clock, product_uses=[services.ProductUse(lot=expired, quantity=Decimal("1"))])

    assert excinfo.value.rule == "lot_expired"
    session.refresh_from_db()
    assert session.status == SessionStatus.BOOKED


def test_a_cancelled_session_cannot_be_completed(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    services.session_cancel(session=session, reason="patient_request", actor=None)

    with pytest.raises(InvalidState):
        session = complete(session, clock)


def test_a_patient_with_medical_flags_needs_an_override(clock, location, practitioner, room) -> None:
    from tests.factories import CourseFactory

    flagged = CourseFactory(location=location, patient=PatientFactory(medical_flags=["anticoagulants"]))

    with pytest.raises(RuleViolation) as excinfo:
        book(flagged, practitioner, room, at(3))
    assert excinfo.value.rule == "medical_review"

    with pytest.raises(ValidationError):
        book(flagged, practitioner, room, at(3), overrides=[services.Override(rule="medical_review", reason="")])
