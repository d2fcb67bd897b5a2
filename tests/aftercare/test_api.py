"""The aftercare REST API: /api/v1/messages/ (the outbox, read-only) and
/api/v1/side-effect-reports/ (report, list, resolve).

Staff log in through the session and hold only the aftercare permissions
named below. Refusals are JSON in the drf-standardized-errors shape, name
the field at fault, and write nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SideEffectReport, SuppressionReason
from aftercare.side_effects import side_effect_report_create, side_effect_report_resolve
from clinic.roles import PRACTITIONER
from integrations.services import api_key_create
from tests.aftercare.conftest import LONDON, book, complete, consenting_patient
from tests.api_assertions import listed_ids
from tests.factories import CourseFactory, PractitionerFactory, ScheduledMessageFactory, SessionFactory, UserFactory
from tests.treatments.conftest import in_role
from treatments import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

MESSAGES_URL = "/api/v1/messages/"
REPORTS_URL = "/api/v1/side-effect-reports/"

AFTERCARE_PERMISSIONS = [
    "aftercare.view_scheduledmessage",
    "aftercare.view_sideeffectreport",
    "aftercare.add_sideeffectreport",
    "aftercare.change_sideeffectreport",
]

MESSAGE_FIELDS = {
    "id",
    "kind",
    "patient",
    "course",
    "session",
    "step",
    "channel",
    "to_address",
    "subject",
    "body",
    "announces_start",
    "due_at",
    "status",
    "suppressed_reason",
    "attempts",
    "last_error",
    "provider_message_id",
    "sent_at",
    "cancelled_at",
    "created_at",
    "updated_at",
}


def london(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def nurse(db):
    """A front-desk user with the aftercare permissions and nothing else."""
    return UserFactory(username="aftercare.desk", permissions=AFTERCARE_PERMISSIONS)


@pytest.fixture
def desk(nurse) -> APIClient:
    desk = APIClient()
    desk.force_login(nurse)
    return desk


@pytest.fixture
def treated(clock, course, practitioner, room):
    """Amelia's first session, booked on 2 March and completed Tuesday 3 March 10:45."""
    return complete(book(course, practitioner, room, london(3, 3, 10)), clock)


