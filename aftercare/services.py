"""Scheduling messages into the outbox, and side-effect reports.

Nothing here sends anything: rows are written with their due time, and the
dispatcher (aftercare.dispatch) sends them when due. Each row has a
`dedupe_key`, so scheduling the same fact twice (a retried task, two beat
runs, two workers) leaves one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template import Context, Template
from django.utils import timezone

from aftercare import timing
from aftercare.models import (
    AftercareStep,
    Channel,
    ChannelRule,
    MessageKind,
    MessageStatus,
    PromptTemplate,
    ReportSource,
    ScheduledMessage,
    SideEffectReport,
    StepCondition,
    SuppressionReason,
)
from clinic.actors import staff_user
from clinic.errors import InvalidState
from clinic.queue import wake_after_commit
from integrations.models import WebhookEvent
from integrations.webhooks import webhook_emit
from patients.models import Patient
from treatments import rules
from treatments.models import Course, CourseStatus, Practitioner, Session, SessionKind, SessionStatus

# Prompts are sent at this local time on the day they fall due.
PROMPT_LOCAL_TIME = time(10, 0)
# The reminder before a booked session, and the least notice worth reminding.
REMINDER_BEFORE = timedelta(days=1)
REMINDER_MIN_NOTICE = timedelta(hours=2)
# A second prompt this many days before the next-session window closes.
CLOSING_REMINDER_DAYS = 3
PROMPT_KINDS = (MessageKind.FOLLOWUP_OPEN, MessageKind.FOLLOWUP_CLOSING, MessageKind.MAINTENANCE_DUE)


def quiet_hours() -> timing.QuietHours:
    return timing.QuietHours.parse(settings.AFTERCARE_QUIET_HOURS)


def _patient_zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(str(patient.time_zone))


def _format_day(day: date | None) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}" if day else ""


def _format_moment(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{_format_day(local.date())} at {local:%H:%M}"


def _channel_for(rule: str, patient: Patient) -> str:
    return patient.preferred_channel if rule == ChannelRule.PREFERRED else rule


def _render(source: str, context: dict[str, Any]) -> str:
    # Autoescape off: these are plain-text emails and SMS, not HTML.
    return Template("{% autoescape off %}" + source + "{% endautoescape %}").render(Context(context)).strip()


# --- what the templates know --------------------------------------------------------


def course_next_window(course: Course) -> tuple[date, date] | None:
    """The (earliest, latest) local dates for the course's next session, or None."""
    protocol = course.protocol
    zone = course.location.time_zone
    if course.status == CourseStatus.MAINTENANCE:
        if course.next_maintenance_earliest is None:
            return None
        return course.next_maintenance_earliest, course.next_maintenance_latest  # type: ignore[return-value]
    last = Session.objects.filter(course=course, status=SessionStatus.COMPLETED).order_by("-completed_at").first()
    if last is None:
        return None
    return rules.followup_window(
        last_anchor=last.spacing_anchor,
        min_days=protocol.min_spacing_days,
        max_days=protocol.max_spacing_days,
        zone=zone,
    )


def message_context(*, patient: Patient, course: Course | None, session: Session | None) -> dict[str, Any]:
    zone = _patient_zone(patient)
    context: dict[str, Any] = {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": "",
        "session_date": _format_moment(session.starts_at, zone) if session else "",
        "sessions_remaining": 0,
        "next_window_start": "",
        "next_window_end": "",
        "next_session": "",
    }
    if course is not None:
        context["clinic_name"] = course.location.name
        context["clinic_phone"] = str(course.location.phone or "")
        if course.status not in (CourseStatus.MAINTENANCE, CourseStatus.CANCELLED):
            done = Session.objects.filter(
                course=course, kind=SessionKind.COURSE, status=SessionStatus.COMPLETED
            ).count()
            context["sessions_remaining"] = max(course.planned_sessions - done, 0)
        window = course_next_window(course)
        if window is not None:
            context["next_window_start"], context["next_window_end"] = (_format_day(d) for d in window)
        booked = (
            Session.objects.filter(course=course, status=SessionStatus.BOOKED, starts_at__gt=timezone.now())
            .order_by("starts_at")
            .first()
        )
        context["next_session"] = _format_moment(booked.starts_at, zone) if booked else ""
    return context


def _template_for(templates: Iterable[Any], channel: str, language: str) -> Any | None:
    by_key = {(t.channel, t.language): t for t in templates}
    return by_key.get((channel, language)) or by_key.get((channel, "en"))


