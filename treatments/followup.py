"""Where a course stands on its next booking: the one definition.

"Sessions done", "the last session" and "the next window" are worked out
here and nowhere else. The worklist, the follow-up prompts, the texts
patients receive, course advancement, the API and the admin's Book link all
read them from this module, so they cannot disagree.

- **sessions done**: completed *course* sessions. Maintenance sessions are
  counted apart (`maintenance_done`); a course has its planned sessions done
  when `sessions_done` reaches `planned_sessions`.
- **last session**: the latest completed session of either kind; spacing is
  measured from its completion.
- **next window**, in the local dates of the course's location:
  an active course with sessions left and one completed: from the
  protocol's minimum to its maximum spacing after the last session;
  a course in maintenance: the maintenance window set when it last advanced;
  any other course (planned, cancelled, nothing completed yet): none.
- **first session**: a course started (planned, or active with nothing
  completed) and nothing booked is waiting for its first session from the
  day it was started; its window has no end.
- **last booking**: the course's latest session by start, whatever became of
  it; a cancelled or missed one says why the course is waiting again.
- **awaiting booking**: the window has opened by the location's own today
  and nothing is booked.
- **session number**: a completed course session's place among its course's
  completed course sessions, in order of completion (1 for the first).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict
from uuid import UUID

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from treatments import rules
from treatments.models import Course, CourseStatus, Session, SessionKind, SessionStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

FIRST_SESSION = "first_session"
NEXT_SESSION = "next_session"
MAINTENANCE = "maintenance"

# Courses that can be waiting for a booking at all.
FOLLOWED_UP_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE, CourseStatus.MAINTENANCE)


@dataclass(frozen=True)
class FollowUp:
    """A course's follow-up state. `kind` is None when no next session is due at all."""

    kind: str | None
    sessions_done: int
    sessions_planned: int
    maintenance_done: int
    sessions_remaining: int
    last_session_id: UUID | None
    last_practitioner_id: UUID | None
    last_completed_at: datetime | None
    window_start: date | None
    window_end: date | None
    is_booked: bool
    last_booking_status: str | None = None
    last_booking_cancel_reason: str = ""
    last_booking_at: datetime | None = None

    @property
    def window(self) -> tuple[date, date] | None:
        if self.window_start is None or self.window_end is None:
            return None
        return self.window_start, self.window_end


def _count(sessions: QuerySet[Session]) -> Coalesce:
    # order_by(): the model's default ordering would otherwise join the GROUP BY.
    per_course = sessions.order_by().values("course").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(per_course, output_field=IntegerField()), 0)


class FollowupAnnotations(TypedDict):
    """What `with_followup()` adds to each course."""

    followup_sessions_done: int
    followup_maintenance_done: int
    followup_last_session_id: UUID | None
    followup_last_completed_at: datetime | None
    followup_last_practitioner_id: UUID | None
    followup_booked: bool
    followup_last_booking_status: str | None
    followup_last_booking_cancel_reason: str | None
    followup_last_booking_at: datetime | None


CourseWithFollowup: TypeAlias = "WithAnnotations[Course, FollowupAnnotations]"


def with_followup(courses: QuerySet[Course]) -> QuerySet[CourseWithFollowup]:
    """`courses` annotated with what `followup_of()` needs, in the same query (one subquery per fact)."""
    completed = Session.objects.filter(course=OuterRef("pk"), status=SessionStatus.COMPLETED)
    latest = completed.order_by("-completed_at", "-pk")
    last_booking = Session.objects.filter(course=OuterRef("pk")).order_by("-starts_at", "-pk")
    return courses.annotate(
        followup_last_booking_status=Subquery(last_booking.values("status")[:1]),
        followup_last_booking_cancel_reason=Subquery(last_booking.values("cancel_reason")[:1]),
        followup_last_booking_at=Subquery(last_booking.values("starts_at")[:1]),
        followup_sessions_done=_count(completed.filter(kind=SessionKind.COURSE)),
        followup_maintenance_done=_count(completed.filter(kind=SessionKind.MAINTENANCE)),
        followup_last_session_id=Subquery(latest.values("pk")[:1]),
        followup_last_completed_at=Subquery(latest.values("completed_at")[:1]),
        followup_last_practitioner_id=Subquery(latest.values("practitioner_id")[:1]),
        followup_booked=Exists(Session.objects.filter(course=OuterRef("pk"), status=SessionStatus.BOOKED)),
    )


