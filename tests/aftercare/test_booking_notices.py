"""Booking notices: the patient hears of a booking, a move and a cancellation, once per burst of changes.

Sessions are booked, moved and cancelled through treatments.services (and
through the API and the admin, which call them), with the clock moved along
as a front desk works; the dispatcher sends what falls due. Only the outside
world is stubbed: email into Django's locmem outbox, SMS into a JSON-lines
file. Quiet hours are 20:00-09:00 and the notice delay the default five
minutes.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from rest_framework.test import APIClient

from aftercare import booking_notices
from aftercare.booking_notices import Notice, Told, notice_calendar_attachment, notice_calendar_file, notice_for
from aftercare.default_plan import PROMPTS
from aftercare.dispatch import dispatch_due, opt_out_hint
from aftercare.migrations import _plan_v1 as first_shipped
from aftercare.models import MessageKind, MessageStatus, PromptTemplate, ScheduledMessage, SuppressionReason
from aftercare.outbox import messages_cancel
from aftercare.page_links import page_url
from aftercare.rendering import format_moment, render
from integrations.services import api_key_create
from patients.models import ContactChannel
from tests.aftercare.conftest import LONDON, book, consenting_patient, deliver_until, local
from tests.conftest import PROJECT_ROOT
from tests.factories import CourseFactory, PatientFactory
from treatments import services
from treatments.calendar import session_uid
from treatments.models import CancelReason, Course, Location, Practitioner, Room, Session, SessionStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

CONFIRMATION = MessageKind.BOOKING_CONFIRMATION.value
CHANGE = MessageKind.BOOKING_CHANGE.value
CANCELLATION = MessageKind.BOOKING_CANCELLATION.value
REMINDER = MessageKind.APPOINTMENT_REMINDER.value
P, S, C = MessageStatus.PENDING.value, MessageStatus.SENT.value, MessageStatus.CANCELLED.value
PHONE = "+447700900123"
REPLY_TO = "marylebone@clinic.example"


def london(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return local(LONDON, month, day, hour, minute)


@pytest.fixture
def texting_course(location: Location) -> Course:
    """Nadia prefers text messages."""
    patient = consenting_patient(first_name="Nadia", preferred_channel=ContactChannel.SMS, phone=PHONE)
    return CourseFactory(patient=patient, location=location)


@pytest.fixture
def morning(clock: time_machine.Traveller) -> time_machine.Traveller:
    """Monday 2 March, 11:00 in London: outside quiet hours."""
    clock.move_to(london(3, 2, 11))
    return clock


def notices_of(session: Session) -> list[tuple[str, str, datetime, datetime | None]]:
    """(kind, status, due, time announced) of the session's booking notices, oldest first."""
    return [
        (m.kind, m.status, m.due_at, m.announces_start)
        for m in ScheduledMessage.objects.filter(session=session, kind__in=booking_notices.NOTICE_KINDS).order_by(
            "created_at"
        )
    ]


def texts_sent(outside_world: Path) -> list[str]:
    """The words of the text messages sent, in order, without the link to the patient's page that ends each
    and the opt-out hint that ends the first (test_a_booking_is_confirmed… shows them)."""
    return [words(body) for body in raw_texts_sent(outside_world)]


def raw_texts_sent(outside_world: Path) -> list[str]:
    path = outside_world / "sms.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["body"] for line in lines]


def words(text: str) -> str:
    return re.sub(r" Details: \S+", "", text.removesuffix(" " + opt_out_hint("en")))


def move(session: Session, starts_at: datetime) -> Session:
    return services.session_reschedule(session=session, starts_at=starts_at, actor=None)


def cancel(session: Session) -> Session:
    return services.session_cancel(session=session, reason=CancelReason.PATIENT_REQUEST, actor=None)


# --- the rule, on its own -------------------------------------------------------------------------

GOES = london(3, 2, 11, 5)
T1, T2 = london(3, 10, 14), london(3, 12, 16)


