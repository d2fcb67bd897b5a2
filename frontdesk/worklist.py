"""The front desk's follow-up worklist: who must be booked next, and by when.

Rows come from four facts, so that nobody falls off the list:
- a patient with an unresolved red-flag side-effect report;
- a course whose next-session window is open (or past) with nothing booked,
  including one whose last booking was cancelled or missed (the row says so);
- a course started and never booked (or whose first booking was cancelled
  or missed), waiting for its first session;
- a course in maintenance whose maintenance window is open, with nothing booked.
The windows, counts and last bookings are treatments.followup's; "open" is
judged by each course's location's own date.

Urgency, most urgent first (README: "The worklist"):
1. red flags;
2. next sessions of a course, by the last day of their window (overdue first,
   then the window that closes soonest): the course's spacing is what the
   treatment's result depends on;
3. first sessions, the longest waiting first;
4. maintenance, by the last day of its window: late maintenance is late, not urgent.

A course the front desk agreed to call back on a date stays off the list
until that day; each row shows the last attempt to reach the patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db.models import Max
from django.utils import timezone

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SideEffectReport
from clinic.local_time import date_text, local_datetime_text
from frontdesk.models import ContactAttempt
from treatments.followup import (
    FIRST_SESSION,
    MAINTENANCE,
    NEXT_SESSION,
    AwaitingBooking,
    course_followups,
    courses_awaiting_booking,
)
from treatments.models import CancelReason, SessionStatus
from treatments.selectors import courses_needing_treatment_consent

RED_FLAG = "red_flag"
KINDS = (RED_FLAG, NEXT_SESSION, FIRST_SESSION, MAINTENANCE)
KIND_LABELS = (
    (RED_FLAG, "red flags"),
    (NEXT_SESSION, "next sessions"),
    (FIRST_SESSION, "first sessions"),
    (MAINTENANCE, "maintenance"),
)
TIER = {RED_FLAG: 0, NEXT_SESSION: 1, FIRST_SESSION: 2, MAINTENANCE: 3}


@dataclass(frozen=True)
class LastAttempt:
    outcome: str
    label: str
    made_at: datetime
    made_by: str
    call_back_on: date | None
    note: str


@dataclass(frozen=True)
class WorklistRow:
    kind: str
    patient_id: UUID
    patient_name: str
    patient_phone: str
    course_id: UUID | None
    protocol: str
    location_id: UUID | None
    practitioner_id: UUID | None
    sessions_done: int
    sessions_planned: int
    window_start: date | None
    window_end: date | None
    days_overdue: int
    last_contact_at: datetime | None
    reason: str
    treatment_consent_needed: bool = False
    last_attempt: LastAttempt | None = None

    @property
    def urgency(self) -> tuple[int, date, date]:
        """Smaller sorts first: by tier, then by the window's last day (overdue first), then by waiting longest."""
        return (TIER[self.kind], self.window_end or date.max, self.window_start or date.max)


def worklist(
    *,
    now: datetime | None = None,
    location_id: Any = None,
    practitioner_id: Any = None,
    kind: str | None = None,
) -> list[WorklistRow]:
    """The worklist at `now` (default: now), optionally narrowed, most urgent first.

    `practitioner_id` keeps the rows whose last session (or reported
    session) that practitioner gave.
    """
    now = now or timezone.now()
    last_contact = _last_contacts()
    rows: list[WorklistRow] = []
    if kind != RED_FLAG:
        rows += _course_rows(now, last_contact, location_id=location_id, practitioner_id=practitioner_id)
    if kind in (None, RED_FLAG):
        rows += _red_flag_rows(last_contact)
    if kind is not None:
        rows = [row for row in rows if row.kind == kind]
    if location_id is not None:
        rows = [row for row in rows if str(row.location_id) == str(location_id)]
    if practitioner_id is not None:
        rows = [row for row in rows if str(row.practitioner_id) == str(practitioner_id)]
    return sorted(rows, key=lambda row: row.urgency)


def _last_contacts() -> dict[UUID, datetime]:
    """When a message last reached each patient (alerts about them sent to staff do not count)."""
    return dict(
        ScheduledMessage.objects.filter(status=MessageStatus.SENT)
        .exclude(kind=MessageKind.RED_FLAG_ALERT)
        .values_list("patient_id")
        .annotate(last=Max("sent_at"))
        .values_list("patient_id", "last")
    )