def _new_message(
    *,
    dedupe_key: str,
    kind: str,
    patient: Patient,
    channel: str,
    template: Any | None,
    context: Callable[[], dict[str, Any]],
    due_at: datetime,
    course: Course | None = None,
    session: Session | None = None,
    step: AftercareStep | None = None,
    to_address: str = "",
    defer_quiet: bool = True,
) -> tuple[ScheduledMessage, bool]:
    """Create the outbox row for `dedupe_key` unless it exists; return (row, created).

    `context` is called only for a new row: the periodic prompt run meets the
    same facts again and again, and rendering them again would be wasted work.
    """
    existing = ScheduledMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    if defer_quiet:
        due_at = timing.defer_for_quiet_hours(due_at, quiet=quiet_hours(), zone=_patient_zone(patient))
    defaults: dict[str, Any] = {
        "kind": kind,
        "patient": patient,
        "course": course,
        "session": session,
        "step": step,
        "channel": channel,
        "to_address": to_address,
        "due_at": due_at,
    }
    if template is None:
        defaults |= {"status": MessageStatus.SUPPRESSED, "suppressed_reason": SuppressionReason.NO_TEMPLATE, "body": ""}
    else:
        values = context()
        defaults |= {"subject": _render(template.subject, values), "body": _render(template.body, values)}
    # get_or_create still: two workers may pass the check above together.
    return ScheduledMessage.objects.get_or_create(dedupe_key=dedupe_key, defaults=defaults)


# --- after a session ---------------------------------------------------------------


def schedule_session_aftercare(*, session: Session) -> list[ScheduledMessage]:
    """Write the aftercare plan's messages for a just-completed session.

    Called by treatments.services.session_complete in its transaction, so the
    messages exist exactly when the completion does.
    """
    course = session.course
    plan = getattr(course.protocol, "aftercare_plan", None)
    if plan is None or not plan.is_active or session.completed_at is None:
        return []
    patient = course.patient
    zone = _patient_zone(patient)
    done = Session.objects.filter(course=course, kind=SessionKind.COURSE, status=SessionStatus.COMPLETED).count()
    sessions_remain = session.kind == SessionKind.COURSE and done < course.planned_sessions
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
        channel = _channel_for(step.channel_rule, patient)
        message, _ = _new_message(
            dedupe_key=f"step:{session.pk}:{step.pk}",
            kind=step.kind,
            patient=patient,
            channel=channel,
            template=_template_for(step.templates.all(), channel, patient.language),
            context=lambda: context,
            due_at=due_at,
            course=course,
            session=session,
            step=step,
        )
        messages.append(message)
    return messages


def _prompt(
    *, kind: str, dedupe_key: str, patient: Patient, course: Course, due_at: datetime, session: Session | None = None
) -> tuple[ScheduledMessage, bool]:
    channel = patient.preferred_channel
    return _new_message(
        dedupe_key=dedupe_key,
        kind=kind,
        patient=patient,
        channel=channel,
        template=_template_for(PromptTemplate.objects.filter(kind=kind), channel, patient.language),
        context=lambda: message_context(patient=patient, course=course, session=session),
        due_at=due_at,
        course=course,
        session=session,
    )


# --- when bookings change ------------------------------------------------------------


def on_session_booked(*, session: Session) -> None:
    """A booking makes pending prompts for its course untrue, and needs a reminder."""
    course = session.course
    now = timezone.now()
    ScheduledMessage.objects.filter(course=course, kind__in=PROMPT_KINDS, status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, cancelled_at=now, updated_at=now
    )
    refresh_pending_texts(course=course)
    schedule_appointment_reminder(session=session)


def on_session_rescheduled(*, session: Session) -> None:
    """Re-time the pending reminder of a moved session (or write one)."""
    now = timezone.now()
    # updated_at by hand: update() skips auto_now, and `updated_since` sync must see the cancellation.
    ScheduledMessage.objects.filter(
        session=session, kind=MessageKind.APPOINTMENT_REMINDER, status=MessageStatus.PENDING
    ).update(status=MessageStatus.CANCELLED, cancelled_at=now, updated_at=now)
    refresh_pending_texts(course=session.course)
    schedule_appointment_reminder(session=session)


def on_session_cancelled(*, session: Session) -> None:
    """A cancelled or missed session's pending messages will never be true."""
    now = timezone.now()
    ScheduledMessage.objects.filter(session=session, status=MessageStatus.PENDING).exclude(
        kind=MessageKind.RED_FLAG_ALERT
    ).update(status=MessageStatus.CANCELLED, cancelled_at=now, updated_at=now)
    refresh_pending_texts(course=session.course)


