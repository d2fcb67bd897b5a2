"""How aftercare reacts when a session changes (subscribed to treatments.events).

- booked: pending prompts for the course are no longer true; a booking
  confirmation and a reminder are written;
- rescheduled: the reminder is re-timed; the patient is told the new time;
- cancelled or missed: the session's pending messages are cancelled; a
  patient who knew of a cancelled session is told;
- completed: the aftercare plan's messages are written, timed from the
  session (its completion time, however late it was recorded), and what is
  still pending from the course's earlier sessions after that moment gives
  way to them;
- course cancelled: nothing pending about the course stays; the patient is
  told of each booked session it cancelled that they knew of.

Booking notices wait a few minutes and a session has one pending at most,
rewritten by each change meanwhile (aftercare.booking_notices).

Each runs in the transaction of the change, so messages exist exactly when
the change does. A booking, a move, a cancellation or a no-show reads the
messages it can touch once (the messages of the course and of the session,
its booking notices among them, and the reminder about to be written, should
it exist already), and the templates of what it writes once; the course's
follow-up state and its sessions come with the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Q, prefetch_related_objects
from django.utils import timezone

from aftercare import booking_notices, timing
from aftercare.models import (
    MessageKind,
    MessageStatus,
    PromptTemplate,
    ScheduledMessage,
    StepCondition,
    SuppressionReason,
)
from aftercare.outbox import (
    RED_FLAG_KINDS,
    cancel_pending,
    cancel_pending_not_alerts,
    message_fields,
    new_message,
    quiet_hours,
    rendered_fields,
    write_new_message,
    write_new_messages,
)
from aftercare.rendering import channel_for, message_context, patient_zone, template_for
from treatments import rules
from treatments.events import CourseCancelled, SessionChange, SessionChanged
from treatments.models import Session, SessionKind
from treatments.selectors import conflicts_clear_at

# The reminder before a booked session, and the least notice worth reminding.
REMINDER_BEFORE = timedelta(days=1)
REMINDER_MIN_NOTICE = timedelta(hours=2)
PROMPT_KINDS = (
    MessageKind.FOLLOWUP_OPEN,
    MessageKind.FOLLOWUP_CLOSING,
    MessageKind.MAINTENANCE_DUE,
    MessageKind.MAINTENANCE_CLOSING,
)


def on_session_changed(event: SessionChanged) -> None:
    session = event.session
    if event.change == SessionChange.COMPLETED:
        schedule_session_aftercare(event=event)
        return
    now = timezone.now()
    reminding = event.change in (SessionChange.BOOKED, SessionChange.RESCHEDULED)
    reminder_key = _reminder_key(session)
    # One read of what the change can touch: the messages of the course and the session (a few dozen at
    # most; pending ones are picked here, as the outbox's pending index would be the wrong way in), the
    # session's booking notices among them, and the reminder about to be written if it exists already (a
    # retried change).
    touched = Q(course_id=session.course_id) | Q(session_id=session.pk)
    if reminding:
        touched |= Q(dedupe_key=reminder_key)
    messages = list(ScheduledMessage.objects.filter(touched).select_related("step"))
    pending = [m for m in messages if m.status == MessageStatus.PENDING]
    notice_plan = booking_notices.plan_notice(session=session, messages=messages, now=now)
    if event.change == SessionChange.BOOKED:
        # A booking makes pending prompts for its course untrue, and needs a reminder.
        untrue = [m for m in pending if m.course_id == session.course_id and m.kind in PROMPT_KINDS]
    elif event.change == SessionChange.RESCHEDULED:
        untrue = [m for m in pending if m.session_id == session.pk and m.kind == MessageKind.APPOINTMENT_REMINDER]
    else:  # cancelled or missed: nothing pending about the session stays, red-flag messages excepted
        untrue = [m for m in pending if m.session_id == session.pk and m.kind not in RED_FLAG_KINDS]
    # The pending notice is rewritten when there is still something to say, cancelled (with the rest,
    # in the same UPDATE) when there is not.
    rewritten = notice_plan.waiting if notice_plan.notice is not None else None
    untrue = [m for m in untrue if m is not rewritten]
    untrue += [m for m in notice_plan.to_cancel if m not in untrue]
    if untrue:
        cancel_pending(ScheduledMessage.objects.filter(pk__in=[m.pk for m in untrue]))
    cancelled = {m.pk for m in untrue}
    refresh_pending_texts(
        event=event, pending=[m for m in pending if m.pk not in cancelled and m.course_id == session.course_id]
    )
    reminder_at = None
    if reminding and not any(m.dedupe_key == reminder_key for m in messages):
        reminder_at = appointment_reminder_due_at(
            session=session, reminders=[m for m in messages if m.session_id == session.pk], now=now
        )
    if reminder_at is not None and notice_plan.notice is not None and reminder_at <= notice_plan.goes_at:
        # The reminder's time has come by the time the notice goes (a booking or a move within a day of
        # the session): the notice names the time, and a reminder with it would say it twice.
        reminder_at = None
    kinds = ([notice_plan.notice.kind] if notice_plan.notice is not None else []) + (
        [MessageKind.APPOINTMENT_REMINDER] if reminder_at is not None else []
    )
    if not kinds:
        return
    # The templates of what is written, in one read; the new rows, in one INSERT.
    templates = list(PromptTemplate.objects.filter(kind__in=kinds))
    new_rows: list[ScheduledMessage] = []
    booking_notices.give_notice(
        plan=notice_plan,
        session=session,
        templates=templates,
        followup=event.followup,
        course_sessions=event.course_sessions,
        batch=new_rows,
    )
    if reminder_at is not None:
        schedule_appointment_reminder(event=event, due_at=reminder_at, templates=templates, batch=new_rows)
    write_new_messages(new_rows)


def on_course_cancelled(event: CourseCancelled) -> None:
    """Nothing pending about a cancelled course is still true (red-flag alerts excepted); the patient is told of
    each booked session it cancelled that they knew of."""
    cancel_pending_not_alerts(ScheduledMessage.objects.filter(course=event.course))
    booking_notices.course_cancellation_notices(course=event.course, sessions=event.cancelled_sessions)


def schedule_session_aftercare(*, event: SessionChanged) -> list[ScheduledMessage]:
    """Write the aftercare plan's messages for a just-completed session (`event.session`).

    Every step is timed from the session's completion, not from when it was
    recorded. A step whose advice would be out of date by the time it could
    go (a session recorded days late; `AftercareStep.expires_after_hours`) is
    written as suppressed, out of date, so the outbox shows what the patient
    did not get and why. A step that announces the end of the conflict window
    (peels, laser… fine again) is held until the booking rule allows them.
    Pending plan messages of the course's earlier sessions due after this
    completion are cancelled: this session's own timeline replaces them.
    """
    session = event.session
    course = session.course
    plan = getattr(course.protocol, "aftercare_plan", None)
    if plan is None or not plan.is_active or session.completed_at is None:
        return []
    patient = course.patient
    zone = patient_zone(patient)
    now = timezone.now()
    quiet = quiet_hours()
    cancel_pending(
        ScheduledMessage.objects.filter(course=course, step__isnull=False, due_at__gt=session.completed_at).exclude(
            session=session
        )
    )
    sessions_remain = session.kind == SessionKind.COURSE and event.followup.sessions_remaining > 0
    clear_at = conflicts_clear_at(session=session)
    context = message_context(
        patient=patient, course=course, session=session, followup=event.followup, course_sessions=event.course_sessions
    )
    messages = []
    for step in plan.steps.prefetch_related("templates"):
        if step.condition == StepCondition.SESSIONS_REMAIN and not sessions_remain:
            continue
        if step.condition == StepCondition.FINAL_SESSION and sessions_remain:
            continue
        due_at = timing.step_due_at(
            completed_at=session.completed_at,
            unit=step.offset_unit,
            value=step.offset_value,
            local_send_time=step.local_send_time,
            zone=zone,
        )
        if step.announces_clearance and clear_at is not None:
            due_at = max(due_at, clear_at)
        expires_after = timedelta(hours=step.expires_after_hours) if step.expires_after_hours is not None else None
        out_of_date = timing.is_out_of_date(due_at=due_at, now=now, expires_after=expires_after, quiet=quiet, zone=zone)
        channel = channel_for(step.channel_rule, patient)
        message, _ = new_message(
            dedupe_key=f"step:{session.pk}:{step.pk}",
            kind=step.kind,
            patient=patient,
            channel=channel,
            template=template_for(step.templates.all(), channel, patient.language),
            context=lambda: context,
            due_at=due_at,
            course=course,
            session=session,
            step=step,
            suppressed_reason=SuppressionReason.OUT_OF_DATE if out_of_date else "",
        )
        messages.append(message)
    return messages


def refresh_pending_texts(*, event: SessionChanged, pending: Sequence[ScheduledMessage]) -> None:
    """Re-render the messages among `pending` (the course's pending messages, read with their step) whose
    words depend on the course's bookings, which `event` changed.

    The patient, and the session a message is about, are the course's: in hand with the event.
    """
    course = event.session.course
    sessions = {s.pk: s for s in event.course_sessions}
    stale = [m for m in pending if m.step is not None and m.step.prompts_booking]
    prefetch_related_objects(stale, "step__templates")
    for message in stale:
        patient = course.patient if message.patient_id == course.patient_id else message.patient
        template = template_for(message.step.templates.all() if message.step else (), message.channel, patient.language)
        if template is None:
            continue
        session = sessions.get(message.session_id) if message.session_id is not None else None
        if message.session_id is not None and session is None:
            session = message.session
        context = message_context(
            patient=patient,
            course=course,
            session=session,
            followup=event.followup,
            course_sessions=event.course_sessions,
        )
        fields = rendered_fields(template, context, channel=message.channel, to_address=message.to_address)
        for name, value in fields.items():
            setattr(message, name, value)
        message.save(update_fields=[*fields, "updated_at"])


def _reminder_key(session: Session) -> str:
    # The session's sequence rises on every change, so a session moved away
    # and back again gets a new reminder instead of finding the cancelled one.
    return f"reminder:{session.pk}:{session.sequence}"


def appointment_reminder_due_at(
    *, session: Session, reminders: Sequence[ScheduledMessage], now: datetime
) -> datetime | None:
    """When the reminder of `session` (just booked or moved) is due: a day before it, or now if that has passed.

    "A day before" is a day offset: the same local time the day before, in
    the patient's zone, whatever zone the start time was written in. None when
    no reminder is worth it: too little notice, quiet hours that would hold it
    until the appointment, or a reminder of this very time sent already
    (among `reminders`, the session's messages: a session moved away and back).
    """
    if session.starts_at - now < REMINDER_MIN_NOTICE:
        return None
    if any(
        m.kind == MessageKind.APPOINTMENT_REMINDER
        and m.status in booking_notices.TOLD_STATUSES
        and m.announces_start == session.starts_at
        for m in reminders
    ):
        return None
    zone = patient_zone(session.course.patient)
    due_at = max(rules.add_local_days(session.starts_at, -REMINDER_BEFORE.days, zone), now)
    if timing.defer_for_quiet_hours(due_at, quiet=quiet_hours(), zone=zone) > session.starts_at - REMINDER_MIN_NOTICE:
        # Booked at night for early next morning: quiet hours would hold the
        # reminder until after the appointment began, so there is none.
        return None
    return due_at


def schedule_appointment_reminder(
    *,
    event: SessionChanged,
    due_at: datetime,
    templates: Sequence[PromptTemplate],
    batch: list[ScheduledMessage] | None = None,
) -> ScheduledMessage:
    """Write the reminder of the session just booked or moved, due at `due_at` (appointment_reminder_due_at).

    The caller has read the reminder's key and found no row, and read the
    templates (`templates`, the reminder's among them), so it is written in
    one INSERT (or joins `batch`, for the caller to write with the booking
    notice), from what the event carries.
    """
    session = event.session
    course = session.course
    patient = course.patient
    kind = MessageKind.APPOINTMENT_REMINDER
    return write_new_message(
        dedupe_key=_reminder_key(session),
        batch=batch,
        **message_fields(
            kind=kind,
            patient=patient,
            channel=patient.preferred_channel,
            template=template_for(
                [t for t in templates if t.kind == kind], patient.preferred_channel, patient.language
            ),
            context=lambda: message_context(
                patient=patient,
                course=course,
                session=session,
                followup=event.followup,
                course_sessions=event.course_sessions,
            ),
            due_at=due_at,
            course=course,
            session=session,
        ),
        announces_start=session.starts_at,
    )
