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

Kept on write, not recomputed on read: `followup_refresh()` stores each
course's state in a `FollowupState` row; the one session-event door
(treatments.events) calls it in the transaction of every session change and
course cancellation, and `course_create` for a new course. Readers
(`followup_of`, the worklist, the prompts) read that row. The computation
from the sessions (`computed_followup`) stays the definition:
`manage.py followup_check` compares every stored row with it and reports
(or, with `--fix`, repairs) any that drifted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict
from uuid import UUID

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from treatments import rules
from treatments.models import (
    Course,
    CourseStatus,
    FollowupKind,
    FollowupState,
    Location,
    Session,
    SessionKind,
    SessionStatus,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger(__name__)

FIRST_SESSION = FollowupKind.FIRST_SESSION.value
NEXT_SESSION = FollowupKind.NEXT_SESSION.value
MAINTENANCE = FollowupKind.MAINTENANCE.value

# When several kinds wait, which comes first (the worklist's urgency after red flags): a course's
# next session (its spacing is what the result depends on), then first sessions, then maintenance.
KIND_RANK = {NEXT_SESSION: 1, FIRST_SESSION: 2, MAINTENANCE: 3}

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
    """What `_annotated()` adds to each course."""

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


def _annotated(courses: QuerySet[Course]) -> QuerySet[CourseWithFollowup]:
    """`courses` annotated with what `_computed()` needs, in the same query (one subquery per fact)."""
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


def _computed(course: Course) -> FollowUp:
    """The follow-up state of a course read through `_annotated()`, with its protocol and location:
    the definition, worked out from the sessions."""
    annotated: Any = course
    done: int = annotated.followup_sessions_done
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


def computed_followup(course: Course | UUID | str) -> FollowUp:
    """The follow-up state of one course worked out from its sessions now, as this transaction sees them."""
    pk = course.pk if isinstance(course, Course) else course
    return _computed(_annotated(Course.objects.select_related("protocol", "location")).get(pk=pk))


def recompute_followups(course_ids: Iterable[Any]) -> dict[Any, FollowUp]:
    """The follow-up states of many courses worked out from their sessions, in one query, by course id."""
    courses = _annotated(Course.objects.filter(pk__in=list(course_ids)).select_related("protocol", "location"))
    return {course.pk: _computed(course) for course in courses}


# The FollowUp fields stored on FollowupState (the rest come from the course).
STORED_FIELDS = (
    "kind",
    "sessions_done",
    "maintenance_done",
    "last_session_id",
    "last_practitioner_id",
    "last_completed_at",
    "window_start",
    "window_end",
    "is_booked",
    "last_booking_status",
    "last_booking_cancel_reason",
    "last_booking_at",
)


def _stored_values(followup: FollowUp) -> dict[str, Any]:
    values = {name: getattr(followup, name) for name in STORED_FIELDS}
    values["kind"] = values["kind"] or ""
    values["last_booking_status"] = values["last_booking_status"] or ""
    values["rank"] = KIND_RANK.get(values["kind"], 0)
    return values


def followup_state_row(course: Course, *, refreshed_at: datetime) -> FollowupState:
    """The FollowupState row (unsaved) of `course` read through `_annotated()`, with its protocol and location.

    A course carrying the FollowupAnnotations some other way will do: a bulk
    loader that wrote the sessions itself (manage.py seed_bench) sets them from
    what it wrote, so its rows follow this definition, and followup_check can
    prove they agree with the sessions.
    """
    return FollowupState(
        course_id=course.pk,
        location_id=course.location_id,
        refreshed_at=refreshed_at,
        **_stored_values(_computed(course)),
    )


def followup_refresh(course_ids: Iterable[Any], *, batch_size: int = 2000) -> int:
    """Store the follow-up state of `course_ids` as their sessions say now; returns how many were stored.

    Call it inside the transaction that changed the sessions (the event door
    does), so the stored state commits or rolls back with the change.
    """
    ids = list(dict.fromkeys(course_ids))
    now = timezone.now()
    stored = 0
    for offset in range(0, len(ids), batch_size):
        batch = ids[offset : offset + batch_size]
        courses = _annotated(Course.objects.filter(pk__in=batch).select_related("protocol", "location"))
        rows = [followup_state_row(course, refreshed_at=now) for course in courses]
        FollowupState.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["course"],
            update_fields=["location", *(name.removesuffix("_id") for name in STORED_FIELDS), "rank", "refreshed_at"],
        )
        stored += len(rows)
    return stored


def followup_refresh_followed(courses: QuerySet[Course]) -> int:
    """Refresh the stored state of those `courses` that can be waiting for a booking: after an edit that
    moves their windows (a protocol's spacing, a location's time zone)."""
    ids = courses.filter(status__in=FOLLOWED_UP_STATUSES).order_by().values_list("pk", flat=True)
    return followup_refresh(ids)


def _from_state(course: Course, state: FollowupState) -> FollowUp:
    in_course = course.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    return FollowUp(
        kind=state.kind or None,
        sessions_done=state.sessions_done,
        sessions_planned=course.planned_sessions,
        maintenance_done=state.maintenance_done,
        sessions_remaining=max(course.planned_sessions - state.sessions_done, 0) if in_course else 0,
        last_session_id=state.last_session_id,
        last_practitioner_id=state.last_practitioner_id,
        last_completed_at=state.last_completed_at,
        window_start=state.window_start,
        window_end=state.window_end,
        is_booked=state.is_booked,
        last_booking_status=state.last_booking_status or None,
        last_booking_cancel_reason=state.last_booking_cancel_reason,
        last_booking_at=state.last_booking_at,
    )