def assert_validation_error(response: Any, attr: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert attr in [error["attr"] for error in body["errors"]], body


def assert_client_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "client_error"
    assert [error["code"] for error in body["errors"]] == [code]


def ids(*messages: Any) -> list[str]:
    return [str(m.pk) for m in messages]


# --- who may read ---------------------------------------------------------------------


def test_the_outbox_is_closed_to_anonymous_visitors_and_to_staff_without_the_permission() -> None:
    message = ScheduledMessageFactory()
    no_aftercare = APIClient()
    no_aftercare.force_login(UserFactory(username="patients.only", permissions=["patients.view_patient"]))

    assert_client_error(APIClient().get(MESSAGES_URL), 401, "not_authenticated")
    assert_client_error(no_aftercare.get(MESSAGES_URL), 403, "permission_denied")
    assert_client_error(no_aftercare.get(f"{MESSAGES_URL}{message.pk}/"), 403, "permission_denied")
    assert_client_error(no_aftercare.get(REPORTS_URL), 403, "permission_denied")


# --- messages ----------------------------------------------------------------------------


def test_a_patients_messages_are_listed_by_due_time_with_offsets(desk, treated) -> None:
    response = desk.get(MESSAGES_URL, {"patient": str(treated.course.patient_id)})

    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [(row["kind"], row["step"]) for row in rows] == [
        ("booking_confirmation", None),
        ("appointment_reminder", None),
        ("aftercare", "immediate-first-48-hours"),
        ("check_in", "day-1-check-in"),
        ("aftercare", "day-3-early-recovery"),
        ("aftercare", "day-7-sun-and-actives"),
        ("aftercare", "day-14-first-results"),
        ("aftercare", "day-21-collagen"),
    ]
    assert set(rows[0]) == MESSAGE_FIELDS
    # A booking notice says which appointment time it told the patient of.
    assert (rows[0]["subject"], datetime.fromisoformat(rows[0]["announces_start"])) == (
        "Your appointment on Tuesday 3 March 2026 at 10:00 is booked",
        london(3, 3, 10),
    )
    assert rows[2]["announces_start"] is None
    day_3 = rows[4]
    assert datetime.fromisoformat(day_3["due_at"]) == london(3, 6, 10)
    assert datetime.fromisoformat(day_3["due_at"]).tzinfo is not None
    assert day_3["session"] == str(treated.pk)
    assert day_3["course"] == str(treated.course_id)
    assert day_3["status"] == "pending"
    assert day_3["body"].startswith("Dear Amelia,")


def test_a_message_is_read_back_by_id(desk, treated) -> None:
    message = ScheduledMessage.objects.get(session=treated, step__code="day-1-check-in")

    response = desk.get(f"{MESSAGES_URL}{message.pk}/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["kind"], body["step"], body["channel"]) == (
        str(message.pk),
        "check_in",
        "day-1-check-in",
        "email",
    )
    assert body["subject"] == "How is your skin doing?"
    assert_client_error(desk.get(f"{MESSAGES_URL}{uuid.uuid4()}/"), 404, "not_found")


def test_the_outbox_is_read_only(desk) -> None:
    message = ScheduledMessageFactory()
    url = f"{MESSAGES_URL}{message.pk}/"
    before = ScheduledMessage.objects.values().get(pk=message.pk)

    assert_client_error(
        desk.post(MESSAGES_URL, {"patient": str(message.patient_id), "body": "x"}), 405, "method_not_allowed"
    )
    assert_client_error(desk.put(url, {"status": "cancelled"}), 405, "method_not_allowed")
    assert_client_error(desk.patch(url, {"status": "cancelled"}), 405, "method_not_allowed")
    assert_client_error(desk.delete(url), 405, "method_not_allowed")
    assert ScheduledMessage.objects.count() == 1
    assert ScheduledMessage.objects.values().get(pk=message.pk) == before


def test_messages_filter_by_status_one_or_several(desk) -> None:
    pending = ScheduledMessageFactory(due_at=london(3, 5))
    sent = ScheduledMessageFactory(status=MessageStatus.SENT, due_at=london(3, 6))
    suppressed = ScheduledMessageFactory(
        status=MessageStatus.SUPPRESSED, suppressed_reason=SuppressionReason.NO_CONSENT, due_at=london(3, 7)
    )

    assert listed_ids(desk.get(MESSAGES_URL, {"status": "pending"})) == ids(pending)
    assert listed_ids(desk.get(f"{MESSAGES_URL}?status=sent&status=suppressed")) == ids(sent, suppressed)
    assert_validation_error(desk.get(MESSAGES_URL, {"status": "lost"}), "status")


def test_messages_filter_by_kind(desk) -> None:
    advice = ScheduledMessageFactory(kind=MessageKind.AFTERCARE, due_at=london(3, 5))
    reminder = ScheduledMessageFactory(kind=MessageKind.APPOINTMENT_REMINDER, due_at=london(3, 6))
    change = ScheduledMessageFactory(kind=MessageKind.BOOKING_CHANGE, due_at=london(3, 7))
    cancellation = ScheduledMessageFactory(kind=MessageKind.BOOKING_CANCELLATION, due_at=london(3, 8))

    assert listed_ids(desk.get(MESSAGES_URL, {"kind": "appointment_reminder"})) == ids(reminder)
    assert listed_ids(desk.get(MESSAGES_URL, {"kind": "aftercare"})) == ids(advice)
    assert listed_ids(desk.get(f"{MESSAGES_URL}?kind=booking_change&kind=booking_cancellation")) == ids(
        change, cancellation
    )
    assert_validation_error(desk.get(MESSAGES_URL, {"kind": "newsletter"}), "kind")


def test_messages_filter_by_patient_and_by_session(clock, desk, treated, location, practitioner, room) -> None:
    other = CourseFactory(patient=consenting_patient(first_name="Bea"), location=location)
    other_session = book(other, practitioner, room, london(3, 5, 15))
    mine = ScheduledMessage.objects.filter(session=treated).order_by("due_at")

    assert listed_ids(desk.get(MESSAGES_URL, {"session": str(treated.pk)})) == ids(*mine)
    assert listed_ids(desk.get(MESSAGES_URL, {"patient": str(other.patient_id)})) == ids(
        *ScheduledMessage.objects.filter(session=other_session)
    )
    assert len(listed_ids(desk.get(MESSAGES_URL, {"patient": str(other.patient_id)}))) == 2  # confirmation, reminder
    assert_validation_error(desk.get(MESSAGES_URL, {"patient": "not-a-uuid"}), "patient")


def test_messages_filter_by_a_due_time_range(desk, treated) -> None:
    # From Wednesday 4 March 10:00 (inclusive) to Tuesday 10 March 10:00 (exclusive), given with offsets.
    response = desk.get(
        MESSAGES_URL, {"due_after": "2026-03-04T10:00:00+00:00", "due_before": "2026-03-10T11:00:00+01:00"}
    )

    assert [row["step"] for row in response.json()["results"]] == ["day-1-check-in", "day-3-early-recovery"]
    assert_validation_error(desk.get(MESSAGES_URL, {"due_after": "next week"}), "due_after")


def test_updated_since_sees_a_reminder_cancelled_by_a_reschedule(clock, desk, course, practitioner, room) -> None:
    ScheduledMessageFactory(due_at=london(3, 1))  # written on 2 March, untouched since
    session = book(course, practitioner, room, london(3, 10, 14))
    clock.move_to(london(3, 4, 12))

    services.session_reschedule(session=session, starts_at=london(3, 12, 16), actor=None)

    response = desk.get(MESSAGES_URL, {"updated_since": "2026-03-04T12:00:00+00:00"})
    assert [(row["kind"], row["status"], row["due_at"]) for row in response.json()["results"]] == [
        # Never sent (nothing ran the dispatcher): the confirmation is rewritten with the new time.
        ("booking_confirmation", "pending", "2026-03-04T12:05:00Z"),
        ("appointment_reminder", "cancelled", "2026-03-09T14:00:00Z"),
        ("appointment_reminder", "pending", "2026-03-11T16:00:00Z"),
    ]
    assert_validation_error(desk.get(MESSAGES_URL, {"updated_since": "yesterday"}), "updated_since")


# --- side-effect reports -------------------------------------------------------------------


def report_body(for_patient: Any, **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": str(for_patient.pk),
        "symptoms": ["redness", "swelling"],
        "severity": "mild",
        "onset_on": "2026-03-04",
    }
    body.update(overrides)
    return body


def alerts() -> list[ScheduledMessage]:
    return list(ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT))