@pytest.mark.parametrize(
    ("status", "starts_at", "told", "expected"),
    [
        (SessionStatus.BOOKED, T1, None, Notice(CONFIRMATION, T1)),
        (SessionStatus.CANCELLED, T1, None, None),
        (SessionStatus.BOOKED, T1, Told(T1, cancelled=False), None),
        (SessionStatus.BOOKED, T2, Told(T1, cancelled=False), Notice(CHANGE, T2, replaces=T1)),
        # Cancelled after a move the patient never heard of: they are told the time they know is off.
        (SessionStatus.CANCELLED, T2, Told(T1, cancelled=False), Notice(CANCELLATION, T1)),
        (SessionStatus.BOOKED, T2, Told(T1, cancelled=True), None),
        (SessionStatus.NO_SHOW, T1, Told(T1, cancelled=False), None),
        (SessionStatus.COMPLETED, T1, None, None),
        # Starting before the notice would go: nothing to say in time.
        (SessionStatus.BOOKED, london(3, 2, 11, 4), None, None),
        (SessionStatus.BOOKED, london(3, 2, 11, 4), Told(T1, cancelled=False), None),
        (SessionStatus.CANCELLED, T1, Told(london(3, 2, 11, 5), cancelled=False), None),
    ],
)
def test_what_a_notice_says_follows_what_the_patient_was_last_told(status, starts_at, told, expected) -> None:
    assert notice_for(status=status, starts_at=starts_at, told=told, goes_at=GOES) == expected


# --- confirmations and coalescing --------------------------------------------------------------


