"""Booking reads its rule inputs in a handful of queries: the count is pinned here, so a change that adds a
read (a query per session, per rule…) shows.

What booking reads and writes, inside the service's transaction:
- the course, locked with its patient, read with its protocol, category and location, whether the
  practitioner works at the room's location and whether the patient's treatment consent is in force (1);
- the patient's sessions: every session of this course, the live ones of the others (1); the conflict
  rules (1); the opening hours (1); the medical clearances only when the patient has medical flags, the
  acting practitioner and the decisions recorded ahead only when overrides are given or a rule refused (0 here);
- the session and its history row (2: no savepoint around them, a clash is named after the rollback), the
  course becoming active and its history row (2);
- the course's follow-up state, worked out from the sessions in hand and stored (1);
- what the session's announcement sets off: aftercare reads the messages of the course and the
  session (and the reminder's key) once, reads the templates of the booking confirmation and the reminder
  in one query, writes the confirmation and the reminder in one INSERT (3); integrations reads the webhook
  subscriptions (1).

That is 13 statements, as before booking notices: the confirmation's template is read with the reminder's,
what the patient was told with the session's messages, and the two rows are written together. Counted inside the test's
transaction, the service's `transaction.atomic()` adds a SAVEPOINT and a RELEASE (in production it is
BEGIN/COMMIT, which are not counted).

Through the API the count adds the session login and the user with their permissions (2:
clinic.auth_backends), the Idempotency-Key record (claimed in one INSERT … ON CONFLICT DO NOTHING, then
completed: 2) and the practitioner and the room in the body (2: the course is read by the service only). The
response is the booked session in hand, whether the treatment consent is in force included (read with the
course).

Moving a session re-reads every rule (the course and the session locked, whether the practitioner works at
the room's location, the patient's sessions, conflict rules, opening hours: 6), writes the session and its
history (2) and the follow-up state (1); aftercare reads the messages once, cancels the old reminder, reads
the templates (the reminder's and the notice's), rewrites the pending confirmation with the new time (the
coalescing UPDATE: one more than before notices) and writes the new reminder (5); integrations reads the
subscriptions (1): 15. Cancelling locks (2), writes the session and its history (2), reads the course's
sessions and stores the follow-up state (2), reads the messages and cancels the reminder and the
confirmation not yet sent in one UPDATE (2), reads the subscriptions (1): 9. Cancelling a session the
patient was told of reads the cancellation notice's template and writes it (2 more): 11.
"""

from __future__ import annotations

import pytest

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage
from tests.factories import CourseFactory, SessionFactory
from tests.treatments.api_helpers import SESSIONS_URL, booking_body
from tests.treatments.conftest import at, book
from treatments import services
from treatments.models import CancelReason, CourseStatus

pytestmark = pytest.mark.django_db

# Each with the test transaction's SAVEPOINT and RELEASE around the service's own.
SERVICE_QUERIES = 13 + 2
API_QUERIES = SERVICE_QUERIES + 2 + 2 + 2
RESCHEDULE_QUERIES = 15 + 2
CANCEL_QUERIES = 9 + 2
CANCEL_TOLD_QUERIES = 11 + 2


def test_booking_through_the_service_takes_a_fixed_number_of_queries(
    clock, course, practitioner, room, django_assert_num_queries
) -> None:
    with django_assert_num_queries(SERVICE_QUERIES):
        book(course, practitioner, room, at(3, 10))


def test_booking_through_the_api_takes_a_fixed_number_of_queries(
    treatments_client, course, practitioner, room, django_assert_num_queries
) -> None:
    with django_assert_num_queries(API_QUERIES):
        response = treatments_client.post(
            SESSIONS_URL, booking_body(course, practitioner, room, at(3, 10)), HTTP_IDEMPOTENCY_KEY="booking-1"
        )
    assert response.status_code == 201, response.content


def test_a_patients_other_sessions_add_no_query_to_a_booking(
    clock, course, practitioner, room, django_assert_num_queries
) -> None:
    """The rule inputs are read whole, not per session: a patient with a history books in as many queries."""
    book(course, practitioner, room, at(3, 10))
    for day in (4, 5, 6):
        # Earlier courses of the protocol (one course of a protocol is in progress at a time).
        other_course = CourseFactory(patient=course.patient, location=course.location, status=CourseStatus.COMPLETED)
        SessionFactory(course=other_course, starts_at=at(day, 10), ends_at=at(day, 10, 45))

    with django_assert_num_queries(SERVICE_QUERIES - 2):  # the course is active already: no status change
        book(course, practitioner, room, at(17, 10))


def test_moving_a_session_takes_a_fixed_number_of_queries(
    clock, course, practitioner, room, django_assert_num_queries
) -> None:
    session = book(course, practitioner, room, at(3, 10))

    with django_assert_num_queries(RESCHEDULE_QUERIES):
        services.session_reschedule(session=session, starts_at=at(4, 10), actor=None)


def test_cancelling_a_session_takes_a_fixed_number_of_queries(
    clock, course, practitioner, room, django_assert_num_queries
) -> None:
    session = book(course, practitioner, room, at(3, 10))

    with django_assert_num_queries(CANCEL_QUERIES):
        services.session_cancel(session=session, reason=CancelReason.PATIENT_REQUEST, actor=None)


def test_cancelling_a_session_the_patient_was_told_of_takes_a_fixed_number_of_queries(
    clock, course, practitioner, room, django_assert_num_queries
) -> None:
    session = book(course, practitioner, room, at(3, 10))
    ScheduledMessage.objects.filter(session=session, kind=MessageKind.BOOKING_CONFIRMATION).update(
        status=MessageStatus.SENT
    )

    with django_assert_num_queries(CANCEL_TOLD_QUERIES):
        services.session_cancel(session=session, reason=CancelReason.PATIENT_REQUEST, actor=None)

    assert ScheduledMessage.objects.filter(session=session, kind=MessageKind.BOOKING_CANCELLATION).count() == 1
