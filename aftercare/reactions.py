"""How aftercare reacts when a session changes (subscribed to treatments.events).

- booked: pending prompts for the course are no longer true; a reminder is written;
- rescheduled: the reminder is re-timed;
- cancelled or missed: the session's pending messages are cancelled;
- completed: the aftercare plan's messages are written;
- course cancelled: nothing pending about the course stays.

Each runs in the transaction of the change, so messages exist exactly when
the change does.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from aftercare import timing
from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, StepCondition
from aftercare.outbox import cancel_pending, cancel_pending_not_alerts, new_message, new_prompt_message, quiet_hours
from aftercare.rendering import channel_for, message_context, patient_zone, render, render_subject, template_for
from treatments import rules
from treatments.events import CourseCancelled, SessionChange, SessionChanged
from treatments.followup import course_followup
from treatments.models import Course, Session, SessionKind

# The reminder before a booked session, and the least notice worth reminding.
REMINDER_BEFORE = timedelta(days=1)
REMINDER_MIN_NOTICE = timedelta(hours=2)
PROMPT_KINDS = (MessageKind.FOLLOWUP_OPEN, MessageKind.FOLLOWUP_CLOSING, MessageKind.MAINTENANCE_DUE)


def on_session_changed(event: SessionChanged) -> None:
    session = event.session
    if event.change == SessionChange.BOOKED:
        # A booking makes pending prompts for its course untrue, and needs a reminder.
        cancel_pending(ScheduledMessage.objects.filter(course_id=session.course_id, kind__in=PROMPT_KINDS))
        refresh_pending_texts(course=session.course)
        schedule_appointment_reminder(session=session)
    elif event.change == SessionChange.RESCHEDULED:
        cancel_pending(ScheduledMessage.objects.filter(session=session, kind=MessageKind.APPOINTMENT_REMINDER))
        refresh_pending_texts(course=session.course)
        schedule_appointment_reminder(session=session)
    elif event.change in (SessionChange.CANCELLED, SessionChange.NO_SHOW):
        cancel_pending_not_alerts(ScheduledMessage.objects.filter(session=session))
        refresh_pending_texts(course=session.course)
    elif event.change == SessionChange.COMPLETED:
        schedule_session_aftercare(session=session)


def on_course_cancelled(event: CourseCancelled) -> None:
    """Nothing pending about a cancelled course is still true (red-flag alerts excepted)."""
    cancel_pending_not_alerts(ScheduledMessage.objects.filter(course=event.course))


def schedule_session_aftercare(*, session: Session) -> list[ScheduledMessage]:
    """Write the aftercare plan's messages for a just-completed session."""
    course = session.course
    plan = getattr(course.protocol, "aftercare_plan", None)
    if plan is None or not plan.is_active or session.completed_at is None:
        return []
    patient = course.patient
    zone = patient_zone(patient)
    sessions_remain = session.kind == SessionKind.COURSE and course_followup(course).sessions_remaining > 0
    context = message_context(patient=patient, course=course, session=session)
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
        )
        messages.append(message)
    return messages


def refresh_pending_texts(*, course: Course) -> None:
    """Re-render pending messages of `course` whose words depend on its bookings."""
    for message in ScheduledMessage.objects.filter(
        course=course, status=MessageStatus.PENDING, step__prompts_booking=True
    ).select_related("step", "session", "patient"):
        if message.step is None:  # the filter on the step already excludes these
            continue
        template = template_for(message.step.templates.all(), message.channel, message.patient.language)
        if template is None:
            continue
        context = message_context(patient=message.patient, course=course, session=message.session)
        message.subject = render_subject(template.subject, context)
        message.body = render(template.body, context)
        message.save(update_fields=["subject", "body", "updated_at"])


def schedule_appointment_reminder(*, session: Session) -> ScheduledMessage | None:
    """A reminder a day before a booked session; sooner bookings get one now, if worth it.

    "A day before" is a day offset: the same local time the day before, in
    the patient's zone, whatever zone the start time was written in.
    """
    now = timezone.now()
    if session.starts_at - now < REMINDER_MIN_NOTICE:
        return None
    zone = patient_zone(session.course.patient)
    due_at = max(rules.add_local_days(session.starts_at, -REMINDER_BEFORE.days, zone), now)
    if timing.defer_for_quiet_hours(due_at, quiet=quiet_hours(), zone=zone) > session.starts_at - REMINDER_MIN_NOTICE:
        # Booked at night for early next morning: quiet hours would hold the
        # reminder until after the appointment began, so there is none.
        return None
    reminder, _ = new_prompt_message(
        kind=MessageKind.APPOINTMENT_REMINDER,
        # The session's sequence rises on every change, so a session moved away
        # and back again gets a new reminder instead of finding the cancelled one.
        dedupe_key=f"reminder:{session.pk}:{session.sequence}",
        patient=session.course.patient,
        course=session.course,
        session=session,
        due_at=due_at,
    )
    return reminder