def test_a_booking_is_confirmed_five_minutes_later_and_the_dispatcher_sends_exactly_one(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = book(texting_course, practitioner, room, london(3, 10, 14))

    assert notices_of(session) == [(CONFIRMATION, P, london(3, 2, 11, 5), london(3, 10, 14))]
    morning.move_to(london(3, 2, 11, 4))
    dispatch_due()
    assert texts_sent(outside_world) == []

    morning.move_to(london(3, 2, 11, 5))
    dispatch_due()
    dispatch_due()

    link = page_url(session.pk)
    assert raw_texts_sent(outside_world) == [
        "Marylebone: your appointment is booked for Tue 10 Mar at 14:00. To change it call +442079460000. "
        f"Details: {link} Reply STOP to opt out."  # the patient's first text says how to stop them
    ]
    assert notices_of(session) == [(CONFIRMATION, S, london(3, 2, 11, 5), london(3, 10, 14))]


def test_three_quick_reschedules_produce_one_notice_with_the_final_time(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = book(texting_course, practitioner, room, london(3, 10, 14))
    for minutes, starts_at in ((1, london(3, 10, 15)), (2, london(3, 11, 15)), (3, london(3, 11, 16))):
        morning.move_to(london(3, 2, 11, minutes))
        session = move(session, starts_at)

    # One row, rewritten at each change and due five minutes after the last.
    assert notices_of(session) == [(CONFIRMATION, P, london(3, 2, 11, 8), london(3, 11, 16))]

    deliver_until(morning, london(3, 2, 12))

    assert texts_sent(outside_world) == [
        "Marylebone: your appointment is booked for Wed 11 Mar at 16:00. To change it call +442079460000."
    ]


def test_a_booking_cancelled_before_its_confirmation_went_sends_nothing(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = book(texting_course, practitioner, room, london(3, 10, 14))
    morning.move_to(london(3, 2, 11, 3))

    cancel(session)
    deliver_until(morning, london(3, 3, 12))

    assert notices_of(session) == [(CONFIRMATION, C, london(3, 2, 11, 5), london(3, 10, 14))]
    assert texts_sent(outside_world) == []


def test_a_confirmed_booking_moved_later_gets_one_change_notice_naming_both_times(
    morning, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 12))
    morning.move_to(london(3, 4, 12))

    session = move(session, london(3, 12, 16))
    morning.move_to(london(3, 4, 12, 2))
    session = move(session, london(3, 12, 17))
    deliver_until(morning, london(3, 4, 13))

    assert notices_of(session) == [
        (CONFIRMATION, S, london(3, 2, 11, 5), london(3, 10, 14)),
        (CHANGE, S, london(3, 4, 12, 7), london(3, 12, 17)),
    ]
    [confirmation, change] = [email for email in mail.outbox if "appointment" in email.subject.lower()]
    assert confirmation.subject == "Your appointment on Tuesday 10 March 2026 at 14:00 is booked"
    assert change.subject == "Your appointment has moved to Thursday 12 March 2026 at 17:00"
    assert change.body.startswith(
        "Dear Amelia,\n\nYour appointment at Marylebone has moved from Tuesday 10 March 2026 at 14:00 to "
        "Thursday 12 March 2026 at 17:00.\n\nIf the new time does not suit you, call +442079460000."
    )


def test_a_move_back_to_the_time_the_patient_was_told_before_the_notice_went_sends_nothing(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = book(texting_course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 12))
    morning.move_to(london(3, 4, 12))

    session = move(session, london(3, 12, 16))
    morning.move_to(london(3, 4, 12, 3))
    session = move(session, london(3, 10, 14))
    deliver_until(morning, london(3, 4, 13))

    assert [kind_status[:2] for kind_status in notices_of(session)] == [(CONFIRMATION, S), (CHANGE, C)]
    assert len(texts_sent(outside_world)) == 1  # the confirmation only


def test_a_patient_told_of_a_booking_is_told_of_its_cancellation(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = book(texting_course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 12))
    morning.move_to(london(3, 4, 12))

    cancel(session)
    deliver_until(morning, london(3, 4, 13))

    assert notices_of(session)[1] == (CANCELLATION, S, london(3, 4, 12, 5), london(3, 10, 14))
    assert texts_sent(outside_world)[1] == (
        "Marylebone: your appointment on Tue 10 Mar at 14:00 is cancelled. To rebook call +442079460000."
    )


def test_a_cancellation_after_an_unsent_move_names_the_time_the_patient_knows(
    morning, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 12))
    morning.move_to(london(3, 4, 12))

    session = move(session, london(3, 12, 16))
    morning.move_to(london(3, 4, 12, 1))
    cancel(session)
    deliver_until(morning, london(3, 4, 13))

    # The pending change became the cancellation: one row, one email, about 10 March.
    assert notices_of(session)[1:] == [(CANCELLATION, S, london(3, 4, 12, 6), london(3, 10, 14))]
    assert mail.outbox[-1].subject == "Your appointment on Tuesday 10 March 2026 at 14:00 is cancelled"
    assert "To book another time, call +442079460000." in mail.outbox[-1].body


def test_a_change_while_the_pending_notice_is_being_sent_is_told_in_a_notice_of_its_own(
    morning, course, practitioner, room
) -> None:
    """A dispatcher claimed the confirmation between the change's read and its write: the confirmation
    goes as it was, and the move is told as a change from the time it gives."""
    session = book(course, practitioner, room, london(3, 10, 14))
    morning.move_to(london(3, 2, 11, 5))
    session = Session.objects.select_related("course__patient", "course__location").get(pk=session.pk)
    session.starts_at, session.ends_at, session.sequence = london(3, 12, 16), london(3, 12, 16, 45), 1
    plan = booking_notices.plan_notice(session=session, messages=list(session.messages.all()), now=timezone.now())
    assert plan.notice == Notice(CONFIRMATION, london(3, 12, 16)) and plan.waiting is not None

    ScheduledMessage.objects.filter(pk=plan.waiting.pk).update(status=MessageStatus.SENDING)  # the claim
    # The change read the template of the notice it expected to write: the confirmation's.
    written = booking_notices.give_notice(
        plan=plan, session=session, templates=PromptTemplate.objects.filter(kind=CONFIRMATION)
    )

    assert written is not None and written.pk != plan.waiting.pk
    assert written.subject == "Your appointment has moved to Thursday 12 March 2026 at 16:00"
    assert notices_of(session) == [
        (CONFIRMATION, MessageStatus.SENDING, london(3, 2, 11, 5), london(3, 10, 14)),
        (CHANGE, P, london(3, 2, 11, 10), london(3, 12, 16)),
    ]


def test_a_change_after_staff_cancelled_the_pending_confirmation_confirms_afresh(
    morning, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))
    session = Session.objects.select_related("course__patient", "course__location").get(pk=session.pk)
    session.starts_at, session.ends_at, session.sequence = london(3, 12, 16), london(3, 12, 16, 45), 1
    plan = booking_notices.plan_notice(session=session, messages=list(session.messages.all()), now=timezone.now())

    messages_cancel(messages=[plan.waiting], actor=None)  # in the admin, between the change's read and write
    booking_notices.give_notice(plan=plan, session=session, templates=PromptTemplate.objects.filter(kind=CONFIRMATION))

    assert notices_of(session) == [
        (CONFIRMATION, C, london(3, 2, 11, 5), london(3, 10, 14)),
        (CONFIRMATION, P, london(3, 2, 11, 5), london(3, 12, 16)),
    ]


