"""Follow-up prompts, written by beat every 15 minutes.

- the next session's window opens (and no aftercare text already asked the
  patient to book): "time to book";
- the window closes in CLOSING_REMINDER_DAYS days: a second prompt;
- a course in maintenance comes due: "time for maintenance";
- its maintenance window closes in MAINTENANCE_CLOSING_REMINDER_DAYS days:
  a second prompt (the window is months wide, so it comes earlier than a
  course session's).

Which courses are waiting, and their windows, come from treatments.followup.
Prompts go out at PROMPT_LOCAL_TIME in the patient's zone on the day they
fall due. Idempotent: each prompt's dedupe key names the fact it is about
(the session it follows, the maintenance date), so a second run, or two
workers at once, write nothing more.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from aftercare import timing
from aftercare.events import announce_followup_due
from aftercare.models import MessageKind, MessageStatus, ScheduledMessage
from aftercare.outbox import new_prompt_message
from aftercare.rendering import patient_zone
from treatments.followup import MAINTENANCE, FollowUp, open_states, state_followup
from treatments.models import Course, FollowupState

PROMPT_LOCAL_TIME = time(10, 0)
CLOSING_REMINDER_DAYS = 3
MAINTENANCE_CLOSING_REMINDER_DAYS = 14


def schedule_followup_prompts(*, now: datetime | None = None) -> int:
    """Write the prompts that have fallen due; return how many rows were new."""
    now = now or timezone.now()
    created = 0
    for state in _states_to_prompt(now).iterator(chunk_size=1000):
        course, followup = state.course, state_followup(state)
        window = followup.window
        if window is None:
            continue
        if followup.kind == MAINTENANCE:
            created += _maintenance_prompts(course, window, now)
        else:
            created += _next_session_prompts(course, followup, window, now)
    return created


def _states_to_prompt(now: datetime) -> QuerySet[FollowupState]:
    """Waiting courses that may have a prompt due: the window has opened (in any zone: UTC+14 is a day
    ahead at most) and its closing prompt, always the last written, is not written yet."""
    closing_key = Concat(Value("followup_closing:"), Cast("last_session_id", CharField()), output_field=CharField())
    maintenance_closing_key = Concat(
        Value("maintenance_closing:"),
        Cast("course_id", CharField()),
        Value(":"),
        Cast("window_start", CharField()),
        output_field=CharField(),
    )
    return (
        open_states()
        .exclude(window_end__isnull=True)
        .filter(window_start__lte=now.date() + timedelta(days=1))
        .annotate(closing_key=closing_key, maintenance_closing_key=maintenance_closing_key)
        .exclude(Exists(ScheduledMessage.objects.filter(dedupe_key=OuterRef("closing_key"))))
        .exclude(Exists(ScheduledMessage.objects.filter(dedupe_key=OuterRef("maintenance_closing_key"))))
        .select_related("course__patient", "course__protocol", "course__location")
        .order_by("pk")
    )


def _next_session_prompts(course: Course, followup: FollowUp, window: tuple[date, date], now: datetime) -> int:
    """Write the window-open and window-closing prompts that are due; return how many were new."""
    zone = patient_zone(course.patient)
    last = followup.last_session_id
    if last is None:
        # A next-session window always follows a completed session; without one,
        # session_id=None would match other courses' prompts.
        return 0
    created = 0
    open_at = timing.local_datetime(window[0], PROMPT_LOCAL_TIME, zone)
    if now >= open_at:
        # Booking software hears once that this course needs booking.
        announce_followup_due(course_id=course.pk, fact=f"followup_due:{last}")
        # Only a text that will reach (or reached) the patient stands in for
        # the prompt: one written as suppressed (out of date) does not.
        already_prompted = (
            ScheduledMessage.objects.filter(session_id=last, step__prompts_booking=True)
            .exclude(status__in=(MessageStatus.CANCELLED, MessageStatus.SUPPRESSED))
            .exists()
        )
        if not already_prompted:
            created += new_prompt_message(
                kind=MessageKind.FOLLOWUP_OPEN,
                dedupe_key=f"followup_open:{last}",
                patient=course.patient,
                course=course,
                due_at=now,
            )[1]
    closing_at = timing.local_datetime(window[1] - timedelta(days=CLOSING_REMINDER_DAYS), PROMPT_LOCAL_TIME, zone)
    if now >= closing_at:
        created += new_prompt_message(
            kind=MessageKind.FOLLOWUP_CLOSING,
            dedupe_key=f"followup_closing:{last}",
            patient=course.patient,
            course=course,
            due_at=now,
        )[1]
    return created


def _maintenance_prompts(course: Course, window: tuple[date, date], now: datetime) -> int:
    """Write the maintenance-due and maintenance-closing prompts that are due; return how many were new."""
    zone = patient_zone(course.patient)
    earliest = window[0].isoformat()
    created = 0
    if now >= timing.local_datetime(window[0], PROMPT_LOCAL_TIME, zone):
        announce_followup_due(course_id=course.pk, fact=f"maintenance_due:{course.pk}:{earliest}")
        created += new_prompt_message(
            kind=MessageKind.MAINTENANCE_DUE,
            dedupe_key=f"maintenance:{course.pk}:{earliest}",
            patient=course.patient,
            course=course,
            due_at=now,
        )[1]
    closing_day = window[1] - timedelta(days=MAINTENANCE_CLOSING_REMINDER_DAYS)
    # A window too narrow for a second prompt gets only the first.
    if closing_day > window[0] and now >= timing.local_datetime(closing_day, PROMPT_LOCAL_TIME, zone):
        created += new_prompt_message(
            kind=MessageKind.MAINTENANCE_CLOSING,
            dedupe_key=f"maintenance_closing:{course.pk}:{earliest}",
            patient=course.patient,
            course=course,
            due_at=now,
        )[1]
    return created
