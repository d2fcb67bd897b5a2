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
until that day; each row shows the last attempt to reach the patient, and
how many of the patient's texts wait in the inbox (aftercare.inbox).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, overload
from uuid import UUID

from django.db.models import F, Max, QuerySet
from django.utils import timezone

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SideEffectReport
from aftercare.selectors import open_inbox_counts
from clinic.api.pagination import LazyRows
from clinic.local_time import date_text, local_datetime_text
from frontdesk.models import ContactAttempt
from treatments.followup import (
    FIRST_SESSION,
    KIND_RANK,
    MAINTENANCE,
    NEXT_SESSION,
    AwaitingBooking,
    course_followups,
    location_todays,
    open_states,
    opened_by,
    state_followup,
)
from treatments.models import CancelReason, FollowupState, SessionStatus
from treatments.selectors import courses_needing_treatment_consent

RED_FLAG = "red_flag"
KINDS = (RED_FLAG, NEXT_SESSION, FIRST_SESSION, MAINTENANCE)
KIND_LABELS = (
    (RED_FLAG, "red flags"),
    (NEXT_SESSION, "next sessions"),
    (FIRST_SESSION, "first sessions"),
    (MAINTENANCE, "maintenance"),
)
TIER = {RED_FLAG: 0, **KIND_RANK}


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
    open_inbox_messages: int = 0  # texts from the patient waiting in the inbox for a person

    @property
    def urgency(self) -> tuple[int, date, date]:
        """Smaller sorts first: by tier, then by the window's last day (overdue first), then by waiting longest."""
        return (TIER[self.kind], self.window_end or date.max, self.window_start or date.max)


class Worklist(LazyRows):
    """The worklist, most urgent first, read a page at a time.

    Red-flag rows (few) come first; the course rows are read from the stored
    follow-up states (treatments.followup) along the index that holds them in
    urgency order, so a slice reads only its own rows, and `len()` (one
    COUNT) runs only when the total is asked for: the cost follows the page,
    not the courses stored.
    """

    def __init__(self, *, now: datetime, location_id: Any, practitioner_id: Any, kind: str | None) -> None:
        self.now = now
        self.todays = location_todays(now)
        self.red_flags: list[WorklistRow] = []
        if kind in (None, RED_FLAG):
            self.red_flags = [
                row
                for row in _red_flag_rows()
                if (location_id is None or str(row.location_id) == str(location_id))
                and (practitioner_id is None or str(row.practitioner_id) == str(practitioner_id))
            ]
        self.states: QuerySet[FollowupState] | None = None
        if kind != RED_FLAG:
            self.states = _course_states(
                self.todays, location_id=location_id, practitioner_id=practitioner_id, kind=kind
            )
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = len(self.red_flags) + (self.states.count() if self.states is not None else 0)
        return self._count

    @overload
    def __getitem__(self, index: int) -> WorklistRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[WorklistRow]: ...

    def __getitem__(self, index: int | slice) -> WorklistRow | list[WorklistRow]:
        if isinstance(index, int):
            rows = self[index : index + 1] if index >= 0 else list(self)[index : index + 1 or None]
            if not rows:
                raise IndexError(index)
            return rows[0]
        plain = index.step in (None, 1) and all(end is None or end >= 0 for end in (index.start, index.stop))
        if not plain:
            return list(self)[index]
        # A page's slice needs no total: the COUNT runs only for an open-ended one.
        start = index.start or 0
        stop = index.stop if index.stop is not None else len(self)
        flagged = len(self.red_flags)
        rows = self.red_flags[start:stop]
        if self.states is not None and stop > flagged:
            # The page's course ids along the urgency index, then their rows with what they show.
            ids = list(self.states.values_list("course_id", flat=True)[max(start - flagged, 0) : stop - flagged])
            by_course = {
                state.course_id: state
                for state in FollowupState.objects.filter(course_id__in=ids).select_related(
                    "course__patient", "course__protocol", "course__location"
                )
            }
            rows += self._course_rows([by_course[course_id] for course_id in ids])
        return _with_last_contacts(rows)

    def __iter__(self) -> Iterator[WorklistRow]:
        return iter(self[0 : len(self)])

    def _course_rows(self, states: list[FollowupState]) -> list[WorklistRow]:
        course_ids = [state.course_id for state in states]
        attempts = _last_attempts(course_ids)
        no_consent = courses_needing_treatment_consent(course_ids)
        rows = []
        for state in states:
            course = state.course
            entry = AwaitingBooking(course=course, followup=state_followup(state), today=self.todays[state.location_id])
            followup = entry.followup
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
                    last_contact_at=None,
                    reason=_reason(entry),
                    treatment_consent_needed=course.pk in no_consent,
                    last_attempt=attempts.get(course.pk),
                )
            )
        return rows