def test_the_delay_is_a_setting(settings, morning, course, practitioner, room) -> None:
    settings.AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS = 60

    session = book(course, practitioner, room, london(3, 10, 14))

    assert notices_of(session) == [(CONFIRMATION, P, london(3, 2, 11, 1), london(3, 10, 14))]


@pytest.mark.parametrize(("value", "outcome"), [("120", "120"), ("soon", "AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS")])
def test_the_delay_comes_from_the_environment_and_a_bad_value_stops_the_process(value: str, outcome: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS)",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS": value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in (result.stdout if value == "120" else result.stderr)
    assert (result.returncode == 0) == (value == "120")


# --- when nothing is said -----------------------------------------------------------------------


def test_a_session_that_starts_before_the_notice_could_go_gets_none(
    clock, outside_world, texting_course, practitioner, room
) -> None:
    clock.move_to(london(3, 2, 19, 58))

    session = book(texting_course, practitioner, room, london(3, 2, 20, 15))  # quiet hours hold it until 09:00
    deliver_until(clock, london(3, 3, 12))

    assert notices_of(session) == []
    assert texts_sent(outside_world) == []


def test_a_no_show_and_a_completion_send_no_booking_notice(morning, course, practitioner, room) -> None:
    missed = book(course, practitioner, room, london(3, 3, 14))
    deliver_until(morning, london(3, 3, 14, 30))
    services.session_mark_no_show(session=missed, actor=None)

    done = book(course, practitioner, room, london(3, 20, 10))
    deliver_until(morning, london(3, 20, 10, 45))
    services.session_complete(session=done, actor=done.practitioner.user)

    assert [row[:2] for row in notices_of(missed)] == [(CONFIRMATION, S)]
    assert [row[:2] for row in notices_of(done)] == [(CONFIRMATION, S)]


# --- consent and quiet hours ----------------------------------------------------------------------


def test_a_notice_is_suppressed_without_consent_to_service_messages(
    morning, outside_world, location, practitioner, room
) -> None:
    patient = PatientFactory(first_name="Owen", preferred_channel=ContactChannel.SMS, phone=PHONE)  # no consent
    session = book(CourseFactory(patient=patient, location=location), practitioner, room, london(3, 10, 14))

    deliver_until(morning, london(3, 2, 12))

    notice = ScheduledMessage.objects.get(session=session, kind=CONFIRMATION)
    assert (notice.status, notice.suppressed_reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)
    assert texts_sent(outside_world) == []


def test_a_booking_made_in_the_evening_is_confirmed_after_quiet_hours(
    clock, outside_world, texting_course, practitioner, room
) -> None:
    clock.move_to(london(3, 2, 20, 30))

    session = book(texting_course, practitioner, room, london(3, 10, 14))
    deliver_until(clock, london(3, 3, 8, 59))
    assert texts_sent(outside_world) == []
    deliver_until(clock, london(3, 3, 9, 1))

    assert notices_of(session) == [(CONFIRMATION, S, london(3, 3, 9), london(3, 10, 14))]
    assert len(texts_sent(outside_world)) == 1


# --- every door -------------------------------------------------------------------------------------


def told_of_booking(clock: time_machine.Traveller, course: Course, practitioner: Practitioner, room: Room) -> Session:
    session = book(course, practitioner, room, london(3, 10, 14))
    deliver_until(clock, london(3, 2, 12))
    clock.move_to(london(3, 4, 12))
    return session


