"""The words patients receive: whole in every state, reachable, and honest about replies.

Every template of the default plan and every prompt is rendered, as the
outbox renders it, for a course in each state it passes through (sessions
left or not, the next one booked or not, maintenance) and for locations with
and without a phone number and a reply address. No state may leave a gap:
an empty paragraph, "call .", a dangling separator, a reply invitation that
no one would read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from aftercare.booking_notices import NOTICE_KINDS, Notice, notice_context
from aftercare.dispatch import INBOUND_REPLY_KINDS
from aftercare.models import AftercareStep, MessageKind, MessageTemplate, PromptTemplate, ScheduledMessage
from aftercare.rendering import message_context, render
from tests.aftercare.conftest import CLINIC_PHONE, LONDON, book, complete, consenting_patient, deliver_until, local
from tests.factories import CourseFactory
from treatments.models import Course, Location, Practitioner, Room, Session, SessionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

IMMEDIATE = "immediate-first-48-hours"
FALLBACK_PHONE = "+442071234567"
LOCATION_EMAIL = "marylebone@clinic.example"

# How the location is set up, and the clinic-wide number (CLINIC_PHONE).
LOCATION_SETUPS = {
    "phone, reply address and street address": {
        "phone": CLINIC_PHONE,
        "email": LOCATION_EMAIL,
        "clinic_phone": "",
        "address": "12 Harley Street,\nLondon W1G 9PF\n",
    },
    "phone, no reply address": {"phone": CLINIC_PHONE, "email": "", "clinic_phone": "", "address": ""},
    "no phone: the clinic's number": {
        "phone": "",
        "email": LOCATION_EMAIL,
        "clinic_phone": FALLBACK_PHONE,
        "address": "12 Harley Street",
    },
    "no number anywhere": {"phone": "", "email": "", "clinic_phone": "", "address": ""},
}

# A booking notice of each kind about a session.
NOTICES = {
    MessageKind.BOOKING_CONFIRMATION: lambda session: Notice(MessageKind.BOOKING_CONFIRMATION, session.starts_at),
    MessageKind.BOOKING_CHANGE: lambda session: Notice(
        MessageKind.BOOKING_CHANGE, session.starts_at, replaces=session.starts_at - timedelta(days=1)
    ),
    MessageKind.BOOKING_CANCELLATION: lambda session: Notice(MessageKind.BOOKING_CANCELLATION, session.starts_at),
}

# Prompts are written only in some states (a window must exist, a session be booked).
NEXT_SESSION_PROMPTS = (MessageKind.FOLLOWUP_OPEN, MessageKind.FOLLOWUP_CLOSING)
MAINTENANCE_PROMPTS = (MessageKind.MAINTENANCE_DUE.value, "maintenance_closing")


def london(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return local(LONDON, month, day, hour, minute)


def sms_segments(text: str) -> int:
    """How many SMS a text costs: GSM-7 (160, or 153 a part) unless a character needs UCS-2 (70, or 67)."""
    gsm = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
        "abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    extended = "^{}\\[~]|€"
    if all(c in gsm or c in extended for c in text):
        units = sum(2 if c in extended else 1 for c in text)
        return 1 if units <= 160 else math.ceil(units / 153)
    return 1 if len(text) <= 70 else math.ceil(len(text) / 67)


def course_states(
    clock: Any, course: Course, practitioner: Practitioner, room: Room
) -> Iterator[tuple[str, Session, tuple[str, ...]]]:
    """Walk a four-session course to maintenance, yielding (state, session the texts follow, prompts possible)."""
    first = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    yield "after the first session, three left, nothing booked", first, NEXT_SESSION_PROMPTS
    second = book(course, practitioner, room, london(3, 20, 11))
    yield "the next session booked", first, ()
    yield "a session booked, to be reminded of", second, (MessageKind.APPOINTMENT_REMINDER, *NOTICE_KINDS)
    complete(second, clock)
    third = complete(book(course, practitioner, room, london(4, 6, 10)), clock)
    yield "one session left", third, NEXT_SESSION_PROMPTS
    fourth = complete(book(course, practitioner, room, london(4, 22, 10)), clock)
    yield "the final session: maintenance, none left", fourth, MAINTENANCE_PROMPTS
    maintenance = complete(book(course, practitioner, room, london(7, 22, 10)), clock)
    assert maintenance.kind == SessionKind.MAINTENANCE
    yield "after a maintenance session", maintenance, MAINTENANCE_PROMPTS


def gaps(text: str, *, channel: str, context: dict[str, Any]) -> list[str]:
    """What is broken in a rendered text; empty when it reads whole."""
    found = []
    checks = {
        "template syntax left in": r"\{\{|\}\}|\{%|%\}",
        "an empty paragraph": r"\n\s*\n\s*\n",
        "a blank or space-ended line": r"[ \t]+\n|\n[ \t]+\n",
        "a double space": r"\S  +\S",
        "a space before punctuation": r" [.,;:!?)]",
        "an empty bracket": r"\(\s*\)",
        "a dangling separator": r"·\s*$|·\s*\n|^\s*·",
        "a missing value": r"\bNone\b|between\s+and\b|\b(on|call|calling) (if|to|or)\b|\b(call|calling)\s*[.,]",
    }
    for problem, pattern in checks.items():
        if re.search(pattern, text, flags=re.MULTILINE):
            found.append(problem)
    if re.search(r"repl(y|ying) to this email", text, flags=re.IGNORECASE) and (
        channel != "email" or not context["reply_to"]
    ):
        found.append("asks for a reply that would reach no one")
    return found


def test_no_template_leaves_a_gap_in_any_state_or_set_up(clock, settings, course, practitioner, room) -> None:
    location = course.location
    plan_templates = list(
        MessageTemplate.objects.filter(language="en").select_related("step").order_by("step__order", "channel")
    )
    # (Answers to a patient's text are about no state of the course: test_inbound_replies_* below.)
    prompts = list(
        PromptTemplate.objects.filter(language="en").exclude(
            kind__in=[MessageKind.RED_FLAG_ALERT, *INBOUND_REPLY_KINDS]
        )
    )
    assert len(plan_templates) == 2 * AftercareStep.objects.count() and len(prompts) == 2 * 9
    problems = []
    segments: dict[str, int] = {}
    rendered = 0
    for state, session, prompt_kinds in course_states(clock, course, practitioner, room):
        for setup, values in LOCATION_SETUPS.items():
            Location.objects.filter(pk=location.pk).update(
                phone=values["phone"], email=values["email"], address=values["address"]
            )
            settings.CLINIC_PHONE = values["clinic_phone"]
            course.refresh_from_db()
            patient = course.patient
            plan_context = message_context(patient=patient, course=course, session=session)
            # A reminder is about its session; the other prompts are about the course.
            reminding = MessageKind.APPOINTMENT_REMINDER in prompt_kinds
            prompt_context = message_context(patient=patient, course=course, session=session if reminding else None)
            texts = [(f"step {t.step.code}", t, plan_context) for t in plan_templates]
            texts += [
                (f"prompt {t.kind}", t, prompt_context)
                for t in prompts
                if t.kind in prompt_kinds and t.kind not in NOTICE_KINDS
            ]
            # A booking notice tells of the time it announces (a change, of the time it replaces too).
            texts += [
                (
                    f"prompt {t.kind}",
                    t,
                    notice_context(notice=NOTICES[t.kind](session), patient=patient, course=course, session=session),
                )
                for t in prompts
                if t.kind in prompt_kinds and t.kind in NOTICE_KINDS
            ]
            for name, template, context in texts:
                subject, body = render(template.subject, context), render(template.body, context)
                rendered += 1
                where = f"{name} [{template.channel}], {state}, {setup}"
                problems += [f"{where}: {gap}" for gap in gaps(subject, channel="subject", context=context)]
                problems += [f"{where}: {gap}" for gap in gaps(body, channel=template.channel, context=context)]
                if template.channel == "email" and not body.startswith(f"Dear {patient.first_name},"):
                    problems.append(f"{where}: no greeting")
                if template.channel == "sms":
                    segments[name] = max(segments.get(name, 0), sms_segments(body))

    assert problems == [], "\n".join(problems)
    assert rendered > 300
    # Texts stay within two SMS segments (tests/aftercare/test_sms_segments.py tries the longest values).
    assert {name: count for name, count in segments.items() if count > 2} == {}


def test_no_aftercare_text_speaks_of_today(db) -> None:
    """A plan message may arrive on a later day (quiet hours, a late-recorded session): it names days instead."""
    texts = MessageTemplate.objects.values_list("step__code", "channel", "subject", "body")
    assert [(code, channel) for code, channel, subject, body in texts if "today" in (subject + body).lower()] == []


def test_a_location_without_a_phone_gives_the_clinics_number(clock, settings, practitioner, room) -> None:
    settings.CLINIC_PHONE = FALLBACK_PHONE
    Location.objects.filter(pk=room.location_id).update(phone="")
    course = CourseFactory(patient=consenting_patient(first_name="Owen"), location=room.location)

    session = complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    body = ScheduledMessage.objects.get(session=session, step__code=IMMEDIATE).body
    assert f"Contact us straight away on {FALLBACK_PHONE} if you notice" in body
    assert body.endswith(f"Marylebone · {FALLBACK_PHONE}")


def test_replies_reach_the_location_and_no_text_asks_for_one_when_they_could_not(
    clock, location, course, practitioner, room
) -> None:
    Location.objects.filter(pk=location.pk).update(email=LOCATION_EMAIL)
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    deliver_until(clock, london(3, 4, 10, 5))

    [check_in] = [email for email in mail.outbox if email.subject == "How is your skin doing?"]
    assert "reply to this email or call us on +442079460000" in check_in.body
    assert check_in.message()["Reply-To"] == LOCATION_EMAIL
    assert {tuple(email.reply_to) for email in mail.outbox} == {(LOCATION_EMAIL,)}

    # Without an address at the location, no email carries a Reply-To and none asks for a reply.
    mail.outbox.clear()
    Location.objects.filter(pk=location.pk).update(email="")
    other = CourseFactory(patient=consenting_patient(first_name="Owen"), location=location)
    complete(book(other, practitioner, room, london(3, 10, 10)), clock)
    deliver_until(clock, london(3, 11, 10, 5))

    to_owen = [email for email in mail.outbox if email.to == [other.patient.email]]
    assert len(to_owen) == 4  # the booking's confirmation and reminder, the first advice, the check-in
    assert {tuple(email.reply_to) for email in to_owen} == {()}
    assert [email.subject for email in to_owen if "reply" in email.body.lower()] == []
    assert all(email.message()["Reply-To"] is None for email in to_owen)
    # Amelia's messages were written while the address was set: they keep it, with the text that invites replies.
    assert {tuple(email.reply_to) for email in mail.outbox if email not in to_owen} == {(LOCATION_EMAIL,)}


def test_a_location_has_a_reply_address_in_the_admin(client, admin_user, location) -> None:
    client.force_login(admin_user)

    page = client.get(reverse("admin:treatments_location_change", args=[location.pk]))

    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()


# A long location name, and a long, realistic patient name (which no answer should quote: a phone may be shared).
LONG_LOCATION = "Marylebone High Street Aesthetic & Skin Clinic"
LONG_NAMES = {"first_name": "Alexandra-Josephine", "last_name": "Montgomery-Fitzwilliam"}


@pytest.mark.parametrize("kind", sorted(INBOUND_REPLY_KINDS))
@pytest.mark.parametrize("setup", sorted(LOCATION_SETUPS))
def test_inbound_replies_fit_two_segments_and_leave_no_gap(
    clock, settings, course, practitioner, room, kind: str, setup: str
) -> None:
    values = LOCATION_SETUPS[setup]
    Location.objects.filter(pk=course.location_id).update(
        name=LONG_LOCATION, phone=values["phone"], email=values["email"]
    )
    settings.CLINIC_PHONE = values["clinic_phone"]
    type(course.patient).objects.filter(pk=course.patient_id).update(**LONG_NAMES)
    course.refresh_from_db()
    session = book(course, practitioner, room, london(12, 30, 10))  # the longest date: "Wednesday 30 December"
    context = message_context(patient=course.patient, course=course, session=session)
    template = PromptTemplate.objects.get(kind=kind, channel="sms", language="en")

    text = render(template.body, context)

    assert gaps(text, channel="sms", context=context) == []
    assert text.startswith(LONG_LOCATION + ": ")
    assert LONG_NAMES["first_name"] not in text and LONG_NAMES["last_name"] not in text
    assert sms_segments(text) <= 2, (len(text), text)
    if kind == MessageKind.CONFIRM_REPLY:
        assert "Wednesday 30 December 2026 at 10:00 is confirmed" in text
    if kind == MessageKind.HELP_REPLY:
        assert "STOP to stop" in text
        number = values["phone"] or values["clinic_phone"]
        assert (f"Call {number}." in text) if number else ("Call" not in text)
