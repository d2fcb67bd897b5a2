"""What a patient is sent, and when, over a real course of treatment.

Sessions are booked, moved, cancelled and completed through
treatments.services with the clock moved along, exactly as the front desk
and the practitioners do it; the aftercare hooks run inside those calls.
Only the outside world is stubbed: email goes to Django's locmem outbox,
SMS to a JSON-lines file.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client

from aftercare.dispatch import dispatch_due
from aftercare.models import (
    AftercarePlan,
    AftercareStep,
    Channel,
    ChannelRule,
    MessageKind,
    MessageStatus,
    ScheduledMessage,
    SuppressionReason,
)
from aftercare.prompts import schedule_followup_prompts
from aftercare.reactions import PROMPT_KINDS
from aftercare.side_effects import side_effect_report_create
from clinic.errors import RuleViolation
from patients.models import Consent, ConsentKind, ContactChannel, Patient
from patients.services import consent_revoke
from tests.aftercare.conftest import (
    LONDON,
    NEW_YORK,
    UTC,
    book,
    complete,
    consenting_patient,
    deliver_until,
    local,
)
from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory
from tests.treatments.api_helpers import peel_protocol
from treatments import services
from treatments.models import Course, CourseStatus, Practitioner, Room, Session, SessionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

IMMEDIATE = "immediate-first-48-hours"
DAY_1 = "day-1-check-in"
DAY_3 = "day-3-early-recovery"
DAY_7 = "day-7-sun-and-actives"
DAY_14 = "day-14-first-results"
DAY_21 = "day-21-collagen"
WEEK_6 = "week-6-full-results"
REMINDER = MessageKind.APPOINTMENT_REMINDER.value
CONFIRMATION = MessageKind.BOOKING_CONFIRMATION.value
MAINTENANCE = MessageKind.MAINTENANCE_DUE.value


def london(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return local(LONDON, month, day, hour, minute)


def messages_of(patient: Patient) -> list[ScheduledMessage]:
    return list(
        ScheduledMessage.objects.filter(patient=patient)
        .exclude(kind=MessageKind.RED_FLAG_ALERT)
        .select_related("step")
        .order_by("due_at", "created_at")
    )


def what(message: ScheduledMessage) -> str:
    """The step code of a plan message, or the kind of any other message."""
    return message.step.code if message.step else message.kind


def step_message(session: Session, code: str) -> ScheduledMessage:
    return ScheduledMessage.objects.get(session=session, step__code=code)


def beat(clock: time_machine.Traveller, moment: datetime) -> int:
    """Move the clock to `moment` and run the follow-up prompt beat task's service."""
    clock.move_to(moment)
    return schedule_followup_prompts()


# --- the golden course ---------------------------------------------------------------

# Worked out by hand from SPEC §2 and the default plan, not from the code:
# - booking confirmations: five minutes after the booking (AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS), or at
#   09:00 when quiet hours hold them;
# - reminders: the session's start, one local day earlier (or at booking if later);
# - immediate advice: at completion (the session's end), unless quiet hours
#   (20:00–09:00 local) hold it until 09:00;
# - +1/+3/+7/+21 days: 10:00 local on that local date, GMT or BST as it falls;
# - +14 days says peels are fine again, so it waits until the conflict rule
#   allows them: the completion's wall-clock time 14 local days later (and
#   past quiet hours: session 4 ended at 20:30);
# - +21 days (weeks 3–6) gives way to the next session when that one is
#   completed first (sessions 1 and 2); session 3's went that morning;
# - +42 days: only after the final (4th) session;
# - maintenance: 10:00 local on the first day of the window, 90 days after the
#   last session (30 April + 90 days = 29 July), once the beat sees it is due.
# Columns: session number (None: about the course), step code or kind, local due time, status.
P, C = MessageStatus.PENDING.value, MessageStatus.CANCELLED.value
GOLDEN_SCHEDULE = [
    (1, CONFIRMATION, "2026-03-02 09:00 GMT", P),
    (1, REMINDER, "2026-03-02 10:00 GMT", P),
    (1, IMMEDIATE, "2026-03-03 10:45 GMT", P),
    (1, DAY_1, "2026-03-04 10:00 GMT", P),
    (1, DAY_3, "2026-03-06 10:00 GMT", P),
    (1, DAY_7, "2026-03-10 10:00 GMT", P),
    (1, DAY_14, "2026-03-17 10:45 GMT", P),
    (2, CONFIRMATION, "2026-03-17 12:05 GMT", P),
    (2, REMINDER, "2026-03-19 11:00 GMT", P),
    (2, IMMEDIATE, "2026-03-20 11:45 GMT", P),
    (2, DAY_1, "2026-03-21 10:00 GMT", P),
    (2, DAY_3, "2026-03-23 10:00 GMT", P),
    (1, DAY_21, "2026-03-24 10:00 GMT", C),
    (2, DAY_7, "2026-03-27 10:00 GMT", P),
    (2, DAY_14, "2026-04-03 11:45 BST", P),
    (3, CONFIRMATION, "2026-04-03 12:05 BST", P),
    (3, REMINDER, "2026-04-08 19:05 BST", P),
    (3, IMMEDIATE, "2026-04-09 19:50 BST", P),
    (2, DAY_21, "2026-04-10 10:00 BST", C),
    (3, DAY_1, "2026-04-10 10:00 BST", P),
    (3, DAY_3, "2026-04-12 10:00 BST", P),
    (3, DAY_7, "2026-04-16 10:00 BST", P),
    (4, CONFIRMATION, "2026-04-23 10:35 BST", P),
    (3, DAY_14, "2026-04-23 19:50 BST", P),
    (4, REMINDER, "2026-04-29 19:45 BST", P),
    (3, DAY_21, "2026-04-30 10:00 BST", P),
    (4, IMMEDIATE, "2026-05-01 09:00 BST", P),
    (4, DAY_1, "2026-05-01 10:00 BST", P),
    (4, DAY_3, "2026-05-03 10:00 BST", P),
    (4, DAY_7, "2026-05-07 10:00 BST", P),
    (4, DAY_14, "2026-05-15 09:00 BST", P),
    (4, DAY_21, "2026-05-21 10:00 BST", P),
    (4, WEEK_6, "2026-06-11 10:00 BST", P),
    (None, MAINTENANCE, "2026-07-29 10:00 BST", P),
]
SENT_IN_THE_GOLDEN_COURSE = [row for row in GOLDEN_SCHEDULE if row[3] == P]