def test_a_cancellation_by_booking_software_through_the_api_is_notified(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    session = told_of_booking(morning, texting_course, practitioner, room)
    client = APIClient()
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post(f"/api/v1/sessions/{session.pk}/cancel/", {"reason": "patient_request"}, format="json")
    assert response.status_code == 200, response.content
    deliver_until(morning, london(3, 4, 13))

    assert texts_sent(outside_world)[-1].startswith("Marylebone: your appointment on Tue 10 Mar at 14:00")
    assert [row[:2] for row in notices_of(session)] == [(CONFIRMATION, S), (CANCELLATION, S)]


def test_a_cancellation_by_the_clinic_in_the_admin_is_notified(
    morning, outside_world, client, admin_user, texting_course, practitioner, room
) -> None:
    session = told_of_booking(morning, texting_course, practitioner, room)
    client.force_login(admin_user)

    client.post(
        reverse("admin:treatments_session_changelist"),
        {"action": "cancel_sessions", "_selected_action": [str(session.pk)]},
    )
    deliver_until(morning, london(3, 4, 13))

    assert texts_sent(outside_world)[-1].endswith("is cancelled. To rebook call +442079460000.")
    assert [row[:2] for row in notices_of(session)] == [(CONFIRMATION, S), (CANCELLATION, S)]


def test_a_cancelled_course_tells_the_patient_of_each_booked_session_they_knew_of(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    known = book(texting_course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 11, 10))
    unheard = book(texting_course, practitioner, room, london(3, 26, 14))  # its confirmation not sent yet
    morning.move_to(london(3, 2, 11, 12))

    services.course_cancel(course=texting_course, reason="Moving abroad", actor=None)
    deliver_until(morning, london(3, 2, 12))

    assert [row[:2] for row in notices_of(known)] == [(CONFIRMATION, S), (CANCELLATION, S)]
    assert [row[:2] for row in notices_of(unheard)] == [(CONFIRMATION, C)]
    assert texts_sent(outside_world) == [
        "Marylebone: your appointment is booked for Tue 10 Mar at 14:00. To change it call +442079460000.",
        "Marylebone: your appointment on Tue 10 Mar at 14:00 is cancelled. To rebook call +442079460000.",
    ]


# --- reminders ask for a reply --------------------------------------------------------------------


def test_a_text_reminder_asks_for_c_to_confirm_or_r_to_rebook(
    morning, outside_world, texting_course, practitioner, room
) -> None:
    book(texting_course, practitioner, room, london(3, 10, 14))

    deliver_until(morning, london(3, 9, 14, 1))

    assert texts_sent(outside_world)[-1] == (
        "Marylebone: reminder of your appointment on Tue 10 Mar at 14:00. Reply C to confirm or R to rebook."
    )
    assert "CANCEL" not in PROMPTS[REMINDER]["sms"].upper()


def test_an_email_reminder_asks_for_a_reply_when_replies_reach_the_clinic_else_for_a_call(
    morning, location, course, practitioner, room
) -> None:
    Location.objects.filter(pk=location.pk).update(email=REPLY_TO, address="12 Harley Street\nLondon W1G 9PF")
    course.refresh_from_db()
    book(course, practitioner, room, london(3, 10, 14))
    Location.objects.filter(pk=location.pk).update(email="")
    other = CourseFactory(patient=consenting_patient(first_name="Owen"), location=location)
    book(other, practitioner, room, london(3, 10, 15))

    deliver_until(morning, london(3, 9, 15, 1))

    [to_amelia, to_owen] = [email for email in mail.outbox if email.subject.startswith("Reminder")]
    assert to_amelia.body.startswith(
        "Dear Amelia,\n\nThis is a reminder of your appointment at Marylebone on Tuesday 10 March 2026 at 14:00.\n\n"
        "Where: Marylebone, 12 Harley Street, London W1G 9PF\n\nPlease come without makeup if you can. Reply to "
        "this email to confirm you are coming, or to ask for another time.\n\nMarylebone · +442079460000"
    )
    assert to_amelia.reply_to == [REPLY_TO]
    assert "reply" not in to_owen.body.lower()
    assert "If you need another time, call +442079460000." in to_owen.body


# --- SMS length ------------------------------------------------------------------------------------

# GSM 03.38: the basic set (one unit each) and the extension table (two units: escape and character).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"
TWO_SEGMENTS = 2 * 153


def gsm7_units(text: str) -> int:
    """The GSM-7 septets `text` takes; raise ValueError for a character GSM-7 cannot carry (UCS-2 would be used)."""
    outside = sorted({c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION})
    if outside:
        raise ValueError(f"not GSM-7: {outside}")
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def test_the_gsm7_count_has_teeth() -> None:
    assert gsm7_units("Reply C") == 7
    assert gsm7_units("€5 [x]") == 9
    with pytest.raises(ValueError, match="’"):
        gsm7_units("Marylebone’s clinic")
    with pytest.raises(ValueError, match="·"):
        gsm7_units("Marylebone · +44")


SEPTEMBER_30, SEPTEMBER_23 = datetime(2026, 9, 30, 10, 30, tzinfo=LONDON), datetime(2026, 9, 23, 10, 30, tzinfo=LONDON)
# Long but real: a location's full name, the longest weekday and month, a 15-digit number, a link of 80.
LONG_CONTEXT = {
    "first_name": "Maximiliana",
    "last_name": "Featherstonehaugh-Wolstenholme",
    "clinic_name": "Kensington & Chelsea Aesthetic Skin Clinic",
    "clinic_phone": "+491512345678901",
    "reply_to": "kensington.chelsea@aesthetic-skin-clinic.example.com",
    "location_address": "Suite 4, Second Floor, 25 Harley Street, Marylebone, London W1G 9QW",
    "session_date": format_moment(SEPTEMBER_30, LONDON),
    "session_date_short": format_moment(SEPTEMBER_30, LONDON, short=True),
    "previous_session_date": format_moment(SEPTEMBER_23, LONDON),
    "previous_session_date_short": format_moment(SEPTEMBER_23, LONDON, short=True),
    "page_url": "https://clinic.example.com/p/" + "x" * 51,
}


@pytest.mark.parametrize("kind", [REMINDER, CONFIRMATION, CHANGE, CANCELLATION])
def test_each_booking_text_fits_two_gsm7_segments_with_long_values_and_the_page_link(kind: str) -> None:
    assert len(LONG_CONTEXT["session_date"]) == len("Wednesday 30 September 2026 at 10:30")
    assert len(LONG_CONTEXT["page_url"]) == 80
    template = PromptTemplate.objects.get(kind=kind, channel="sms", language="en")
    assert template.body == PROMPTS[kind]["sms"]

    text = render(template.body, LONG_CONTEXT)

    assert text.endswith(f" Details: {LONG_CONTEXT['page_url']}")
    # As the patient's first text, it carries the opt-out hint too.
    first_text = f"{text} {opt_out_hint('en')}"
    assert gsm7_units(first_text) <= TWO_SEGMENTS, (gsm7_units(first_text), first_text)
    # Until the page exists, the link is left out whole.
    assert "Details" not in render(template.body, {**LONG_CONTEXT, "page_url": ""})


# --- the calendar invitation ---------------------------------------------------------------------


def invitation(message: ScheduledMessage) -> tuple[Calendar, dict]:
    data = notice_calendar_file(message)
    assert data is not None
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_the_invitation_follows_the_session_through_a_move_and_a_cancellation(
    morning, location, course, practitioner, room
) -> None:
    Location.objects.filter(pk=location.pk).update(email=REPLY_TO, address="12 Harley Street\nLondon W1G 9PF")
    course.refresh_from_db()
    session = book(course, practitioner, room, london(3, 10, 14))
    deliver_until(morning, london(3, 2, 12))
    confirmation = ScheduledMessage.objects.get(session=session, kind=CONFIRMATION)

    calendar, event = invitation(confirmation)
    assert str(calendar["method"]) == "REQUEST"
    assert (str(event["uid"]), event["sequence"], str(event["status"])) == (session_uid(session), 0, "CONFIRMED")
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (london(3, 10, 14), london(3, 10, 14, 45))
    assert str(event["location"]) == "Marylebone, 12 Harley Street, London W1G 9PF"
    assert str(event["summary"]) == "Facial mesotherapy at Marylebone"
    assert str(event["organizer"]) == f"mailto:{REPLY_TO}"
    assert str(event["attendee"]) == "mailto:amelia.hart@example.com"

    morning.move_to(london(3, 4, 12))
    session = move(session, london(3, 12, 16))
    change = ScheduledMessage.objects.get(session=session, kind=CHANGE)
    calendar, event = invitation(change)
    assert str(calendar["method"]) == "REQUEST"
    assert (str(event["uid"]), event["sequence"]) == (session_uid(session), 1)
    assert event.decoded("dtstart") == london(3, 12, 16)

    deliver_until(morning, london(3, 4, 13))
    morning.move_to(london(3, 5, 12))
    cancel(session)
    cancellation = ScheduledMessage.objects.get(session=session, kind=CANCELLATION)
    calendar, event = invitation(cancellation)
    assert str(calendar["method"]) == "CANCEL"
    assert (str(event["uid"]), event["sequence"], str(event["status"])) == (session_uid(session), 2, "CANCELLED")
    assert event.decoded("dtstart") == london(3, 12, 16)


def test_only_a_booking_notice_by_email_carries_an_invitation(
    morning, course, texting_course, practitioner, room
) -> None:
    by_email = book(course, practitioner, room, london(3, 10, 14))
    by_text = book(texting_course, practitioner, room, london(3, 10, 15))

    assert notice_calendar_file(ScheduledMessage.objects.get(session=by_email, kind=CONFIRMATION)) is not None
    filename, _, mimetype = notice_calendar_attachment(
        ScheduledMessage.objects.get(session=by_email, kind=CONFIRMATION)
    )
    assert (filename, mimetype) == ("invite.ics", "text/calendar; method=REQUEST")
    assert notice_calendar_attachment(ScheduledMessage.objects.get(session=by_email, kind=REMINDER)) is None
    assert notice_calendar_file(ScheduledMessage.objects.get(session=by_email, kind=REMINDER)) is None
    assert notice_calendar_file(ScheduledMessage.objects.get(session=by_text, kind=CONFIRMATION)) is None


# --- the outbox shows them ---------------------------------------------------------------------


def test_the_outbox_admin_lists_and_filters_booking_notices(
    morning, client, admin_user, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))
    client.force_login(admin_user)

    listing = client.get(reverse("admin:aftercare_scheduledmessage_changelist"), {"kind__exact": CONFIRMATION})
    detail = client.get(
        reverse(
            "admin:aftercare_scheduledmessage_change",
            args=[ScheduledMessage.objects.get(session=session, kind=CONFIRMATION).pk],
        )
    )

    assert listing.status_code == 200 and detail.status_code == 200
    assert [(m.session_id, m.get_kind_display()) for m in listing.context["cl"].result_list] == [
        (session.pk, "Booking confirmation")
    ]
    assert "Announces start" in detail.content.decode()


