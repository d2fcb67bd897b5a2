"""The front desk's follow-up worklist: who must be booked next, and by when.

Rows come from three facts:
- a course whose next-session window is open (or past) with nothing booked;
- a course in maintenance whose maintenance window is open with nothing booked;
- a patient with an unresolved red-flag side-effect report.
The first two, with their windows and counts, are treatments.followup's;
"open" is judged by each course's location's own date.

Sorted by urgency: red flags first, then the most overdue, then the window
that closes soonest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db.models import Max
from django.utils import timezone

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SideEffectReport
from clinic.local_time import date_text
from treatments.followup import MAINTENANCE, NEXT_SESSION, course_followups, courses_awaiting_booking

RED_FLAG = "red_flag"
KINDS = (RED_FLAG, NEXT_SESSION, MAINTENANCE)
KIND_LABELS = ((RED_FLAG, "red flags"), (NEXT_SESSION, "next sessions"), (MAINTENANCE, "maintenance"))


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
        return (0 if self.kind == RED_FLAG else 1, -self.days_overdue, self.window_end or date.max)


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
    if kind in (None, NEXT_SESSION, MAINTENANCE):
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


def _course_rows(
    now: datetime, last_contact: dict[UUID, datetime], *, location_id: Any, practitioner_id: Any
) -> list[WorklistRow]:
    rows = []
    for waiting in courses_awaiting_booking(now=now, location_id=location_id, practitioner_id=practitioner_id):
        course, followup = waiting.course, waiting.followup
        overdue = waiting.days_overdue
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
                days_overdue=overdue,
                last_contact_at=last_contact.get(course.patient_id),
                reason=(
                    f"overdue by {overdue} day{'s' if overdue != 1 else ''}"
                    if overdue
                    else f"window open until {date_text(followup.window_end)}"
                ),
            )
        )
    return rows


def _red_flag_rows(last_contact: dict[UUID, datetime]) -> list[WorklistRow]:
    reports = list(
        SideEffectReport.objects.filter(is_red_flag=True, resolved_at__isnull=True)
        .select_related("patient", "session__course__protocol")
        .order_by("patient_id", "-created_at")
        .distinct("patient_id")
    )
    followups = course_followups(r.session.course_id for r in reports if r.session is not None)
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
            )
        )
    return rows