def run_four_session_course(
    clock: time_machine.Traveller,
    course: Course,
    practitioner: Practitioner,
    room: Room,
    *,
    deliver: bool,
) -> tuple[list[Session], list[int]]:
    """A four-session course from March to the end of July, as the front desk runs it.

    Each next session is booked once the day-14 message has asked for it,
    14–21 days after the previous completion. Session 3 ends at 19:50, just
    before quiet hours; session 4 at 20:30, inside them. With `deliver`, the
    dispatcher sends everything as it falls due. Returns the sessions and
    what each run of the prompt beat created.
    """

    def advance(moment: datetime) -> None:
        if deliver:
            deliver_until(clock, moment)
        else:
            clock.move_to(moment)

    created = []
    sessions = []
    # Monday 2 March 08:00: the course is booked at the front desk.
    first = book(course, practitioner, room, london(3, 3, 10))
    advance(first.ends_at)
    sessions.append(complete(first, clock))

    # The window opens on 17 March; the day-14 message is the prompt to book.
    advance(london(3, 17, 10))
    created.append(schedule_followup_prompts())
    advance(london(3, 17, 12))
    second = book(course, practitioner, room, london(3, 20, 11))
    advance(second.ends_at)
    sessions.append(complete(second, clock))

    advance(london(4, 3, 10))
    created.append(schedule_followup_prompts())
    advance(london(4, 3, 12))
    third = book(course, practitioner, room, london(4, 9, 19, 5))
    advance(third.ends_at)
    sessions.append(complete(third, clock))

    advance(london(4, 23, 10))
    created.append(schedule_followup_prompts())
    advance(london(4, 23, 10, 30))
    fourth = book(course, practitioner, room, london(4, 30, 19, 45))
    advance(fourth.ends_at)
    sessions.append(complete(fourth, clock))

    # The course is in maintenance; the beat keeps running until it falls due.
    for moment in (
        london(5, 14, 10),
        london(7, 28, 10),
        london(7, 29, 9, 59),
        london(7, 29, 10),
        london(7, 29, 10, 15),
    ):
        advance(moment)
        created.append(schedule_followup_prompts())
    advance(london(7, 30, 12))
    return sessions, created


