"""Output serializers plan their fields once (clinic.api.serializers.FastRepresentationMixin): what they
return must be what DRF's own ModelSerializer.to_representation returns, value for value and type for type."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from aftercare.api.serializers import ScheduledMessageOutputSerializer, SideEffectReportOutputSerializer
from aftercare.models import SideEffectReport
from clinic.api.serializers import FastRepresentationMixin
from frontdesk.api.serializers import ContactAttemptOutputSerializer
from frontdesk.models import ContactAttempt
from patients.api.serializers import ConsentOutputSerializer, PatientOutputSerializer
from patients.models import Consent, Patient
from tests.factories import (
    ConsentFactory,
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    ProductLotFactory,
    RoomFactory,
    ScheduledMessageFactory,
    SessionFactory,
    UserFactory,
    mesotherapy_protocol,
)
from treatments import selectors
from treatments.api.serializers import (
    CourseOutputSerializer,
    LocationOutputSerializer,
    LotRecipientSerializer,
    MedicalClearanceOutputSerializer,
    PractitionerOutputSerializer,
    ProductLotSerializer,
    ProtocolOutputSerializer,
    RoomOutputSerializer,
    SessionOutputSerializer,
    SlotSerializer,
)
from treatments.models import MedicalClearance, RuleOverride, SessionProductUse, SessionStatus

pytestmark = pytest.mark.django_db


def drf_representation(serializer: Any, instance: Any) -> dict[str, Any]:
    return serializers.ModelSerializer.to_representation(serializer, instance)


def planned_representation(serializer: Any, instance: Any) -> dict[str, Any]:
    return FastRepresentationMixin.to_representation(serializer, instance)


def assert_same(serializer: Any, instance: Any) -> None:
    planned = planned_representation(serializer, instance)
    drf = drf_representation(serializer, instance)
    assert planned == drf
    assert list(planned) == list(drf)
    assert [type(value) for value in planned.values()] == [type(value) for value in drf.values()]


def test_every_output_serializer_returns_what_drf_returns() -> None:
    location = LocationFactory(phone="+442079460000", email="desk@clinic.example")
    practitioner = PractitionerFactory(locations=[location])
    room = RoomFactory(location=location)
    patient = PatientFactory(skin_type=3, medical_flags=["pregnancy"], medical_notes="Notes")
    course = CourseFactory(patient=patient, location=location)
    starts_at = timezone.now() + timedelta(days=2)
    session = SessionFactory(
        course=course, practitioner=practitioner, room=room, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)
    )
    completed = SessionFactory(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=starts_at - timedelta(days=30),
        ends_at=starts_at - timedelta(days=30) + timedelta(hours=1),
        status=SessionStatus.COMPLETED,
        completed_at=starts_at - timedelta(days=30) + timedelta(hours=1),
        treated_areas=["cheeks"],
        notes="Went well",
    )
    lot = ProductLotFactory()
    SessionProductUse.objects.create(session=completed, lot=lot, quantity=Decimal("1.5"))
    RuleOverride.objects.create(
        session=session, rule="spacing", reason="Reviewed", practitioner=practitioner, rule_message="Too soon"
    )
    consent = ConsentFactory(patient=patient, recorded_by=UserFactory())
    clearance = MedicalClearance.objects.create(
        patient=patient, flags_reviewed=["pregnancy"], course=course, reason="Reviewed", practitioner=practitioner
    )
    report = SideEffectReport.objects.create(
        patient=patient, session=completed, symptoms=["redness"], severity="mild", onset_on=date(2026, 1, 1)
    )
    message = ScheduledMessageFactory(patient=patient, course=course, session=session)
    attempt = ContactAttempt.objects.create(
        course=course, outcome="call_back", call_back_on=date(2026, 5, 1), made_by_label="reception", made_at=starts_at
    )

    for row in selectors.session_list().filter(course=course):
        assert_same(SessionOutputSerializer(), row)
    assert_same(CourseOutputSerializer(), selectors.course_list().get(pk=course.pk))
    assert_same(PatientOutputSerializer(), patient)
    assert_same(PatientOutputSerializer(), Patient.objects.get(pk=patient.pk))  # its phone parsed on use
    assert_same(PatientOutputSerializer(), PatientFactory(phone="", email="x@example.com", skin_type=None))
    assert_same(ConsentOutputSerializer(), Consent.objects.select_related("recorded_by").get(pk=consent.pk))
    assert_same(MedicalClearanceOutputSerializer(), clearance)
    assert_same(SideEffectReportOutputSerializer(), report)
    assert_same(ScheduledMessageOutputSerializer(), message)
    assert_same(ContactAttemptOutputSerializer(), attempt)
    assert_same(LocationOutputSerializer(), selectors.location_list().get(pk=location.pk))
    assert_same(RoomOutputSerializer(), room)
    assert_same(PractitionerOutputSerializer(), practitioner)
    assert_same(ProtocolOutputSerializer(), selectors.protocol_list().get(pk=mesotherapy_protocol().pk))
    assert_same(ProductLotSerializer(), lot)
    assert_same(LotRecipientSerializer(), selectors.lot_recipients(lot_id=lot.pk).get())


def test_a_plain_serializer_of_plain_fields_is_planned_too() -> None:
    """Availability's slots (a dataclass, no model): a month is ~500 of them, and DRF's path cost ~70 µs each."""
    location = LocationFactory()
    starts_at = timezone.now().astimezone(location.time_zone)
    room = RoomFactory(location=location)
    slot = selectors.Slot(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=45), room_ids=(str(room.pk),))
    serializer = SlotSerializer()

    planned = planned_representation(serializer, slot)
    drf = serializers.Serializer.to_representation(serializer, slot)
    assert planned == drf
    assert [type(value) for value in planned.values()] == [type(value) for value in drf.values()]
    assert [field for *_, field in serializer._representation_plan()] == [None, None, None]  # no field left to DRF