def worklist_rows(
    *,
    now: datetime | None = None,
    location_id: Any = None,
    practitioner_id: Any = None,
    kind: str | None = None,
) -> Worklist:
    """The worklist at `now` (default: now), optionally narrowed, most urgent first; slice it to read a page.

    `practitioner_id` keeps the rows whose last session (or reported
    session) that practitioner gave.
    """
    return Worklist(now=now or timezone.now(), location_id=location_id, practitioner_id=practitioner_id, kind=kind)


def worklist(
    *,
    now: datetime | None = None,
    location_id: Any = None,
    practitioner_id: Any = None,
    kind: str | None = None,
) -> list[WorklistRow]:
    """The whole worklist as a list (`worklist_rows` reads a page at a time)."""
    return list(worklist_rows(now=now, location_id=location_id, practitioner_id=practitioner_id, kind=kind))


def _course_states(
    todays: dict[Any, date], *, location_id: Any, practitioner_id: Any, kind: str | None
) -> QuerySet[FollowupState]:
    """Stored states of the courses on the list, most urgent first (README: "The worklist"): the window
    has opened by the location's today and no call-back was agreed for a later day."""
    states = open_states().filter(opened_by(todays)).exclude(course_id__in=_called_back_later(todays))
    if location_id is not None:
        states = states.filter(location_id=location_id)
    if practitioner_id is not None:
        states = states.filter(last_practitioner_id=practitioner_id)
    if kind is not None:
        states = states.filter(kind=kind)
    # The rank is treatments.followup.KIND_RANK (the same tiers as TIER); `followup_urgency_idx` holds this order.
    return states.order_by("rank", F("window_end").asc(nulls_last=True), "window_start", "course_id")


def _called_back_later(todays: dict[Any, date]) -> list[Any]:
    """Courses whose latest contact attempt agreed a call-back after their location's today (few)."""
    if not todays:
        return []
    upcoming = ContactAttempt.objects.filter(call_back_on__gt=min(todays.values())).values("course_id")
    latest = (
        ContactAttempt.objects.filter(course_id__in=upcoming)
        .order_by("course_id", "-made_at")
        .distinct("course_id")
        .values_list("course_id", "call_back_on", "course__location_id")
    )
    return [
        course_id
        for course_id, call_back_on, place in latest
        if call_back_on is not None and call_back_on > todays.get(place, date.min)
    ]


def _with_last_contacts(rows: list[WorklistRow]) -> list[WorklistRow]:
    """`rows` with when a message last reached each patient (alerts about them sent to staff do not count), and
    how many of the patient's texts wait in the inbox."""
    patient_ids = {row.patient_id for row in rows}
    if not patient_ids:
        return rows
    waiting = open_inbox_counts(patient_ids)
    last = dict(
        ScheduledMessage.objects.filter(patient_id__in=patient_ids, status=MessageStatus.SENT)
        .exclude(kind=MessageKind.RED_FLAG_ALERT)
        .order_by()
        .values_list("patient_id")
        .annotate(last=Max("sent_at"))
        .values_list("patient_id", "last")
    )
    return [
        replace(row, last_contact_at=last.get(row.patient_id), open_inbox_messages=waiting.get(row.patient_id, 0))
        for row in rows
    ]


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


def _red_flag_rows() -> list[WorklistRow]:
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
                last_contact_at=None,
                reason=f"red flag: {report.red_flag_reasons}",
                last_attempt=attempts.get(course.pk) if course else None,
            )
        )
    return rows