def test_a_four_session_course_produces_exactly_the_golden_schedule(clock, course, practitioner, room) -> None:
    sessions, created = run_four_session_course(clock, course, practitioner, room, deliver=False)

    number = {session.pk: index for index, session in enumerate(sessions, start=1)}
    schedule = [
        (number.get(m.session_id), what(m), m.due_at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M %Z"), m.status)
        for m in messages_of(course.patient)
    ]
    assert schedule == GOLDEN_SCHEDULE
    # The beat found nothing to add until maintenance fell due, then one prompt, once.
    assert created == [0, 0, 0, 0, 0, 0, 1, 0]
    assert {m.channel for m in messages_of(course.patient)} == {Channel.EMAIL}
    course.refresh_from_db()
    assert course.status == CourseStatus.MAINTENANCE
    assert (course.next_maintenance_earliest, course.next_maintenance_latest) == (
        date(2026, 7, 29),
        date(2026, 10, 27),
    )


def test_quiet_hours_hold_the_advice_after_a_late_session_until_morning(clock, course, practitioner, room) -> None:
    before_quiet = book(course, practitioner, room, london(3, 3, 19, 5))
    before_quiet = complete(before_quiet, clock)
    inside_quiet = book(course, practitioner, room, london(3, 20, 19, 45))
    inside_quiet = complete(inside_quiet, clock)

    # Ends 19:50: sent at once. Ends 20:30: held until 09:00 the next morning.
    assert step_message(before_quiet, IMMEDIATE).due_at == london(3, 3, 19, 50)
    held = step_message(inside_quiet, IMMEDIATE)
    assert held.due_at == london(3, 21, 9, 0)
    # Arriving the next day, it must not speak of "today's" session; it names the day.
    assert "today" not in (held.subject + held.body).lower()
    assert "Friday 20 March 2026 at 19:45" in held.body


# --- every fact reaches the patient ---------------------------------------------------

# SPEC §1, as the patient must read it (email). Each fact's phrases must all
# appear together in one message the patient actually received.
SPEC_FACTS = [
    ("normal after-effects", ["redness", "swelling", "pinpoint bleeding", "tiny bumps", "1–2 days"]),
    ("bruising fades within a week", ["bruise", "fades within a week"]),
    ("no makeup for 24 h", ["no makeup for at least 24 hours"]),
    (
        "no exfoliants, retinoids, alcohol-based products for 24 h",
        ["exfoliants, retinoids or alcohol-based", "24 hours minimum"],
    ),
    ("actives (retinol, AHA/BHA) paused 3–5 days", ["retinol", "aha/bha", "3–5 days"]),
    ("vitamin C serums and exfoliants paused 5–7 days", ["vitamin c serums and exfoliants", "5–7 days"]),
    ("no heat for 48–72 h", ["no heat for 48–72 hours", "sauna", "steam room", "hot yoga", "hot showers"]),
    ("no strenuous exercise for 24–48 h", ["no strenuous exercise for 24–48 hours"]),
    ("no alcohol, no smoking, they slow healing", ["no alcohol", "no smoking", "first days", "slow healing"]),
    ("mineral SPF 30+ daily", ["broad-spectrum", "mineral", "spf 30+", "zinc oxide", "titanium dioxide", "every day"]),
    ("reapply every 2–3 h outdoors", ["reapply every 2–3 hours", "outdoors"]),
    ("avoid the 10:00–16:00 sun for 1 week", ["sun", "between 10:00 and 16:00", "for 1 week"]),
    ("no peels, laser, microdermabrasion for 14 days", ["chemical peels", "laser", "microdermabrasion", "14 days"]),
    ("hydration", ["water", "hyaluronic-acid serum", "ceramide", "non-comedogenic moisturiser"]),
    ("red flag: persistent pain", ["contact us", "persistent pain"]),
    ("red flag: severe swelling", ["contact us", "severe swelling"]),
    ("red flag: itching", ["contact us", "itching"]),
    ("red flag: rash", ["contact us", "rash"]),
    ("red flag: signs of infection (pus, fever)", ["contact us", "signs of infection", "pus", "fever"]),
    ("red flag: prolonged swelling", ["contact us", "prolonged swelling"]),
    ("red flag: bruising that does not fade", ["contact us", "bruising that does not fade"]),
    ("first results after 1–2 weeks", ["first results", "1–2 weeks"]),
    ("optimal results after 4–6 weeks", ["optimal", "4–6 weeks"]),
    ("results last 6–12 months", ["results", "last 6–12 months"]),
    ("maintenance every 3–6 months", ["maintenance session every 3–6 months"]),
    ("longer-lived plans: every 6–12 months", ["longer-lasting plans", "every 6–12 months"]),
    ("what shortens results", ["smoking", "sun exposure", "poor skincare", "shorten"]),
    ("dry or sun-damaged skin may need more sessions", ["dry or sun-damaged skin may need more sessions"]),
    ("sessions 14 to 28 days apart", ["14 to 28 days apart"]),
    ("hands off the treated area", ["do not touch, rub, massage or pick", "treated area"]),
    (
        "gentle cleansing",
        ["mild", "fragrance-free", "ph-balanced", "cleanser", "lukewarm water", "pat dry"],
    ),
    ("soothe with cooling gel or aloe", ["cooling gel", "aloe"]),
    ("cool showers", ["cool showers"]),
    ("sun beyond sunscreen", ["hat", "shade", "sunscreen", "indoors near windows", "cloudy days"]),
    # The recovery timeline.
    ("first 24–48 h: immediate care", ["first 24–48 hours"]),
    ("days 3–7: early recovery, dryness, tightness", ["days 3 to 7", "early recovery", "dry", "tight"]),
    ("weeks 3–6: collagen, progressive improvement", ["weeks 3 to 6", "collagen", "improving"]),
    ("1 month+: full effect, plan maintenance", ["full effect", "maintenance"]),
]


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def test_every_spec_fact_reaches_the_patient_over_a_full_course(clock, course, practitioner, room) -> None:
    run_four_session_course(clock, course, practitioner, room, deliver=True)

    received = [normalised(email.body) for email in mail.outbox if email.to == [course.patient.email]]
    assert len(received) == len(SENT_IN_THE_GOLDEN_COURSE)
    assert {m.status for m in messages_of(course.patient)} == {MessageStatus.SENT, MessageStatus.CANCELLED}
    missing = [
        fact for fact, phrases in SPEC_FACTS if not any(all(p.lower() in body for p in phrases) for body in received)
    ]
    assert missing == []
    for body in received:
        assert body.startswith("dear amelia,"), body[:80]
        assert "{{" not in body and "{%" not in body
        assert "between and" not in body


def test_the_spec_fact_list_is_not_satisfied_by_a_course_missing_its_final_advice(
    clock, course, practitioner, room
) -> None:
    """The fact check has teeth: without the week-6 message, the maintenance facts go missing."""
    AftercareStep.objects.filter(code=WEEK_6).update(offset_value=200)  # past the end of the simulation
    run_four_session_course(clock, course, practitioner, room, deliver=True)

    received = [normalised(email.body) for email in mail.outbox if email.to == [course.patient.email]]
    missing = {
        fact for fact, phrases in SPEC_FACTS if not any(all(p.lower() in body for p in phrases) for body in received)
    }
    assert {
        "results last 6–12 months",
        "maintenance every 3–6 months",
        "longer-lived plans: every 6–12 months",
    } <= missing


# The pauses and the care the first message must carry together (SPEC §1), as the email says them.
FIRST_MESSAGE_EMAIL = [
    "no makeup for at least 24 hours",
    "no exfoliants, retinoids or alcohol-based products for 24 hours minimum",
    "no actives such as retinol and aha/bha acids for 3–5 days",
    "no vitamin c serums and exfoliants for 5–7 days",
    "do not touch, rub, massage or pick at the treated area",
    "mild, fragrance-free, ph-balanced cleanser and lukewarm water, then pat dry",
    "cooling gel or aloe",
    "cool showers",
]
# The SMS says what matters first, in two segments, and links to the page that says it all.
FIRST_MESSAGE_SMS = [
    "redness, swelling and bumps settle in 1-2 days",
    "hands off the area",
    "no makeup 24 h",
    "no heat 48-72 h",
    "pain, rash, pus or fever: call +442079460000",
]


def test_the_message_after_a_session_carries_every_pause_and_the_gentle_care_at_once(
    clock, outside_world, course, practitioner, room
) -> None:
    by_sms = CourseFactory(
        patient=consenting_patient(preferred_channel=ContactChannel.SMS, phone="+447700900123"),
        location=course.location,
    )
    emailed = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    texted = complete(book(by_sms, practitioner, room, london(3, 3, 11)), clock)
    deliver_until(clock, london(3, 3, 12))

    email = step_message(emailed, IMMEDIATE)
    assert email.status == MessageStatus.SENT
    assert [phrase for phrase in FIRST_MESSAGE_EMAIL if phrase not in normalised(email.body)] == []
    sms = step_message(texted, IMMEDIATE)
    assert sms.status == MessageStatus.SENT
    sent = [json.loads(line)["body"] for line in (outside_world / "sms.jsonl").read_text().splitlines()]
    assert sms.body in sent
    assert [phrase for phrase in FIRST_MESSAGE_SMS if phrase not in normalised(sms.body)] == []
    # Shorter must not mean contradicting: exfoliants are never said to be fine after a day.
    assert not re.search(r"exfoliants[^.;]*24 h", sms.body)
    # The patient's first text (the booking's confirmation, here) says how to stop them, once; the link opens
    # the page with every pause and the care.
    assert sent[0] == ScheduledMessage.objects.get(session=texted, kind=MessageKind.BOOKING_CONFIRMATION).body
    assert sent[0].endswith(" Reply STOP to opt out.")
    assert not sms.body.endswith(" Reply STOP to opt out.")
    link = re.search(r"https?://\S+/c/[\w-]{43}/", sms.body).group(0)
    page = Client().get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert [phrase for phrase in FIRST_MESSAGE_EMAIL if phrase not in normalised(page.content.decode())] == []


# --- timing follows the session, not the moment it was recorded ----------------------------

OUT_OF_DATE = (MessageStatus.SUPPRESSED, "out_of_date")


def plan_outcome(session: Session) -> dict[str, tuple[str, str, datetime]]:
    return {
        what(m): (m.status, m.suppressed_reason, m.due_at)
        for m in ScheduledMessage.objects.filter(session=session, step__isnull=False).select_related("step")
    }


def test_a_session_recorded_days_late_gets_only_the_advice_that_is_still_true(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 3, 10))
    # The practitioner records Tuesday's session on Friday afternoon, with its real end time.
    clock.move_to(london(3, 6, 14))
    session = services.session_complete(
        session=session, completed_at=london(3, 3, 10, 45), actor=session.practitioner.user
    )

    # Every step is timed from the session; the first two are past their time and written as out of date.
    assert plan_outcome(session) == {
        IMMEDIATE: (*OUT_OF_DATE, london(3, 3, 10, 45)),
        DAY_1: (*OUT_OF_DATE, london(3, 4, 10)),
        DAY_3: (MessageStatus.PENDING, "", london(3, 6, 10)),
        DAY_7: (MessageStatus.PENDING, "", london(3, 10, 10)),
        DAY_14: (MessageStatus.PENDING, "", london(3, 17, 10, 45)),
        DAY_21: (MessageStatus.PENDING, "", london(3, 24, 10)),
    }
    # The outbox keeps what was not sent, for staff to see.
    assert step_message(session, IMMEDIATE).body.startswith("Dear Amelia,")

    deliver_until(clock, london(3, 6, 14, 5))

    # (The booking's confirmation and reminder went too, late: nothing ran the dispatcher until Friday.)
    assert [
        email.subject for email in mail.outbox if not email.subject.startswith(("Reminder", "Your appointment"))
    ] == ["Days 3 to 7: early recovery"]
    assert plan_outcome(session)[IMMEDIATE][:2] == OUT_OF_DATE