def test_a_red_flag_report_by_api_alerts_the_sessions_practitioner(clock, desk, treated) -> None:
    clock.move_to(london(3, 4, 18))

    response = desk.post(
        REPORTS_URL,
        report_body(treated.course.patient, symptoms=["pus", "fever"], severity="moderate"),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    report = SideEffectReport.objects.get()
    assert body["id"] == str(report.pk)
    assert (body["is_red_flag"], body["session"], body["source"]) == (True, str(treated.pk), "staff")
    assert "pus" in body["red_flag_reasons"] and "fever" in body["red_flag_reasons"]
    assert body["resolved_at"] is None
    # The other alert is to the clinical inbox, which these tests leave unset (tests/aftercare/test_red_flags.py).
    [alert] = [alert for alert in alerts() if alert.to_address]
    assert (alert.to_address, alert.due_at, alert.session_id) == (
        "dr.evans@clinic.example",
        london(3, 4, 18),
        treated.pk,
    )


def test_a_report_sent_with_an_api_key_is_recorded_as_received_by_api(clock, treated) -> None:
    clock.move_to(london(3, 4, 12))
    client = APIClient()
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post(REPORTS_URL, report_body(treated.course.patient), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "integration"
    assert SideEffectReport.objects.get().source == "integration"


def test_a_report_about_a_session_that_has_not_taken_place_is_refused(clock, desk, treated) -> None:
    clock.move_to(london(3, 4, 12))
    booked = SessionFactory(course=treated.course, starts_at=london(3, 20, 10))

    response = desk.post(REPORTS_URL, report_body(treated.course.patient, session=str(booked.pk)))

    assert_validation_error(response, "session")
    assert SideEffectReport.objects.count() == 0


def test_a_report_of_expected_after_effects_is_stored_without_an_alert(clock, desk, treated) -> None:
    clock.move_to(london(3, 4, 12))

    response = desk.post(REPORTS_URL, report_body(treated.course.patient))

    assert response.status_code == 201, response.content
    assert (response.json()["is_red_flag"], response.json()["red_flag_reasons"]) == (False, "")
    assert alerts() == []


def test_report_notes_are_written_and_read_only_by_those_with_the_clinical_record(
    clock, desk, practitioner_api, treated
) -> None:
    """Notes are clinical: the front desk records symptoms, severity and onset; the treating practitioner
    writes and reads the notes; the front desk reads them as null."""
    clock.move_to(london(3, 4, 12))

    by_desk = desk.post(REPORTS_URL, report_body(treated.course.patient, notes="A little pink."))
    by_practitioner = practitioner_api.post(REPORTS_URL, report_body(treated.course.patient, notes="A little pink."))

    assert_client_error(by_desk, 403, "permission_denied")
    assert by_practitioner.status_code == 201, by_practitioner.content
    assert by_practitioner.json()["notes"] == "A little pink."
    report_url = f"{REPORTS_URL}{by_practitioner.json()['id']}/"
    assert desk.get(report_url).json()["notes"] is None
    assert practitioner_api.get(report_url).json()["notes"] == "A little pink."


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        ({"symptoms": ["headache"]}, "symptoms.0"),
        ({"symptoms": []}, "symptoms"),
        ({"symptoms": ["rash", "rash"]}, "symptoms"),
        ({"severity": "unbearable"}, "severity"),
        ({"onset_on": "04/03/2026"}, "onset_on"),
        ({"onset_on": "2026-03-05"}, "onset_on"),  # tomorrow, for the patient
        ({"patient": str(uuid.uuid4())}, "patient"),
        ({"source": "fax"}, "source"),
        ({"symptom": ["rash"]}, "symptom"),
        ({"is_red_flag": True}, "is_red_flag"),
    ],
)
def test_a_bad_report_is_a_400_naming_the_field_and_writes_nothing(
    clock, desk, treated, overrides: dict[str, object], attr: str
) -> None:
    clock.move_to(london(3, 4, 12))

    response = desk.post(REPORTS_URL, report_body(treated.course.patient, **{"symptoms": ["rash"], **overrides}))

    assert_validation_error(response, attr)
    assert SideEffectReport.objects.count() == 0
    assert alerts() == []


