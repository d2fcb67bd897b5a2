"""The front desk's follow-up worklist: who must be booked next, and by when.

Rows come from three facts:
- a course whose next-session window is open (or past) with nothing booked;
- a course in maintenance whose maintenance window is open with nothing booked;
- a patient with an unresolved red-flag side-effect report.

Sorted by urgency: red flags first, then the most overdue, then the window
that closes soonest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, Max, Prefetch, Q
from django.utils import timezone

from aftercare.models import MessageStatus, ScheduledMessage, SideEffectReport
from treatments import rules
from treatments.models import Course, CourseStatus, Session, SessionKind, SessionStatus

KIND_RED_FLAG = "red_flag"
KIND_NEXT_SESSION = "next_session"
KIND_MAINTENANCE = "maintenance"
KINDS = (KIND_RED_FLAG, KIND_NEXT_SESSION, KIND_MAINTENANCE)


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

    @property
    def urgency(self) -> tuple[int, int, date]:
        """Smaller sorts first."""
        return (0 if self.kind == KIND_RED_FLAG else 1, -self.days_overdue, self.window_end or date.max)


def worklist(
    *,
    today: date | None = None,
    location_id: Any = None,
    practitioner_id: Any = None,
    kind: str | None = None,
) -> list[WorklistRow]:
    """The worklist for `today` (the clinic's local date), optionally narrowed."""
    today = today or timezone.localdate()
    rows: list[WorklistRow] = []
    last_contact = _last_contacts()
    if kind in (None, KIND_NEXT_SESSION, KIND_MAINTENANCE):
        rows += _course_rows(today, last_contact)
    if kind in (None, KIND_RED_FLAG):
        rows += _red_flag_rows(last_contact)
    if kind is not None:
        rows = [row for row in rows if row.kind == kind]
    if location_id is not None:
        rows = [row for row in rows if str(row.location_id) == str(location_id)]
    if practitioner_id is not None:
        rows = [row for row in rows if str(row.practitioner_id) == str(practitioner_id)]
    return sorted(rows, key=lambda row: row.urgency)


def _last_contacts() -> dict[UUID, datetime]:
    return dict(
        ScheduledMessage.objects.filter(status=MessageStatus.SENT)
        .values_list("patient_id")
        .annotate(last=Max("sent_at"))
        .values_list("patient_id", "last")
    )


def _course_rows(today: date, last_contact: dict[UUID, datetime]) -> list[WorklistRow]:
    courses = (
        Course.objects.filter(status__in=[CourseStatus.ACTIVE, CourseStatus.MAINTENANCE])
        .exclude(sessions__status=SessionStatus.BOOKED)
        .select_related("patient", "protocol", "location")
        .annotate(
            done=Count(
                "sessions", filter=Q(sessions__status=SessionStatus.COMPLETED, sessions__kind=SessionKind.COURSE)
            )
        )
        .prefetch_related(
            Prefetch(
                "sessions",
                queryset=Session.objects.filter(status=SessionStatus.COMPLETED).order_by("-completed_at"),
                to_attr="completed_sessions",
            )
        )
    )
    rows = []
    for course in courses:
        last = course.completed_sessions[0] if course.completed_sessions else None
        if last is None:
            continue
        if course.status == CourseStatus.MAINTENANCE:
            kind, start, end = KIND_MAINTENANCE, course.next_maintenance_earliest, course.next_maintenance_latest
            if start is None or end is None:
                continue
        else:
            if course.done >= course.planned_sessions:
                continue
            kind = KIND_NEXT_SESSION
            start, end = rules.followup_window(
                last_anchor=last.spacing_anchor,
                min_days=course.protocol.min_spacing_days,
                max_days=course.protocol.max_spacing_days,
                zone=course.location.time_zone,
            )
        if start > today:
            continue
        overdue = max((today - end).days, 0)
        rows.append(
            WorklistRow(
                kind=kind,
                patient_id=course.patient_id,
                patient_name=course.patient.full_name,
                patient_phone=str(course.patient.phone or ""),
                course_id=course.pk,
                protocol=course.protocol.name,
                location_id=course.location_id,
                practitioner_id=last.practitioner_id,
                sessions_done=course.done,
                sessions_planned=course.planned_sessions,
                window_start=start,
                window_end=end,
                days_overdue=overdue,
                last_contact_at=last_contact.get(course.patient_id),
                reason=(
                    f"overdue by {overdue} day{'s' if overdue != 1 else ''}"
                    if overdue
                    else f"window open until {end:%Y-%m-%d}"
                ),
            )
        )
    return rows


def _red_flag_rows(last_contact: dict[UUID, datetime]) -> list[WorklistRow]:
    reports = (
        SideEffectReport.objects.filter(is_red_flag=True, resolved_at__isnull=True)
        .select_related("patient", "session__course__protocol", "session__course")
        .order_by("patient_id", "-created_at")
        .distinct("patient_id")
    )
    rows = []
    for report in reports:
        session = report.session
        course = session.course if session else None
        rows.append(
            WorklistRow(
                kind=KIND_RED_FLAG,
                patient_id=report.patient_id,
                patient_name=report.patient.full_name,
                patient_phone=str(report.patient.phone or ""),
                course_id=course.pk if course else None,
                protocol=course.protocol.name if course else "",
                location_id=course.location_id if course else None,
                practitioner_id=session.practitioner_id if session else None,
                sessions_done=0,
                sessions_planned=course.planned_sessions if course else 0,
                window_start=None,
                window_end=None,
                days_overdue=0,
                last_contact_at=last_contact.get(report.patient_id),
                reason=f"red flag: {report.red_flag_reasons}",
            )
        )
    return rows