def test_a_session_recorded_the_next_morning_still_gets_its_first_advice_without_saying_today(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 3, 19, 5))
    clock.move_to(london(3, 4, 9, 30))
    session = services.session_complete(
        session=session, completed_at=london(3, 3, 19, 50), actor=session.practitioner.user
    )

    deliver_until(clock, london(3, 4, 10, 5))

    immediate, check_in = step_message(session, IMMEDIATE), step_message(session, DAY_1)
    assert (immediate.status, immediate.sent_at) == (MessageStatus.SENT, london(3, 4, 9, 30))
    assert (check_in.status, check_in.sent_at) == (MessageStatus.SENT, london(3, 4, 10))
    for message in (immediate, check_in):
        assert "today" not in (message.subject + message.body).lower()
    assert "Tuesday 3 March 2026 at 19:05" in immediate.body


def test_when_the_day_14_text_is_out_of_date_the_window_open_prompt_asks_for_the_booking(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 3, 10))
    clock.move_to(london(3, 25, 12))  # recorded three weeks late
    session = services.session_complete(
        session=session, completed_at=london(3, 3, 10, 45), actor=session.practitioner.user
    )
    assert plan_outcome(session)[DAY_14][:2] == OUT_OF_DATE

    assert beat(clock, london(3, 25, 12, 15)) == 1

    prompt = ScheduledMessage.objects.get(course=course, kind=MessageKind.FOLLOWUP_OPEN)
    assert "between Tuesday 17 March 2026 and Tuesday 31 March 2026" in prompt.body


@pytest.mark.parametrize(
    ("patient_zone", "location_zone"),
    [
        ("Europe/London", "Europe/London"),
        # 10:00 in London is 06:00 in New York, hours before the clinic's rule allows a peel.
        ("Europe/London", "America/New_York"),
    ],
)
def test_peels_are_said_to_be_fine_again_no_earlier_than_the_booking_rule_allows_them(
    clock, patient_zone: str, location_zone: str
) -> None:
    location = LocationFactory(time_zone=location_zone)
    room = RoomFactory(location=location)
    practitioner = PractitionerFactory(locations=[location])
    patient = consenting_patient(time_zone=patient_zone)
    course = CourseFactory(patient=patient, location=location)
    starts_at = datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo(location_zone))
    session = complete(book(course, practitioner, room, starts_at), clock)

    clearance = step_message(session, DAY_14)
    assert "microdermabrasion are fine again" in clearance.body
    peels = CourseFactory(patient=patient, location=location, protocol=peel_protocol(), planned_sessions=1)
    with pytest.raises(RuleViolation) as refused:
        book(peels, practitioner, room, clearance.due_at - timedelta(minutes=5))

    assert (refused.value.rule, refused.value.earliest_start) == ("conflict", clearance.due_at)
    assert book(peels, practitioner, room, clearance.due_at).starts_at == clearance.due_at