def on_course_cancelled(*, course: Course) -> None:
    """Nothing pending about a cancelled course is still true (red-flag alerts excepted)."""
    now = timezone.now()
    ScheduledMessage.objects.filter(course=course, status=MessageStatus.PENDING).exclude(
        kind=MessageKind.RED_FLAG_ALERT
    ).update(status=MessageStatus.CANCELLED, cancelled_at=now, updated_at=now)


def refresh_pending_texts(*, course: Course) -> None:
    """Re-render pending messages of `course` whose words depend on its bookings."""
    for message in ScheduledMessage.objects.filter(
        course=course, status=MessageStatus.PENDING, step__prompts_booking=True
    ).select_related("step", "session", "patient"):
        template = _template_for(message.step.templates.all(), message.channel, message.patient.language)
        if template is None:
            continue
        context = message_context(patient=message.patient, course=course, session=message.session)
        message.subject = _render(template.subject, context)
        message.body = _render(template.body, context)
        message.save(update_fields=["subject", "body", "updated_at"])


def schedule_appointment_reminder(*, session: Session) -> ScheduledMessage | None:
    """A reminder a day before a booked session; sooner bookings get one now, if worth it.

    "A day before" is a day offset: the same local time the day before, in
    the patient's zone, whatever zone the start time was written in.
    """
    now = timezone.now()
    if session.starts_at - now < REMINDER_MIN_NOTICE:
        return None
    zone = _patient_zone(session.course.patient)
    due_at = max(rules.add_local_days(session.starts_at, -REMINDER_BEFORE.days, zone), now)
    if timing.defer_for_quiet_hours(due_at, quiet=quiet_hours(), zone=zone) > session.starts_at - REMINDER_MIN_NOTICE:
        # Booked at night for early next morning: quiet hours would hold the
        # reminder until after the appointment began, so there is none.
        return None
    reminder, _ = _prompt(
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


# --- follow-up prompts (beat) ----------------------------------------------------------


def schedule_followup_prompts(*, now: datetime | None = None) -> int:
    """Write the prompts that have fallen due; return how many rows were new.

    Idempotent: every prompt has a dedupe key naming the fact it is about
    (the session it follows, the maintenance date), so a second run, or two
    workers at once, write nothing more.
    """
    now = now or timezone.now()
    created = 0
    courses = (
        Course.objects.filter(status__in=[CourseStatus.ACTIVE, CourseStatus.MAINTENANCE])
        .exclude(sessions__status=SessionStatus.BOOKED)
        .select_related("patient", "protocol", "location")
    )
    for course in courses:
        if course.status == CourseStatus.MAINTENANCE:
            created += _maintenance_prompt(course, now)
        else:
            created += _next_session_prompts(course, now)
    return created


def _next_session_prompts(course: Course, now: datetime) -> int:
    """Write the window-open and window-closing prompts that are due; return how many were new."""
    last = Session.objects.filter(course=course, status=SessionStatus.COMPLETED).order_by("-completed_at").first()
    if last is None:
        return 0
    done = Session.objects.filter(course=course, kind=SessionKind.COURSE, status=SessionStatus.COMPLETED).count()
    if done >= course.planned_sessions:
        return 0
    created = 0
    protocol, patient = course.protocol, course.patient
    zone = _patient_zone(patient)
    opens_on, closes_on = rules.followup_window(
        last_anchor=last.spacing_anchor,
        min_days=protocol.min_spacing_days,
        max_days=protocol.max_spacing_days,
        zone=course.location.time_zone,
    )
    open_at = timing.local_datetime(opens_on, PROMPT_LOCAL_TIME, zone)
    already_prompted = (
        ScheduledMessage.objects.filter(session=last, step__prompts_booking=True)
        .exclude(status=MessageStatus.CANCELLED)
        .exists()
    )
    if now >= open_at:
        # Booking software hears once that this course needs booking.
        webhook_emit(event_type=WebhookEvent.FOLLOWUP_DUE, object_id=course.pk, dedupe_key=f"followup_due:{last.pk}")
    if now >= open_at and not already_prompted:
        created += _prompt(
            kind=MessageKind.FOLLOWUP_OPEN,
            dedupe_key=f"followup_open:{last.pk}",
            patient=patient,
            course=course,
            due_at=now,
        )[1]
    closing_at = timing.local_datetime(closes_on - timedelta(days=CLOSING_REMINDER_DAYS), PROMPT_LOCAL_TIME, zone)
    if now >= closing_at:
        created += _prompt(
            kind=MessageKind.FOLLOWUP_CLOSING,
            dedupe_key=f"followup_closing:{last.pk}",
            patient=patient,
            course=course,
            due_at=now,
        )[1]
    return created


def _maintenance_prompt(course: Course, now: datetime) -> int:
    """Write the maintenance-due prompt if it is due; return 1 if it is new."""
    if course.next_maintenance_earliest is None:
        return 0
    zone = _patient_zone(course.patient)
    due_at = timing.local_datetime(course.next_maintenance_earliest, PROMPT_LOCAL_TIME, zone)
    if now < due_at:
        return 0
    earliest = course.next_maintenance_earliest.isoformat()
    webhook_emit(
        event_type=WebhookEvent.FOLLOWUP_DUE, object_id=course.pk, dedupe_key=f"maintenance_due:{course.pk}:{earliest}"
    )
    _, created = _prompt(
        kind=MessageKind.MAINTENANCE_DUE,
        dedupe_key=f"maintenance:{course.pk}:{earliest}",
        patient=course.patient,
        course=course,
        due_at=now,
    )
    return int(created)


# --- side effects -----------------------------------------------------------------------


@transaction.atomic
def side_effect_report_create(
    *,
    patient: Patient,
    symptoms: list[str],
    severity: str,
    onset_on: date,
    actor: AbstractBaseUser | None,
    session: Session | None = None,
    notes: str = "",
    source: str = ReportSource.STAFF,
) -> SideEffectReport:
    """Record a side-effect report; a red flag alerts the practitioner at once.

    The alert is an outbox row due now, and the dispatcher is woken after
    commit, so the practitioner hears within seconds, not at the next beat.
    """
    today = timezone.localdate(timezone=_patient_zone(patient))
    if not symptoms:
        raise ValidationError({"symptoms": "Name at least one symptom."})
    if len(set(symptoms)) != len(symptoms):
        raise ValidationError({"symptoms": "Each symptom may appear once."})
    if onset_on > today:
        raise ValidationError({"onset_on": "Symptoms cannot begin in the future."})
    if session is not None and session.course.patient_id != patient.pk:
        raise ValidationError({"session": "This session belongs to another patient."})
    if session is None:
        session = (
            Session.objects.filter(course__patient=patient, status=SessionStatus.COMPLETED)
            .order_by("-completed_at")
            .first()
        )
    reasons = timing.red_flag_reasons(symptoms=symptoms, severity=severity, onset_on=onset_on, today=today)
    report = SideEffectReport(
        patient=patient,
        session=session,
        symptoms=symptoms,
        severity=severity,
        onset_on=onset_on,
        notes=notes,
        source=source,
        is_red_flag=bool(reasons),
        red_flag_reasons="; ".join(reasons),
        reported_by=staff_user(actor),
    )
    report.full_clean()
    report.save()
    if reasons:
        _alert_practitioner(report)
        webhook_emit(event_type=WebhookEvent.SIDE_EFFECT_RED_FLAG, object_id=report.pk)
    return report


def _alert_practitioner(report: SideEffectReport) -> None:
    from aftercare.tasks import dispatch_due_messages

    session = report.session
    practitioner = session.practitioner if session else None
    address = practitioner.user.email if practitioner else ""
    context = message_context(patient=report.patient, course=session.course if session else None, session=session)
    context |= {
        "red_flag_reasons": report.red_flag_reasons,
        "symptoms": ", ".join(report.symptoms),
        "severity": report.severity,
        "onset_on": _format_day(report.onset_on),
        "notes": report.notes,
    }
    _new_message(
        dedupe_key=f"red_flag:{report.pk}",
        kind=MessageKind.RED_FLAG_ALERT,
        patient=report.patient,
        channel=Channel.EMAIL,
        template=_template_for(PromptTemplate.objects.filter(kind=MessageKind.RED_FLAG_ALERT), Channel.EMAIL, "en"),
        context=lambda: context,
        due_at=timezone.now(),
        course=session.course if session else None,
        session=session,
        to_address=address,
        defer_quiet=False,  # staff alerts ignore the patient's quiet hours
    )
    wake_after_commit(dispatch_due_messages)


@transaction.atomic
def side_effect_report_resolve(
    *, report: SideEffectReport, practitioner: Practitioner, note: str, actor: AbstractBaseUser | None
) -> SideEffectReport:
    """A practitioner closes a report; the patient leaves the red-flag list when none stay open."""
    report = SideEffectReport.objects.select_for_update().get(pk=report.pk)
    if report.resolved_at is not None:
        raise InvalidState("This report is already resolved.", field="resolved_at")
    if not note.strip():
        raise ValidationError({"resolution_note": "Say what was done."})
    report.resolved_at = timezone.now()
    report.resolved_by = practitioner
    report.resolution_note = note
    report.save()
    return report