def state_followup(state: FollowupState) -> FollowUp:
    """The follow-up state a stored row says (read with its course)."""
    return _from_state(state.course, state)


def with_followup(courses: QuerySet[Course]) -> QuerySet[Course]:
    """`courses` with their stored follow-up state joined, for `followup_of()` (same query)."""
    return courses.select_related("followup_state")


def followup_of(course: Course) -> FollowUp:
    """The stored follow-up state of `course` (read it through `with_followup()` to save a query)."""
    try:
        state = course.followup_state
    except FollowupState.DoesNotExist:
        # Every write path stores it; a missing row is a bug followup_check reports.
        logger.warning("Course %s has no stored follow-up state; working it out from the sessions.", course.pk)
        return computed_followup(course)
    return _from_state(course, state)


def course_followup(course: Course | UUID | str) -> FollowUp:
    """The stored follow-up state of one course."""
    pk = course.pk if isinstance(course, Course) else course
    return followup_of(with_followup(Course.objects.select_related("protocol", "location")).get(pk=pk))


def course_followups(course_ids: Iterable[Any]) -> dict[Any, FollowUp]:
    """The stored follow-up states of many courses, in one query, by course id."""
    courses = with_followup(Course.objects.filter(pk__in=list(course_ids)))
    return {course.pk: followup_of(course) for course in courses}


@dataclass(frozen=True)
class Drift:
    """A stored follow-up field that disagrees with what the sessions say."""

    course_id: Any
    field: str
    stored: Any
    computed: Any


def followup_drift(*, batch_size: int = 2000) -> Iterator[Drift]:
    """Every stored follow-up field (and missing row) that disagrees with the sessions, course by course."""
    ids = list(Course.objects.order_by("pk").values_list("pk", flat=True))
    for offset in range(0, len(ids), batch_size):
        batch = ids[offset : offset + batch_size]
        computed = recompute_followups(batch)
        states = {state.course_id: state for state in FollowupState.objects.filter(course_id__in=batch)}
        locations = dict(Course.objects.filter(pk__in=batch).values_list("pk", "location_id"))
        for course_id in batch:
            state = states.get(course_id)
            if state is None:
                yield Drift(course_id, "row", "missing", "present")
                continue
            expected = _stored_values(computed[course_id])
            if state.location_id != locations[course_id]:
                yield Drift(course_id, "location_id", state.location_id, locations[course_id])
            for name, value in expected.items():
                if getattr(state, name) != value:
                    yield Drift(course_id, name, getattr(state, name), value)


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


def open_states() -> QuerySet[FollowupState]:
    """Stored states of courses waiting for a session (first, next or maintenance) with nothing booked,
    whether or not the window has opened (served by the partial index `followup_open_window_idx`)."""
    return FollowupState.objects.filter(is_booked=False).exclude(kind="")


def location_todays(now: datetime) -> dict[Any, date]:
    """Each location's own today at `now`."""
    return {location.pk: location.today(now=now) for location in Location.objects.only("pk", "time_zone")}


def opened_by(todays: dict[Any, date]) -> Q:
    """Stored states whose window has opened by their location's today."""
    opened = Q(pk__in=[])
    for location_id, today in todays.items():
        opened |= Q(location_id=location_id, window_start__lte=today)
    return opened


def open_followups(
    *, location_id: Any = None, practitioner_id: Any = None, opened_by: date | None = None
) -> Iterator[tuple[Course, FollowUp]]:
    """Every course waiting for a session (first, next or maintenance) with nothing booked, whether or not
    its window has opened (`opened_by`: only windows opening on or before that date).

    Courses come with their patient, protocol and location; `practitioner_id`
    narrows to courses whose last session that practitioner gave.
    """
    states = open_states()
    if opened_by is not None:
        states = states.filter(window_start__lte=opened_by)
    if location_id is not None:
        states = states.filter(location_id=location_id)
    if practitioner_id is not None:
        states = states.filter(last_practitioner_id=practitioner_id)
    states = states.select_related("course__patient", "course__protocol", "course__location").order_by("pk")
    for state in states.iterator(chunk_size=2000):
        yield state.course, _from_state(state.course, state)


def courses_awaiting_booking(
    *, now: datetime | None = None, location_id: Any = None, practitioner_id: Any = None
) -> list[AwaitingBooking]:
    """Courses whose next window has opened by their location's today and that have nothing booked."""
    now = now or timezone.now()
    todays = location_todays(now)
    states = open_states().filter(opened_by(todays))
    if location_id is not None:
        states = states.filter(location_id=location_id)
    if practitioner_id is not None:
        states = states.filter(last_practitioner_id=practitioner_id)
    states = states.select_related("course__patient", "course__protocol", "course__location").order_by("pk")
    return [
        AwaitingBooking(course=state.course, followup=_from_state(state.course, state), today=todays[state.location_id])
        for state in states
    ]