def test_first_results_are_announced_after_the_first_session_only(clock, course, practitioner, room) -> None:
    first = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    second = complete(book(course, practitioner, room, london(3, 20, 11)), clock)

    for code in (DAY_7, DAY_14):
        assert "first results" in step_message(first, code).body.lower(), code
        assert "first results" not in step_message(second, code).body.lower(), code
    assert step_message(first, DAY_14).subject == "Two weeks on: your first results"
    assert step_message(second, DAY_14).subject == "Two weeks on"
    assert "keeps improving" in step_message(second, DAY_14).body


def test_weeks_3_to_6_have_a_message_of_their_own_which_a_sooner_next_session_replaces(
    clock, course, practitioner, room
) -> None:
    first = complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    weeks_3_to_6 = step_message(first, DAY_21)
    assert (weeks_3_to_6.status, weeks_3_to_6.due_at) == (MessageStatus.PENDING, london(3, 24, 10))
    assert all(p in normalised(weeks_3_to_6.body) for p in ("weeks 3 to 6", "collagen", "improving"))
    assert "weeks 3 to 6" not in normalised(step_message(first, DAY_14).body)

    # The next session comes first (20 March): its own timeline takes over from the 24th.
    second = complete(book(course, practitioner, room, london(3, 20, 11)), clock)

    weeks_3_to_6.refresh_from_db()
    assert (weeks_3_to_6.status, weeks_3_to_6.cancelled_at, weeks_3_to_6.cancelled_by) == (
        MessageStatus.CANCELLED,
        london(3, 20, 11, 45),
        None,
    )
    assert step_message(first, DAY_14).status == MessageStatus.PENDING, "what fell due before stands"
    assert step_message(second, DAY_21).due_at == london(4, 10, 10)


# --- daylight saving -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "starts_at", "expected_utc"),
    [
        # London: completed in GMT on Thursday 26 March; BST from Sunday 29 March.
        (
            "Europe/London",
            datetime(2026, 3, 26, 11, 0, tzinfo=LONDON),
            {DAY_1: (3, 27, 10), DAY_3: (3, 29, 9), DAY_7: (4, 2, 9), DAY_21: (4, 16, 9)},
        ),
        # London: completed in BST on Thursday 22 October; GMT from Sunday 25 October.
        (
            "Europe/London",
            datetime(2026, 10, 22, 11, 0, tzinfo=LONDON),
            {DAY_1: (10, 23, 9), DAY_3: (10, 25, 10), DAY_7: (10, 29, 10), DAY_21: (11, 12, 10)},
        ),
        # New York: completed in EST on Thursday 5 March; EDT from Sunday 8 March.
        (
            "America/New_York",
            datetime(2026, 3, 5, 11, 0, tzinfo=NEW_YORK),
            {DAY_1: (3, 6, 15), DAY_3: (3, 8, 14), DAY_7: (3, 12, 14), DAY_21: (3, 26, 14)},
        ),
        # New York: completed in EDT on Thursday 29 October; EST from Sunday 1 November.
        (
            "America/New_York",
            datetime(2026, 10, 29, 11, 0, tzinfo=NEW_YORK),
            {DAY_1: (10, 30, 14), DAY_3: (11, 1, 15), DAY_7: (11, 5, 15), DAY_21: (11, 19, 15)},
        ),
    ],
)
def test_day_messages_keep_ten_oclock_local_across_the_clock_change(
    clock, zone_name: str, starts_at: datetime, expected_utc: dict[str, tuple[int, int, int]]
) -> None:
    zone = ZoneInfo(zone_name)
    location = LocationFactory(time_zone=zone_name)
    room = RoomFactory(location=location)
    practitioner = PractitionerFactory(locations=[location])
    patient = consenting_patient(time_zone=zone_name)
    course = CourseFactory(patient=patient, location=location)
    clock.move_to(starts_at - timedelta(days=2))

    session = complete(book(course, practitioner, room, starts_at), clock)

    for code, (month, day, hour) in expected_utc.items():
        due = step_message(session, code).due_at
        assert due == datetime(2026, month, day, hour, 0, tzinfo=UTC), code
        assert due.astimezone(zone).strftime("%H:%M") == "10:00", code
    assert step_message(session, IMMEDIATE).due_at == session.completed_at
    # "Peels are fine again" waits for the conflict rule: the session's end (11:45), 14 local days on.
    day_14 = step_message(session, DAY_14).due_at.astimezone(zone)
    assert (day_14.date(), day_14.strftime("%H:%M")) == (starts_at.date() + timedelta(days=14), "11:45")


def test_messages_follow_the_patients_zone_not_the_clinics(clock, location, practitioner, room) -> None:
    patient = consenting_patient(time_zone="America/New_York")
    course = CourseFactory(patient=patient, location=location)

    # 10:45 in London is 05:45 in New York: quiet hours for this patient.
    session = complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    assert step_message(session, IMMEDIATE).due_at == local(NEW_YORK, 3, 3, 9, 0)
    assert step_message(session, DAY_1).due_at == local(NEW_YORK, 3, 4, 10, 0)
    assert step_message(session, DAY_1).due_at == datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


# --- consent revoked mid-course -------------------------------------------------------


def test_revoking_consent_mid_course_suppresses_every_later_message(
    clock, outside_world, location, practitioner, room
) -> None:
    patient = consenting_patient(first_name="Nadia", preferred_channel=ContactChannel.SMS, phone="+447700900123")
    course = CourseFactory(patient=patient, location=location)
    first = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    deliver_until(clock, london(3, 7, 12))

    consent_revoke(
        consent=Consent.objects.get(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, revoked_at=None), actor=None
    )
    second = book(course, practitioner, room, london(3, 20, 11))
    deliver_until(clock, london(3, 19, 12))

    outcome = {(m.session_id, what(m)): (m.status, m.suppressed_reason) for m in messages_of(patient)}
    sent = (MessageStatus.SENT, "")
    no_consent = (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)
    assert outcome == {
        (first.pk, CONFIRMATION): sent,
        (first.pk, REMINDER): sent,
        (first.pk, IMMEDIATE): sent,
        (first.pk, DAY_1): sent,
        (first.pk, DAY_3): sent,
        (first.pk, DAY_7): no_consent,
        (first.pk, DAY_14): no_consent,
        (first.pk, DAY_21): (MessageStatus.PENDING, ""),  # due on 24 March
        (second.pk, CONFIRMATION): no_consent,
        (second.pk, REMINDER): no_consent,
    }
    texts = [json.loads(line) for line in (outside_world / "sms.jsonl").read_text().splitlines()]
    assert sorted(text["id"] for text in texts) == sorted(
        str(m.pk) for m in messages_of(patient) if m.status == MessageStatus.SENT
    )
    assert {text["to"] for text in texts} == {"+447700900123"}
    assert mail.outbox == []