def followup_of(course: Course) -> FollowUp:
    """The follow-up state of a course read through `with_followup()`, with its protocol and location."""
    annotated: Any = course
    try:
        done: int = annotated.followup_sessions_done
    except AttributeError:
        raise ValueError("Read the course through treatments.followup.with_followup() first.") from None
    last_completed_at: datetime | None = annotated.followup_last_completed_at
    kind: str | None = None
    window: tuple[date, date] | None = None
    if course.status == CourseStatus.MAINTENANCE:
        if course.next_maintenance_earliest is not None and course.next_maintenance_latest is not None:
            kind, window = MAINTENANCE, (course.next_maintenance_earliest, course.next_maintenance_latest)
    elif course.status == CourseStatus.ACTIVE and last_completed_at is not None and done < course.planned_sessions:
        protocol = course.protocol
        kind = NEXT_SESSION
        window = rules.followup_window(
            last_anchor=last_completed_at,
            min_days=protocol.min_spacing_days,
            max_days=protocol.max_spacing_days,
            zone=course.location.time_zone,
        )
    first_waiting_since: date | None = None
    waiting = not annotated.followup_booked
    if course.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE) and last_completed_at is None and waiting:
        kind = FIRST_SESSION
        first_waiting_since = course.location.today(now=course.created_at)
    in_course = course.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    return FollowUp(
        kind=kind,
        sessions_done=done,
        sessions_planned=course.planned_sessions,
        maintenance_done=annotated.followup_maintenance_done,
        sessions_remaining=max(course.planned_sessions - done, 0) if in_course else 0,
        last_session_id=annotated.followup_last_session_id,
        last_practitioner_id=annotated.followup_last_practitioner_id,
        last_completed_at=last_completed_at,
        window_start=window[0] if window else first_waiting_since,
        window_end=window[1] if window else None,
        is_booked=annotated.followup_booked,
        last_booking_status=annotated.followup_last_booking_status,
        last_booking_cancel_reason=annotated.followup_last_booking_cancel_reason or "",
        last_booking_at=annotated.followup_last_booking_at,
    )


def course_followup(course: Course | UUID | str) -> FollowUp:
    """The follow-up state of one course, read now (inside a transaction: as that transaction sees it)."""
    pk = course.pk if isinstance(course, Course) else course
    return followup_of(with_followup(Course.objects.select_related("protocol", "location")).get(pk=pk))


def course_followups(course_ids: Iterable[Any]) -> dict[Any, FollowUp]:
    """The follow-up states of many courses, in one query, by course id."""
    courses = with_followup(Course.objects.filter(pk__in=list(course_ids)).select_related("protocol", "location"))
    return {course.pk: followup_of(course) for course in courses}


def course_session_number(session: Session) -> int | None:
    """Which course session of its course `session` was: 1 for the first completed, and so on.

    Counted in order of completion, so a session recorded late still takes its
    real place. None for a maintenance session or one not completed.
    """
    if session.kind != SessionKind.COURSE or session.completed_at is None:
        return None
    return Session.objects.filter(
        course_id=session.course_id,
        kind=SessionKind.COURSE,
        status=SessionStatus.COMPLETED,
        completed_at__lte=session.completed_at,
    ).count()


@dataclass(frozen=True)
class AwaitingBooking:
    """A course whose next window has opened, with nothing booked."""

    course: Course
    followup: FollowUp
    today: date  # at the course's location

    @property
    def days_overdue(self) -> int:
        end = self.followup.window_end
        return max((self.today - end).days, 0) if end is not None else 0


def open_followups(*, location_id: Any = None, practitioner_id: Any = None) -> Iterator[tuple[Course, FollowUp]]:
    """Every course waiting for a session (first, next or maintenance) with nothing booked, whether or not
    its window has opened.

    Courses come with their patient, protocol and location; `practitioner_id`
    narrows to courses whose last session that practitioner gave.
    """
    courses = with_followup(
        Course.objects.filter(status__in=FOLLOWED_UP_STATUSES).select_related("patient", "protocol", "location")
    ).filter(followup_booked=False)
    if location_id is not None:
        courses = courses.filter(location_id=location_id)
    if practitioner_id is not None:
        courses = courses.filter(followup_last_practitioner_id=practitioner_id)
    for course in courses.order_by("pk"):
        followup = followup_of(course)
        if followup.kind is not None:
            yield course, followup


def courses_awaiting_booking(
    *, now: datetime | None = None, location_id: Any = None, practitioner_id: Any = None
) -> list[AwaitingBooking]:
    """Courses whose next window has opened by their location's today and that have nothing booked."""
    now = now or timezone.now()
    rows = []
    for course, followup in open_followups(location_id=location_id, practitioner_id=practitioner_id):
        today = course.location.today(now=now)
        if followup.window_start is not None and followup.window_start <= today:
            rows.append(AwaitingBooking(course=course, followup=followup, today=today))
    return rows