def test_a_report_naming_another_patients_session_is_refused(
    clock, desk, treated, location, practitioner, room
) -> None:
    other = CourseFactory(patient=consenting_patient(first_name="Bea"), location=location)
    clock.move_to(london(3, 4, 12))

    response = desk.post(REPORTS_URL, report_body(other.patient, symptoms=["rash"], session=str(treated.pk)))

    assert_validation_error(response, "session")
    assert SideEffectReport.objects.count() == 0
    assert alerts() == []


def test_staff_who_may_only_read_reports_cannot_file_one(clock, treated) -> None:
    reader = APIClient()
    reader.force_login(UserFactory(username="reader", permissions=["aftercare.view_sideeffectreport"]))

    response = reader.post(REPORTS_URL, report_body(treated.course.patient, symptoms=["rash"]))

    assert_client_error(response, 403, "permission_denied")
    assert SideEffectReport.objects.count() == 0


def resolve_url(report: SideEffectReport) -> str:
    return f"{REPORTS_URL}{report.pk}/resolve/"


def red_flag_report(patient: Any) -> SideEffectReport:
    return side_effect_report_create(
        patient=patient, symptoms=["rash"], severity="moderate", onset_on=date(2026, 3, 4), actor=None
    )


def test_the_treating_practitioner_resolves_a_report_once_as_themself(
    clock, practitioner_api, practitioner, treated
) -> None:
    clock.move_to(london(3, 4, 12))
    report = red_flag_report(treated.course.patient)
    clock.move_to(london(3, 4, 15))

    response = practitioner_api.post(resolve_url(report), {"resolution_note": "Called; antihistamine advised."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["resolved_by"], body["resolution_note"]) == (str(practitioner.pk), "Called; antihistamine advised.")
    assert datetime.fromisoformat(body["resolved_at"]) == london(3, 4, 15)
    report.refresh_from_db()
    assert (report.resolved_by, report.resolved_at) == (practitioner, london(3, 4, 15))

    clock.move_to(london(3, 4, 16))
    again = practitioner_api.post(resolve_url(report), {"resolution_note": "Second look."})

    assert_client_error(again, 409, "invalid_state")
    report.refresh_from_db()
    assert (report.resolved_at, report.resolution_note) == (london(3, 4, 15), "Called; antihistamine advised.")


def test_nobody_resolves_a_report_in_a_practitioners_name(clock, desk, treated, practitioner, location) -> None:
    """The front desk named a practitioner and resolved as them; a colleague who does not treat the patient
    resolved too. The resolver is the logged-in practitioner, who must treat the patient."""
    clock.move_to(london(3, 4, 12))
    report = red_flag_report(treated.course.patient)
    colleague = APIClient()
    colleague.force_login(in_role(PractitionerFactory(locations=[location]).user, PRACTITIONER))

    named = desk.post(resolve_url(report), {"resolution_note": "Seen.", "practitioner": str(practitioner.pk)})
    by_desk = desk.post(resolve_url(report), {"resolution_note": "Seen."})
    by_colleague = colleague.post(resolve_url(report), {"resolution_note": "Seen."})

    assert_validation_error(named, "practitioner")  # not a field: there is no one to name
    assert_client_error(by_desk, 403, "permission_denied")
    assert_client_error(by_colleague, 403, "permission_denied")
    report.refresh_from_db()
    assert report.resolved_at is None


def test_reports_filter_by_red_flag_and_by_resolved(clock, desk, treated, practitioner) -> None:
    clock.move_to(london(3, 4, 12))
    patient = treated.course.patient
    open_flag = red_flag_report(patient)
    closed_flag = red_flag_report(patient)
    side_effect_report_resolve(report=closed_flag, note="Seen.", actor=in_role(practitioner.user, PRACTITIONER))
    clock.move_to(london(3, 4, 13))
    expected = side_effect_report_create(
        patient=patient, symptoms=["redness"], severity="mild", onset_on=date(2026, 3, 4), actor=None
    )

    assert sorted(listed_ids(desk.get(REPORTS_URL, {"is_red_flag": "true"}))) == sorted(ids(open_flag, closed_flag))
    assert listed_ids(desk.get(REPORTS_URL, {"is_red_flag": "false"})) == ids(expected)
    assert listed_ids(desk.get(REPORTS_URL, {"resolved": "true"})) == ids(closed_flag)
    assert sorted(listed_ids(desk.get(REPORTS_URL, {"resolved": "false"}))) == sorted(ids(open_flag, expected))
    assert listed_ids(desk.get(REPORTS_URL, {"is_red_flag": "true", "resolved": "false"})) == ids(open_flag)
    assert listed_ids(desk.get(REPORTS_URL))[0] == str(expected.pk)  # newest first


def test_a_report_is_read_back_by_id(clock, desk, treated) -> None:
    clock.move_to(london(3, 4, 12))
    report = red_flag_report(treated.course.patient)

    response = desk.get(f"{REPORTS_URL}{report.pk}/")

    assert response.status_code == 200, response.content
    assert (response.json()["symptoms"], response.json()["onset_on"]) == (["rash"], "2026-03-04")
    assert datetime.fromisoformat(response.json()["created_at"]) == london(3, 4, 12)


def test_reports_cannot_be_changed_or_deleted_through_the_api(clock, desk, treated) -> None:
    clock.move_to(london(3, 4, 12))
    report = red_flag_report(treated.course.patient)

    assert_client_error(desk.patch(f"{REPORTS_URL}{report.pk}/", {"is_red_flag": False}), 405, "method_not_allowed")
    assert_client_error(desk.delete(f"{REPORTS_URL}{report.pk}/"), 405, "method_not_allowed")
    report.refresh_from_db()
    assert report.is_red_flag is True