# --- bookings change what is pending ----------------------------------------------------


def reminders_of(session: Session) -> list[tuple[str, datetime]]:
    return [
        (m.status, m.due_at)
        for m in ScheduledMessage.objects.filter(session=session, kind=MessageKind.APPOINTMENT_REMINDER).order_by(
            "created_at", "due_at"
        )
    ]


def test_cancelling_a_booked_session_cancels_its_reminder(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))
    assert reminders_of(session) == [(MessageStatus.PENDING, london(3, 9, 14))]

    clock.move_to(london(3, 4, 12))
    services.session_cancel(session=session, reason="patient_request", actor=None)

    reminder = ScheduledMessage.objects.get(session=session, kind=REMINDER)
    assert (reminder.status, reminder.cancelled_at, reminder.updated_at) == (
        MessageStatus.CANCELLED,
        london(3, 4, 12),
        london(3, 4, 12),
    )


def test_rescheduling_a_session_re_times_its_reminder(clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))

    clock.move_to(london(3, 4, 12))
    session = services.session_reschedule(session=session, starts_at=london(3, 12, 16), actor=None)

    pending = ScheduledMessage.objects.get(session=session, status=MessageStatus.PENDING, kind=REMINDER)
    assert (pending.kind, pending.due_at) == (REMINDER, london(3, 11, 16))
    assert "Thursday 12 March 2026 at 16:00" in pending.body
    old = ScheduledMessage.objects.get(session=session, status=MessageStatus.CANCELLED, kind=REMINDER)
    assert (old.due_at, old.cancelled_at, old.updated_at) == (london(3, 9, 14), london(3, 4, 12), london(3, 4, 12))


def test_moving_a_session_away_and_back_leaves_one_pending_reminder_at_the_original_time(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 10, 14))

    session = services.session_reschedule(session=session, starts_at=london(3, 12, 16), actor=None)
    session = services.session_reschedule(session=session, starts_at=london(3, 10, 14), actor=None)

    pending = ScheduledMessage.objects.filter(session=session, status=MessageStatus.PENDING, kind=REMINDER)
    assert [(m.kind, m.due_at) for m in pending] == [(REMINDER, london(3, 9, 14))]


def test_a_reminder_is_a_local_day_before_whichever_way_the_time_was_written(clock, course, practitioner, room) -> None:
    """Sunday 29 March 10:00 BST is 09:00 UTC; the day before, 10:00 local is still GMT (10:00 UTC)."""
    other_course = CourseFactory(patient=consenting_patient(), location=course.location)
    other_room = RoomFactory(location=course.location)
    written_in_london = book(course, practitioner, room, london(3, 29, 10))
    written_in_utc = book(
        other_course,
        PractitionerFactory(locations=[course.location]),
        other_room,
        datetime(2026, 3, 29, 9, 0, tzinfo=UTC),
    )

    assert reminders_of(written_in_london) == [(MessageStatus.PENDING, london(3, 28, 10))]
    assert reminders_of(written_in_utc) == [(MessageStatus.PENDING, london(3, 28, 10))]


def confirmations_of(session: Session) -> list[tuple[str, datetime]]:
    return [
        (m.status, m.due_at)
        for m in ScheduledMessage.objects.filter(session=session, kind=CONFIRMATION).order_by("created_at")
    ]


def test_a_booking_made_less_than_a_day_ahead_is_confirmed_and_not_reminded_as_well(
    clock, course, practitioner, room
) -> None:
    """The reminder's time has come when the confirmation goes: one text names the time, not two."""
    clock.move_to(london(3, 2, 11))

    session = book(course, practitioner, room, london(3, 2, 15))

    assert confirmations_of(session) == [(MessageStatus.PENDING, london(3, 2, 11, 5))]
    assert reminders_of(session) == []


def test_a_booking_made_in_quiet_hours_for_later_that_day_is_confirmed_at_nine(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 2, 15))  # the clock reads 08:00

    assert confirmations_of(session) == [(MessageStatus.PENDING, london(3, 2, 9))]
    assert reminders_of(session) == []


def test_a_booking_made_two_days_ahead_is_confirmed_now_and_reminded_the_day_before(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 4, 15))  # the clock reads 08:00

    assert confirmations_of(session) == [(MessageStatus.PENDING, london(3, 2, 9))]
    assert reminders_of(session) == [(MessageStatus.PENDING, london(3, 3, 15))]


def test_a_session_moved_away_and_back_after_its_reminder_went_is_not_reminded_again(
    clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, london(3, 4, 15))
    deliver_until(clock, london(3, 3, 15, 30))  # the confirmation and the reminder went
    assert [m.kind for m in ScheduledMessage.objects.filter(session=session, status=MessageStatus.SENT)] == [
        CONFIRMATION,
        REMINDER,
    ]

    session = services.session_reschedule(session=session, starts_at=london(3, 4, 16), actor=None)
    clock.shift(timedelta(minutes=2))
    session = services.session_reschedule(session=session, starts_at=london(3, 4, 15), actor=None)

    assert ScheduledMessage.objects.filter(session=session, status=MessageStatus.PENDING).count() == 0


def test_a_night_booking_for_early_next_morning_gets_no_reminder_that_would_arrive_late(
    clock, course, practitioner, room
) -> None:
    clock.move_to(london(3, 2, 21))

    session = book(course, practitioner, room, london(3, 3, 9, 30))

    assert reminders_of(session) == [], "quiet hours end at 09:00: a reminder would come after the start"