def _last_attempts(course_ids: list[Any]) -> dict[Any, LastAttempt]:
    attempts = (
        ContactAttempt.objects.filter(course_id__in=course_ids).order_by("course_id", "-made_at").distinct("course_id")
    )
    return {
        attempt.course_id: LastAttempt(
            outcome=attempt.outcome,
            label=attempt.get_outcome_display(),
            made_at=attempt.made_at,
            made_by=attempt.made_by_label,
            call_back_on=attempt.call_back_on,
            note=attempt.note,
        )
        for attempt in attempts
    }


def _course_rows(
    now: datetime, last_contact: dict[UUID, datetime], *, location_id: Any, practitioner_id: Any
) -> list[WorklistRow]:
    waiting = courses_awaiting_booking(now=now, location_id=location_id, practitioner_id=practitioner_id)
    course_ids = [entry.course.pk for entry in waiting]
    attempts = _last_attempts(course_ids)
    no_consent = courses_needing_treatment_consent(course_ids)
    rows = []
    for entry in waiting:
        course, followup = entry.course, entry.followup
        attempt = attempts.get(course.pk)
        if attempt is not None and attempt.call_back_on is not None and attempt.call_back_on > entry.today:
            continue  # the patient asked to be called back then
        rows.append(
            WorklistRow(
                kind=followup.kind or NEXT_SESSION,
                patient_id=course.patient_id,
                patient_name=course.patient.full_name,
                patient_phone=str(course.patient.phone or ""),
                course_id=course.pk,
                protocol=course.protocol.name,
                location_id=course.location_id,
                practitioner_id=followup.last_practitioner_id,
                sessions_done=followup.sessions_done,
                sessions_planned=followup.sessions_planned,
                window_start=followup.window_start,
                window_end=followup.window_end,
                days_overdue=entry.days_overdue,
                last_contact_at=last_contact.get(course.patient_id),
                reason=_reason(entry),
                treatment_consent_needed=course.pk in no_consent,
                last_attempt=attempt,
            )
        )
    return rows


def _reason(entry: AwaitingBooking) -> str:
    """Why the course is on the list, in the front desk's words."""
    followup, overdue = entry.followup, entry.days_overdue
    if followup.kind == FIRST_SESSION:
        why = f"not booked since it was started on {date_text(followup.window_start)}"
    elif overdue:
        what = "maintenance" if followup.kind == MAINTENANCE else "next session"
        why = f"{what} overdue by {overdue} day{'s' if overdue != 1 else ''}"
    elif followup.kind == MAINTENANCE:
        why = f"maintenance due: window open until {date_text(followup.window_end)}"
    else:
        why = f"window open until {date_text(followup.window_end)}"
    last = _last_booking_text(entry)
    return f"{why}; {last}" if last else why


def _last_booking_text(entry: AwaitingBooking) -> str:
    followup = entry.followup
    when = local_datetime_text(followup.last_booking_at, entry.course.location.time_zone)
    if followup.last_booking_status == SessionStatus.CANCELLED:
        code = followup.last_booking_cancel_reason
        reason = str(CancelReason(code).label).lower() if code in CancelReason.values else ""
        return f"last booking ({when}) was cancelled" + (f": {reason}" if reason else "")
    if followup.last_booking_status == SessionStatus.NO_SHOW:
        return f"the patient did not come to the last booking ({when})"
    return ""


def _red_flag_rows(last_contact: dict[UUID, datetime]) -> list[WorklistRow]:
    reports = list(
        SideEffectReport.objects.filter(is_red_flag=True, resolved_at__isnull=True)
        .select_related("patient", "session__course__protocol")
        .order_by("patient_id", "-created_at")
        .distinct("patient_id")
    )
    course_ids = [r.session.course_id for r in reports if r.session is not None]
    followups = course_followups(course_ids)
    attempts = _last_attempts(course_ids)
    rows = []
    for report in reports:
        session = report.session
        course = session.course if session else None
        followup = followups.get(course.pk) if course else None
        rows.append(
            WorklistRow(
                kind=RED_FLAG,
                patient_id=report.patient_id,
                patient_name=report.patient.full_name,
                patient_phone=str(report.patient.phone or ""),
                course_id=course.pk if course else None,
                protocol=course.protocol.name if course else "",
                location_id=course.location_id if course else None,
                practitioner_id=session.practitioner_id if session else None,
                sessions_done=followup.sessions_done if followup else 0,
                sessions_planned=followup.sessions_planned if followup else 0,
                window_start=None,
                window_end=None,
                days_overdue=0,
                last_contact_at=last_contact.get(report.patient_id),
                reason=f"red flag: {report.red_flag_reasons}",
                last_attempt=attempts.get(course.pk) if course else None,
            )
        )
    return rows
