"""What happens to a booked session: the reschedule, cancel, complete and no-show
actions under /api/v1/sessions/{id}/.

Each action raises the session's sequence and reads back with its FHIR status.
A rule refusal names the rule and says why in words; a taken slot is a 409
naming the clashing session; an action the session's state forbids is a 409
invalid_state; a bad field is a 400 naming it. After any refusal the session,
its course and the product uses are exactly as they were.

Time is frozen by the `clock` fixture (which `treatments_client` brings) at
Monday 2026-03-02 08:00 London, so bookings lie in the future and completions
can come after the start.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from patients import services as patient_services
from patients.models import Consent
from tests.api_assertions import assert_client_error, assert_validation_error, parse_api_datetime
from tests.factories import CourseFactory, PractitionerFactory, ProductFactory, ProductLotFactory, RoomFactory
from tests.treatments.api_helpers import (
    COURSES_URL,
    SESSIONS_URL,
    action_url,
    assert_rule_violation,
    assert_slot_taken,
    booking_body,
    complete_url,
    course_row,
    detail_url,
    reschedule,
    session_row,
)
from tests.treatments.conftest import at, book
from treatments import services
from treatments.models import RuleOverride, Session, SessionProductUse, SessionStatus

pytestmark = pytest.mark.django_db


# --- Reschedule -----------------------------------------------------------------------


def test_rescheduling_moves_the_session_keeps_its_length_and_raises_its_sequence(
    treatments_client, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    other_room = RoomFactory(location=course.location)

    response = reschedule(treatments_client, session, starts_at=at(4, 15).isoformat(), room=str(other_room.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert parse_api_datetime(body["starts_at"]) == at(4, 15)
    assert parse_api_datetime(body["ends_at"]) == at(4, 15, 45)
    assert (body["room"], body["sequence"], body["status"]) == (str(other_room.pk), 1, "booked")
    session.refresh_from_db()
    assert (session.starts_at, session.room, session.practitioner) == (at(4, 15), other_room, practitioner)


def test_rescheduling_into_a_taken_slot_is_a_409_and_leaves_the_session_where_it_was(
    treatments_client, location, practitioner, room
) -> None:
    taken = book(CourseFactory(location=location), practitioner, room, at(3))
    moving = book(CourseFactory(location=location), practitioner, RoomFactory(location=location), at(3, 14))
    before = session_row(moving)

    response = reschedule(treatments_client, moving, starts_at=at(3, 10, 15).isoformat())

    assert_slot_taken(response, taken, "practitioner")
    assert session_row(moving) == before


def test_rescheduling_too_close_to_the_course_neighbour_is_refused_by_spacing(
    treatments_client, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3))
    second = book(course, practitioner, room, at(17))
    before = session_row(second)

    response = reschedule(treatments_client, second, starts_at=at(10).isoformat())

    assert_rule_violation(response, "spacing", earliest_start=at(17))
    assert session_row(second) == before
    assert not RuleOverride.objects.exists()


def test_rescheduling_a_cancelled_session_is_a_409_invalid_state(treatments_client, course, practitioner, room) -> None:
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="patient_request", actor=None
    )
    before = session_row(session)

    response = reschedule(treatments_client, session, starts_at=at(4).isoformat())

    assert_client_error(response, 409, "invalid_state")
    assert session_row(session) == before


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({}, "starts_at", id="no-start"),
        pytest.param({"starts_at": "soon"}, "starts_at", id="start-in-words"),
        pytest.param({"starts_at": "2026-03-01T10:00:00Z"}, "starts_at", id="start-in-the-past"),
        pytest.param({"starts_at": "2026-03-04T10:00:00Z", "ends_at": "x"}, "ends_at", id="unknown-field"),
        pytest.param({"starts_at": "2026-03-04T10:00:00Z", "room": str(uuid.uuid4())}, "room", id="unknown-room"),
        pytest.param(
            {"starts_at": "2026-03-04T10:00:00Z", "practitioner": 5}, "practitioner", id="practitioner-number"
        ),
    ],
)
def test_a_bad_reschedule_is_a_400_naming_the_field_and_moves_nothing(
    treatments_client, course, practitioner, room, body, attr
) -> None:
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_validation_error(reschedule(treatments_client, session, **body), attr)
    assert session_row(session) == before


def test_rescheduling_to_a_room_at_another_location_is_refused(treatments_client, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    response = reschedule(treatments_client, session, starts_at=at(4).isoformat(), room=str(RoomFactory().pk))

    assert_validation_error(response, "room")
    assert session_row(session) == before


# --- Cancel ---------------------------------------------------------------------------


def test_cancelling_a_session_records_the_reason_code_and_reads_as_fhir_cancelled(
    treatments_client, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))

    response = treatments_client.post(
        action_url(SESSIONS_URL, session.pk, "cancel"), {"reason": "patient_unwell", "note": "Has a cold"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["cancel_reason"], body["cancel_note"], body["sequence"]) == (
        "cancelled",
        "cancelled",
        "patient_unwell",
        "Has a cold",
        1,
    )
    assert parse_api_datetime(body["cancelled_at"]) == timezone.now()
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (SessionStatus.CANCELLED, "patient_unwell")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({}, "reason", id="no-reason-code"),
        pytest.param({"reason": "bored"}, "reason", id="unknown-reason-code"),
        pytest.param({"reason": "Patient asked"}, "reason", id="reason-label-not-code"),
        pytest.param({"reason": 3}, "reason", id="reason-as-a-number"),
        pytest.param({"reason": "other", "note": ["x"]}, "note", id="note-as-a-list"),
        pytest.param({"reason": "other", "refund": True}, "refund", id="unknown-field"),
    ],
)
def test_a_cancel_without_a_known_reason_code_is_refused_and_changes_nothing(
    treatments_client, course, practitioner, room, body, attr
) -> None:
    session = book(course, practitioner, room, at(3))
    before = session_row(session)

    assert_validation_error(treatments_client.post(action_url(SESSIONS_URL, session.pk, "cancel"), body), attr)
    assert session_row(session) == before


def test_cancelling_twice_is_a_409_and_keeps_the_first_reason(treatments_client, course, practitioner, room) -> None:
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="clinic_closed", actor=None
    )
    before = session_row(session)

    response = treatments_client.post(action_url(SESSIONS_URL, session.pk, "cancel"), {"reason": "other"})

    assert_client_error(response, 409, "invalid_state")
    assert session_row(session) == before


# --- Complete -------------------------------------------------------------------------


def test_completing_records_notes_areas_and_lots_and_reads_as_fhir_fulfilled(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    cocktail = ProductLotFactory(product=ProductFactory(name="Vitamin cocktail"), lot_number="VC-1")
    needle = ProductLotFactory(lot_number="N-7")
    clock.move_to(at(3, 10, 50))

    response = practitioner_api.post(
        complete_url(session),
        {
            "notes": "Good tolerance.",
            "treated_areas": ["cheeks", "forehead"],
            "product_uses": [{"lot": str(cocktail.pk), "quantity": "2.5"}, {"lot": str(needle.pk), "quantity": 1}],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["notes"], body["treated_areas"], body["sequence"]) == (
        "completed",
        "fulfilled",
        "Good tolerance.",
        ["cheeks", "forehead"],
        1,
    )
    assert parse_api_datetime(body["completed_at"]) == at(3, 10, 50)
    uses = {use["lot_number"]: use for use in body["product_uses"]}
    assert uses["VC-1"] == {
        "lot": str(cocktail.pk),
        "lot_number": "VC-1",
        "product": str(cocktail.product_id),
        "product_name": "Vitamin cocktail",
        "quantity": "2.50",
    }
    assert uses["N-7"]["quantity"] == "1.00"
    assert {(u.lot_id, u.quantity) for u in SessionProductUse.objects.filter(session=session)} == {
        (cocktail.pk, Decimal("2.50")),
        (needle.pk, Decimal("1.00")),
    }


def test_a_session_may_be_completed_at_an_earlier_instant_after_its_start(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 18))

    response = practitioner_api.post(complete_url(session), {"completed_at": at(3, 10, 40).isoformat()})

    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.completed_at == at(3, 10, 40)


def test_completing_a_cancelled_session_is_a_409_invalid_state_and_writes_nothing(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = services.session_cancel(
        session=book(course, practitioner, room, at(3)), reason="patient_request", actor=None
    )
    lot = ProductLotFactory()
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = practitioner_api.post(
        complete_url(session), {"notes": "x", "product_uses": [{"lot": str(lot.pk), "quantity": "1"}]}
    )

    assert_client_error(response, 409, "invalid_state")
    assert "cancelled" in response.json()["errors"][0]["detail"]
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_an_expired_lot_is_refused_at_completion_and_nothing_is_recorded(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    fresh = ProductLotFactory(expires_on=date(2027, 1, 1))
    expired = ProductLotFactory(lot_number="OLD-1", expires_on=date(2026, 3, 2))
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = practitioner_api.post(
        complete_url(session),
        {
            "notes": "Should not be saved",
            "product_uses": [{"lot": str(fresh.pk), "quantity": "1"}, {"lot": str(expired.pk), "quantity": "1"}],
        },
    )

    body = assert_rule_violation(response, "lot_expired", earliest_start=None)
    assert body["errors"][0]["attr"] == "product_uses"
    assert "OLD-1" in body["errors"][0]["detail"]
    assert "Mon 2 Mar 2026" in body["errors"][0]["detail"]
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_a_lot_is_usable_up_to_and_including_its_expiry_day(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    last_day = ProductLotFactory(expires_on=date(2026, 3, 3))
    clock.move_to(at(3, 23, 30))  # late evening in London, still the expiry day

    response = practitioner_api.post(
        complete_url(session), {"product_uses": [{"lot": str(last_day.pk), "quantity": "1"}]}
    )

    assert response.status_code == 200, response.content
    assert SessionProductUse.objects.get().lot == last_day


def test_a_session_cannot_be_completed_before_it_starts(practitioner_api, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 9, 59))
    before = session_row(session)

    assert_validation_error(practitioner_api.post(complete_url(session), {"notes": "Early"}), "completed_at")
    assert session_row(session) == before


BAD_COMPLETION_FIELDS = [
    pytest.param({"treated_areas": ["elbow"]}, "treated_areas.0", id="unknown-treated-area"),
    pytest.param({"treated_areas": "cheeks"}, "treated_areas", id="treated-areas-as-a-string"),
    pytest.param({"notes": ["a", "b"]}, "notes", id="notes-as-a-list"),
    pytest.param({"product_uses": [{"lot": "LOT", "quantity": "1"}]}, "product_uses.0.lot", id="lot-not-a-uuid"),
    pytest.param({"product_uses": [{"lot": "UNKNOWN", "quantity": "1"}]}, "product_uses.0.lot", id="unknown-lot"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "0"}]}, "product_uses.0.quantity", id="quantity-0"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "-1"}]}, "product_uses.0.quantity", id="quantity-neg"),
    pytest.param({"product_uses": [{"lot": "FRESH", "quantity": "lots"}]}, "product_uses.0.quantity", id="qty-word"),
    pytest.param({"product_uses": [{"lot": "FRESH"}]}, "product_uses.0.quantity", id="quantity-missing"),
    pytest.param(
        {"product_uses": [{"lot": "FRESH", "quantity": "1", "expiry": "2030-01-01"}]},
        "product_uses.0.expiry",
        id="product-use-unknown-field",
    ),
    pytest.param(
        {"product_uses": [{"lot": "FRESH", "quantity": "1"}, {"lot": "FRESH", "quantity": "2"}]},
        "product_uses",
        id="same-lot-twice",
    ),
    pytest.param({"product_uses": {"lot": "FRESH"}}, "product_uses.non_field_errors", id="product-uses-as-an-object"),
    pytest.param({"completed_at": "2026-03-04T10:00:00Z"}, "completed_at", id="completed-in-the-future"),
    pytest.param({"completed_at": "yesterday"}, "completed_at", id="completed-at-in-words"),
    pytest.param({"status": "completed"}, "status", id="unknown-field-status"),
]


def resolve_lots(value: Any, lots: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: resolve_lots(item, lots) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_lots(item, lots) for item in value]
    return lots.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize(("fields", "attr"), BAD_COMPLETION_FIELDS)
def test_a_bad_completion_field_is_a_400_naming_it_and_records_nothing(
    practitioner_api, clock, course, practitioner, room, fields, attr
) -> None:
    session = book(course, practitioner, room, at(3))
    lots = {"FRESH": str(ProductLotFactory().pk), "UNKNOWN": str(uuid.uuid4())}
    clock.move_to(at(3, 11))
    before_session, before_course = session_row(session), course_row(course)

    response = practitioner_api.post(complete_url(session), resolve_lots({"notes": "x", **fields}, lots))

    assert_validation_error(response, attr)
    assert session_row(session) == before_session
    assert course_row(course) == before_course
    assert not SessionProductUse.objects.exists()


def test_a_treated_area_named_twice_is_refused_and_the_session_stays_booked(
    practitioner_api, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    clock.move_to(session.ends_at)

    response = practitioner_api.post(complete_url(session), {"treated_areas": ["cheeks", "cheeks"]})

    assert_validation_error(response, "treated_areas")
    session.refresh_from_db()
    assert session.status == "booked"


def test_completing_the_last_planned_session_moves_the_course_to_maintenance(
    practitioner_api, clock, location, practitioner, room
) -> None:
    course = CourseFactory(location=location, planned_sessions=3)
    start = at(3)
    for _ in range(3):
        booked = practitioner_api.post(SESSIONS_URL, booking_body(course, practitioner, room, start))
        assert booked.status_code == 201, booked.content
        clock.move_to(start + timedelta(minutes=45))
        done = practitioner_api.post(action_url(SESSIONS_URL, booked.json()["id"], "complete"), {"notes": "ok"})
        assert done.status_code == 200, done.content
        start = parse_api_datetime(done.json()["completed_at"]) + timedelta(days=14)

    body = practitioner_api.get(detail_url(COURSES_URL, course.pk)).json()

    # The last session ended 10:45 on 31 March (London); maintenance is 90–180 days on.
    assert (body["status"], body["sessions_done"]) == ("maintenance", 3)
    assert body["next_maintenance_earliest"] == (date(2026, 3, 31) + timedelta(days=90)).isoformat()
    assert body["next_maintenance_latest"] == (date(2026, 3, 31) + timedelta(days=180)).isoformat()
    maintenance = practitioner_api.post(SESSIONS_URL, booking_body(course, practitioner, room, at(1, 10, month=7)))
    assert maintenance.status_code == 201, maintenance.content
    assert maintenance.json()["kind"] == "maintenance"


# --- No-show --------------------------------------------------------------------------


def test_a_patient_who_did_not_come_is_marked_no_show_once_the_session_has_started(
    treatments_client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    url = action_url(SESSIONS_URL, session.pk, "no-show")
    before = session_row(session)

    assert_validation_error(treatments_client.post(url, {}), "status")
    assert session_row(session) == before

    clock.move_to(at(3, 10, 20))
    response = treatments_client.post(url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["sequence"]) == ("no_show", "noshow", 1)
    assert parse_api_datetime(body["no_show_at"]) == at(3, 10, 20)


def test_a_no_show_takes_no_fields_and_only_a_booked_session_can_be_one(
    treatments_client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3))
    clock.move_to(at(3, 11))
    url = action_url(SESSIONS_URL, session.pk, "no-show")
    before = session_row(session)

    assert_validation_error(treatments_client.post(url, {"reason": "late"}), "reason")
    assert session_row(session) == before

    services.session_complete(session=session, actor=session.practitioner.user)
    completed = session_row(session)
    assert_client_error(treatments_client.post(url, {}), 409, "invalid_state")
    assert session_row(session) == completed


# --- Check-in -----------------------------------------------------------------------------


def test_a_patient_checks_in_on_the_day_and_the_session_reads_arrived(
    treatments_client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3, 10))
    url = action_url(SESSIONS_URL, session.pk, "check-in")
    before = session_row(session)

    # The day before: refused, naming the field, nothing written.
    assert_validation_error(treatments_client.post(url, {}), "arrived_at")
    assert session_row(session) == before

    clock.move_to(at(3, 9, 50))
    response = treatments_client.post(url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["fhir_status"], body["sequence"]) == ("booked", "arrived", 1)
    assert parse_api_datetime(body["arrived_at"]) == at(3, 9, 50)

    clock.move_to(at(3, 9, 55))
    again = treatments_client.post(url)
    assert again.status_code == 200
    assert parse_api_datetime(again.json()["arrived_at"]) == at(3, 9, 50)  # the first arrival stays
    assert again.json()["sequence"] == 1


def test_only_a_booked_session_is_checked_in_and_the_check_in_takes_no_fields(
    treatments_client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3, 10))
    clock.move_to(at(3, 9, 50))
    url = action_url(SESSIONS_URL, session.pk, "check-in")

    assert_validation_error(treatments_client.post(url, {"when": "now"}), "when")
    services.session_cancel(session=session, actor=None, reason="patient_request")
    cancelled = session_row(session)
    assert_client_error(treatments_client.post(url, {}), 409, "invalid_state")
    assert session_row(session) == cancelled


def test_the_treatment_starts_on_the_day_and_keeps_the_first_start(
    treatments_client, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3, 10))
    url = action_url(SESSIONS_URL, session.pk, "start-treatment")
    before = session_row(session)

    assert_validation_error(treatments_client.post(url, {}), "treatment_started_at")
    assert session_row(session) == before

    clock.move_to(at(3, 10, 5))
    body = treatments_client.post(url).json()
    assert (body["status"], body["fhir_status"]) == ("booked", "arrived")
    assert parse_api_datetime(body["treatment_started_at"]) == at(3, 10, 5)
    assert parse_api_datetime(body["arrived_at"]) == at(3, 10, 5)
    clock.move_to(at(3, 10, 9))
    again = treatments_client.post(url).json()
    assert parse_api_datetime(again["treatment_started_at"]) == at(3, 10, 5)


# --- treatment consent -------------------------------------------------------------------


def test_a_patient_without_treatment_consent_is_booked_visibly_but_not_treated(
    treatments_client, practitioner_api, clock, location, practitioner, room
) -> None:
    course = CourseFactory(location=location, consented=False)
    booked = treatments_client.post(SESSIONS_URL, booking_body(course, practitioner, room, at(3)))
    assert booked.status_code == 201, booked.content
    assert booked.json()["treatment_consent_needed"] is True
    session = Session.objects.get(pk=booked.json()["id"])
    clock.move_to(at(3, 10, 50))

    refused = practitioner_api.post(complete_url(session), {})

    body = assert_rule_violation(refused, "treatment_consent", earliest_start=None)
    assert "facial-mesotherapy" in body["errors"][0]["detail"]
    session.refresh_from_db()
    assert session.status == SessionStatus.BOOKED


def test_consent_given_after_the_session_began_or_to_an_old_form_does_not_count(
    practitioner_api, clock, location, practitioner, room
) -> None:
    course = CourseFactory(location=location, consented=False)
    session = book(course, practitioner, room, at(3))
    protocol = course.protocol
    patient_services.consent_give(
        patient=course.patient,
        kind="treatment",
        scope=protocol.treatment_consent_form,
        version="an-older-form",
        actor=None,
        given_at=at(2, 7),
    )
    clock.move_to(at(3, 10, 30))
    patient_services.consent_give(  # signed mid-session: too late for this one
        patient=course.patient,
        kind="treatment",
        scope=protocol.treatment_consent_form,
        version=protocol.treatment_consent_version,
        actor=None,
    )
    clock.move_to(at(3, 10, 50))

    refused = practitioner_api.post(complete_url(session), {})

    assert_rule_violation(refused, "treatment_consent", earliest_start=None)


def test_a_revoked_treatment_consent_stops_treatment(practitioner_api, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3))
    consent = Consent.objects.get(patient=course.patient, kind="treatment")
    clock.move_to(at(3, 10, 50))
    patient_services.consent_revoke(consent=consent, actor=None)

    refused = practitioner_api.post(complete_url(session), {})

    assert_rule_violation(refused, "treatment_consent", earliest_start=None)


def test_only_the_sessions_own_practitioner_completes_it(
    treatments_client, practitioner_api, clock, location, course, practitioner, room
) -> None:
    colleague = PractitionerFactory(locations=[location])
    theirs = book(course, colleague, room, at(3))
    clock.move_to(at(3, 10, 50))

    by_a_colleague = practitioner_api.post(complete_url(theirs), {"notes": "Done."})
    by_the_front_desk = treatments_client.post(complete_url(theirs), {"notes": "Done."})

    assert_client_error(by_a_colleague, 403, "permission_denied")
    assert_client_error(by_the_front_desk, 403, "permission_denied")
    theirs.refresh_from_db()
    assert theirs.status == SessionStatus.BOOKED