def test_the_day_14_text_asks_for_a_booking_then_names_the_booked_session(clock, course, practitioner, room) -> None:
    first = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    day_14 = step_message(first, DAY_14)
    assert "You have 3 sessions left in your course." in day_14.body
    assert "book the next one between Tuesday 17 March 2026 and Tuesday 31 March 2026" in day_14.body
    assert "14 to 28 days apart" in day_14.body
    assert "+442079460000" in day_14.body

    clock.move_to(london(3, 10, 12))
    second = book(course, practitioner, room, london(3, 20, 11))

    day_14.refresh_from_db()
    assert "Your next session is booked for Friday 20 March 2026 at 11:00." in day_14.body
    assert "between" not in day_14.body

    services.session_cancel(session=second, reason="patient_unwell", actor=None)

    day_14.refresh_from_db()
    assert "book the next one between Tuesday 17 March 2026 and Tuesday 31 March 2026" in day_14.body
    assert "booked for" not in day_14.body


def test_the_day_14_text_after_the_final_session_asks_for_no_booking(clock, location, practitioner, room) -> None:
    course = CourseFactory(patient=consenting_patient(), location=location, planned_sessions=3)
    sessions = finish_course(clock, course, practitioner, room)

    body = step_message(sessions[-1], DAY_14).body
    assert "keeps improving" in body
    assert "first results" not in body, "only the first session's day-14 text speaks of first results"
    assert "book" not in body.lower()
    assert "sessions left" not in body
    assert ScheduledMessage.objects.filter(session=sessions[-1], step__code=WEEK_6).count() == 1
    assert ScheduledMessage.objects.filter(session__in=sessions[:-1], step__code=WEEK_6).count() == 0


# --- follow-up prompts ------------------------------------------------------------------


def finish_course(
    clock: time_machine.Traveller, course: Course, practitioner: Practitioner, room: Room
) -> list[Session]:
    """Book and complete every planned session, 14 days and a bit apart, starting Tuesday 3 March."""
    sessions = []
    starts_at = london(3, 3, 10)
    for _ in range(course.planned_sessions):
        sessions.append(complete(book(course, practitioner, room, starts_at), clock))
        starts_at = starts_at + timedelta(days=15)
    return sessions


def prompts_of(course: Course) -> list[tuple[str, str, datetime]]:
    return [
        (m.kind, m.status, m.due_at)
        for m in ScheduledMessage.objects.filter(course=course, kind__in=PROMPT_KINDS).order_by("created_at")
    ]


def test_the_window_open_prompt_goes_when_the_plan_has_no_booking_message(clock, course, practitioner, room) -> None:
    AftercareStep.objects.filter(code=DAY_14).update(prompts_booking=False)
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    assert beat(clock, london(3, 17, 9, 59)) == 0
    assert beat(clock, london(3, 17, 10, 0)) == 1
    assert beat(clock, london(3, 17, 10, 15)) == 0

    prompt = ScheduledMessage.objects.get(course=course, kind=MessageKind.FOLLOWUP_OPEN)
    assert (prompt.status, prompt.due_at, prompt.channel) == (MessageStatus.PENDING, london(3, 17, 10), Channel.EMAIL)
    assert "between Tuesday 17 March 2026 and Tuesday 31 March 2026" in prompt.body
    assert prompt.body.startswith("Dear Amelia,")