# --- the data migration -------------------------------------------------------------------------

TEXTS = importlib.import_module("aftercare.migrations.0018_booking_notice_texts")


def before_the_spanish_texts() -> None:
    """The reminder and the notices as they stood before 0019 added their Spanish."""
    PromptTemplate.objects.filter(kind__in=[REMINDER, *booking_notices.NOTICE_KINDS], language="es").delete()


def test_the_migration_brings_shipped_reminders_up_to_date_and_keeps_the_clinics_edits(capsys) -> None:
    before_the_spanish_texts()
    PromptTemplate.objects.filter(kind__in=booking_notices.NOTICE_KINDS).delete()
    PromptTemplate.objects.filter(kind=REMINDER, channel="sms").update(body=TEXTS.REMINDER_V2["sms"])
    PromptTemplate.objects.filter(kind=REMINDER, channel="email").update(
        subject=first_shipped.PROMPTS[REMINDER]["subject"], body="Our own reminder."
    )

    TEXTS.upgrade(apps, None)

    reminders = {t.channel: (t.subject, t.body) for t in PromptTemplate.objects.filter(kind=REMINDER)}
    assert reminders == {
        "sms": ("", PROMPTS[REMINDER]["sms"]),
        "email": (PROMPTS[REMINDER]["subject"], "Our own reminder."),
    }
    notices = {(t.kind, t.channel): (t.subject, t.body) for t in PromptTemplate.objects.exclude(kind=REMINDER)}
    for kind in booking_notices.NOTICE_KINDS:
        assert notices[(kind, "email")] == (PROMPTS[kind]["subject"], PROMPTS[kind]["email"])
        assert notices[(kind, "sms")] == ("", PROMPTS[kind]["sms"])
    assert "prompt appointment_reminder [email/en] body" in capsys.readouterr().out

    TEXTS.downgrade(apps, None)

    assert PromptTemplate.objects.get(kind=REMINDER, channel="sms").body == TEXTS.REMINDER_V2["sms"]
    assert not PromptTemplate.objects.filter(kind__in=booking_notices.NOTICE_KINDS).exists()


def test_the_first_shipped_reminder_is_brought_up_to_date_too() -> None:
    before_the_spanish_texts()
    PromptTemplate.objects.filter(kind=REMINDER, channel="sms").update(body=first_shipped.PROMPTS[REMINDER]["sms"])

    TEXTS.upgrade(apps, None)

    assert PromptTemplate.objects.get(kind=REMINDER, channel="sms").body == PROMPTS[REMINDER]["sms"]