def test_the_day_14_message_stands_in_for_the_window_open_prompt(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    assert beat(clock, london(3, 17, 10)) == 0
    assert beat(clock, london(3, 20, 10)) == 0
    assert prompts_of(course) == []


def test_a_closing_prompt_goes_three_days_before_the_window_closes(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    # The window closes on Tuesday 31 March: the prompt is due on Saturday 28 March at 10:00.
    assert beat(clock, london(3, 28, 9, 59)) == 0
    assert beat(clock, london(3, 28, 10, 0)) == 1
    assert beat(clock, london(3, 28, 10, 15)) == 0
    assert beat(clock, london(3, 30, 10, 0)) == 0

    prompt = ScheduledMessage.objects.get(course=course, kind=MessageKind.FOLLOWUP_CLOSING)
    assert (prompt.status, prompt.due_at) == (MessageStatus.PENDING, london(3, 28, 10))
    assert prompt.subject == "Your next session is due by Tuesday 31 March 2026"


def test_a_course_whose_prompts_are_all_written_costs_the_beat_nothing(
    clock, course, location, practitioner, room, django_assert_num_queries
) -> None:
    """Every 15 minutes the beat reads only the courses that may still have a prompt due, in one query."""
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    other = CourseFactory(location=location, protocol=course.protocol)
    complete(book(other, practitioner, room, london(3, 3, 12)), clock)
    assert beat(clock, london(3, 28, 10, 0)) == 2  # both closing prompts

    clock.move_to(london(3, 28, 10, 15))
    with django_assert_num_queries(1):
        assert schedule_followup_prompts() == 0


def test_a_booking_cancels_the_prompts_it_makes_untrue(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    # The beat sees the closing window late in the evening: the prompt waits for morning.
    assert beat(clock, london(3, 28, 21, 0)) == 1
    assert prompts_of(course) == [(MessageKind.FOLLOWUP_CLOSING, MessageStatus.PENDING, local(LONDON, 3, 29, 9))]

    # Booking software books the next session that evening.
    book(course, practitioner, room, london(3, 30, 10))

    assert prompts_of(course) == [(MessageKind.FOLLOWUP_CLOSING, MessageStatus.CANCELLED, local(LONDON, 3, 29, 9))]
    assert beat(clock, london(3, 29, 10)) == 0


def test_maintenance_is_prompted_once_when_it_falls_due_and_a_booking_cancels_the_prompt(
    clock, location, practitioner, room
) -> None:
    course = CourseFactory(patient=consenting_patient(first_name="Iris"), location=location, planned_sessions=3)
    sessions = finish_course(clock, course, practitioner, room)
    # The last session ended Thursday 2 April 10:45 BST: maintenance from 1 July (+90 days) to 29 September (+180).
    assert sessions[-1].completed_at == london(4, 2, 10, 45)
    course.refresh_from_db()
    assert course.status == CourseStatus.MAINTENANCE

    assert beat(clock, london(6, 30, 10)) == 0
    assert beat(clock, london(7, 1, 9, 59)) == 0
    assert beat(clock, london(7, 1, 10, 0)) == 1
    assert beat(clock, london(7, 1, 10, 15)) == 0
    assert beat(clock, london(7, 20, 10)) == 0

    prompt = ScheduledMessage.objects.get(course=course, kind=MessageKind.MAINTENANCE_DUE)
    assert (prompt.status, prompt.due_at, prompt.session_id) == (MessageStatus.PENDING, london(7, 1, 10), None)
    assert "between Wednesday 1 July 2026 and Tuesday 29 September 2026" in prompt.body
    assert prompt.body.startswith("Dear Iris,")

    maintenance = book(course, practitioner, room, london(7, 22, 10))

    assert maintenance.kind == SessionKind.MAINTENANCE
    prompt.refresh_from_db()
    assert (prompt.status, prompt.cancelled_at) == (MessageStatus.CANCELLED, london(7, 20, 10))


def test_maintenance_gets_a_second_prompt_two_weeks_before_its_window_closes(
    clock, location, practitioner, room
) -> None:
    course = CourseFactory(patient=consenting_patient(first_name="Iris"), location=location, planned_sessions=3)
    finish_course(clock, course, practitioner, room)
    # The window runs from Wednesday 1 July to Tuesday 29 September: the second prompt is due on 15 September.
    assert beat(clock, london(7, 1, 10)) == 1
    assert beat(clock, london(9, 15, 9, 59)) == 0
    assert beat(clock, london(9, 15, 10)) == 1
    assert beat(clock, london(9, 20, 10)) == 0

    prompt = ScheduledMessage.objects.get(course=course, kind=MessageKind.MAINTENANCE_CLOSING)
    assert (prompt.status, prompt.due_at) == (MessageStatus.PENDING, london(9, 15, 10))
    assert prompt.subject == "Your maintenance session is due by Tuesday 29 September 2026"
    assert prompt.body.startswith("Dear Iris,")

    book(course, practitioner, room, london(9, 22, 10))

    prompt.refresh_from_db()
    assert prompt.status == MessageStatus.CANCELLED


# --- contact details and red flags --------------------------------------------------------


def test_a_message_for_a_channel_without_contact_detail_is_suppressed_not_lost(
    clock, location, practitioner, room
) -> None:
    # The clinic sends the check-in by SMS; this patient gave no phone number.
    AftercareStep.objects.filter(code=DAY_1).update(channel_rule=ChannelRule.SMS)
    patient = consenting_patient(first_name="Owen", email="owen@example.com", phone="")
    course = CourseFactory(patient=patient, location=location)
    session = complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    deliver_until(clock, london(3, 5, 12))

    check_in = step_message(session, DAY_1)
    assert (check_in.channel, check_in.status, check_in.suppressed_reason) == (
        Channel.SMS,
        MessageStatus.SUPPRESSED,
        SuppressionReason.NO_CONTACT,
    )
    assert step_message(session, IMMEDIATE).status == MessageStatus.SENT
    # The booking's confirmation and reminder, the first advice.
    assert [email.to for email in mail.outbox] == [["owen@example.com"]] * 3


def test_a_red_flag_report_alerts_the_practitioner_at_once_even_at_night(clock, course, practitioner, room) -> None:
    session = complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    clock.move_to(london(3, 4, 22, 30))

    report = side_effect_report_create(
        patient=course.patient,
        symptoms=["rash", "redness"],
        severity="moderate",
        onset_on=london(3, 4).date(),
        actor=None,
    )

    assert report.is_red_flag
    assert report.session == session
    alert = ScheduledMessage.objects.get(kind=MessageKind.RED_FLAG_ALERT, to_address="dr.evans@clinic.example")
    assert (alert.to_address, alert.channel, alert.due_at, alert.status, alert.session) == (
        "dr.evans@clinic.example",
        Channel.EMAIL,
        london(3, 4, 22, 30),
        MessageStatus.PENDING,
        session,
    )
    assert "Amelia Hart" in alert.body and "a rash" in alert.body

    dispatch_due()

    alert.refresh_from_db()
    assert alert.status == MessageStatus.SENT
    # The patient's own reply goes at 22:30 too (tests/aftercare/test_red_flags.py).
    assert [(email.to, email.subject) for email in mail.outbox if email.to != [course.patient.email]] == [
        (["dr.evans@clinic.example"], "Red flag: Amelia Hart reported a rash")
    ]


def test_a_report_of_expected_after_effects_raises_no_alert(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    clock.move_to(london(3, 4, 12))

    report = side_effect_report_create(
        patient=course.patient,
        symptoms=["redness", "swelling", "bumps"],
        severity="mild",
        onset_on=london(3, 3).date(),
        actor=None,
    )

    assert (report.is_red_flag, report.red_flag_reasons) == (False, "")
    assert not ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT).exists()


def test_the_follow_up_beat_leaves_courses_alone_while_a_session_is_booked(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, london(3, 3, 10)), clock)
    book(course, practitioner, room, london(4, 7, 10))  # late, but booked

    assert beat(clock, london(3, 28, 10)) == 0
    assert prompts_of(course) == []


def test_no_message_is_scheduled_for_a_protocol_with_an_inactive_plan(clock, course, practitioner, room) -> None:
    AftercarePlan.objects.update(is_active=False)

    session = complete(book(course, practitioner, room, london(3, 3, 10)), clock)

    assert [what(m) for m in messages_of(course.patient)] == [CONFIRMATION, REMINDER]
    assert not ScheduledMessage.objects.filter(session=session, step__isnull=False).exists()
