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

Kept on write, not recomputed on read: `followup_store()` stores a
course's state in a `FollowupState` row; the one session-event door
(treatments.events) calls it in the transaction of every session change and
course cancellation, and `course_create` for a new course. Readers
(`followup_of`, the worklist, the prompts) read that row. The computation
from the sessions (`followup_from_sessions`, a pure function) stays the
definition: the door hands it the sessions a service holds already, and
`manage.py followup_check` compares every stored row with it and reports
(or, with `--fix`, repairs) any that drifted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
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


def followup_from_sessions(course: Course, sessions: Iterable[Session]) -> FollowUp:
    """The definition: where `course` stands, worked out from `sessions`, every session of it (any status)
    as they are now. `course` comes with its protocol and location.

    A pure function, so a service that holds the course's sessions already (a booking reads them for the
    rules) stores the state without reading them again; the readers below read them in one query.
    """
    sessions = list(sessions)
    completed = [s for s in sessions if s.status == SessionStatus.COMPLETED]
    done = sum(1 for s in completed if s.kind == SessionKind.COURSE)
    # Ties go to the greater id (Python compares UUIDs as PostgreSQL orders them): a stable choice.
    last = max(completed, key=lambda s: (s.completed_at, s.pk), default=None)
    last_booking = max(sessions, key=lambda s: (s.starts_at, s.pk), default=None)
    booked = any(s.status == SessionStatus.BOOKED for s in sessions)
    last_completed_at = last.completed_at if last is not None else None
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
    if course.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE) and last_completed_at is None and not booked:
        kind = FIRST_SESSION
        first_waiting_since = course.location.today(now=course.created_at)
    in_course = course.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)
    return FollowUp(
        kind=kind,
        sessions_done=done,
        sessions_planned=course.planned_sessions,
        maintenance_done=sum(1 for s in completed if s.kind == SessionKind.MAINTENANCE),
        sessions_remaining=max(course.planned_sessions - done, 0) if in_course else 0,
        last_session_id=last.pk if last is not None else None,
        last_practitioner_id=last.practitioner_id if last is not None else None,
        last_completed_at=last_completed_at,
        window_start=window[0] if window else first_waiting_since,
        window_end=window[1] if window else None,
        is_booked=booked,
        last_booking_status=last_booking.status if last_booking is not None else None,
        last_booking_cancel_reason=last_booking.cancel_reason if last_booking is not None else "",
        last_booking_at=last_booking.starts_at if last_booking is not None else None,
    )


# What the definition reads of a session, when it reads them itself.
FOLLOWUP_SESSION_FIELDS = (
    "id",
    "course_id",
    "kind",
    "status",
    "practitioner_id",
    "starts_at",
    "completed_at",
    "cancel_reason",
)


def _sessions_by_course(course_ids: list[Any]) -> dict[Any, list[Session]]:
    """Every session of `course_ids`, any status, by course id: one read."""
    by_course: dict[Any, list[Session]] = defaultdict(list)
    for session in Session.objects.filter(course_id__in=course_ids).only(*FOLLOWUP_SESSION_FIELDS).order_by():
        by_course[session.course_id].append(session)
    return by_course


def sessions_of_course(course: Course) -> list[Session]:
    """Every session of `course`, any status, as this transaction sees them (for `followup_from_sessions`)."""
    return list(Session.objects.filter(course_id=course.pk).order_by())


def computed_followup(course: Course | UUID | str) -> FollowUp:
    """The follow-up state of one course worked out from its sessions now, as this transaction sees them."""
    pk = course.pk if isinstance(course, Course) else course
    return recompute_followups([pk])[pk]


def recompute_followups(course_ids: Iterable[Any]) -> dict[Any, FollowUp]:
    """The follow-up states of many courses worked out from their sessions, in two queries, by course id."""
    ids = list(course_ids)
    sessions = _sessions_by_course(ids)
    courses = Course.objects.filter(pk__in=ids).select_related("protocol", "location")
    return {course.pk: followup_from_sessions(course, sessions[course.pk]) for course in courses}


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


def followup_state_row(course: Course, sessions: Iterable[Session], *, refreshed_at: datetime) -> FollowupState:
    """The FollowupState row (unsaved) of `course` (with its protocol and location) from `sessions`, every
    session of it: for a bulk loader that wrote the sessions itself (manage.py seed_bench), so its rows
    follow the one definition and followup_check can prove they agree."""
    followup = followup_from_sessions(course, sessions)
    return FollowupState(
        course_id=course.pk, location_id=course.location_id, refreshed_at=refreshed_at, **_stored_values(followup)
    )


def _store(followups: list[tuple[Course, FollowUp]], *, now: datetime) -> None:
    """Write the stored state of each course, in one statement (an upsert on the course)."""
    FollowupState.objects.bulk_create(
        [
            FollowupState(course_id=course.pk, location_id=course.location_id, refreshed_at=now, **_stored_values(f))
            for course, f in followups
        ],
        update_conflicts=True,
        unique_fields=["course"],
        update_fields=["location", *(name.removesuffix("_id") for name in STORED_FIELDS), "rank", "refreshed_at"],
    )


def followup_store(course: Course, sessions: Iterable[Session]) -> FollowUp:
    """Store the follow-up state of `course` (in hand, with its protocol and location) worked out from
    `sessions`, every session of it as they are now; return it.

    Call it inside the transaction that changed the sessions (the event door
    does), so the stored state commits or rolls back with the change.
    """
    followup = followup_from_sessions(course, sessions)
    _store([(course, followup)], now=timezone.now())
    return followup


def followup_refresh(course_ids: Iterable[Any], *, batch_size: int = 2000) -> int:
    """Store the follow-up state of `course_ids` as their sessions say now; returns how many were stored.

    Call it inside the transaction that changed the sessions, so the stored
    state commits or rolls back with the change.
    """
    ids = list(dict.fromkeys(course_ids))
    now = timezone.now()
    stored = 0
    for offset in range(0, len(ids), batch_size):
        batch = ids[offset : offset + batch_size]
        sessions = _sessions_by_course(batch)
        courses = Course.objects.filter(pk__in=batch).select_related("protocol", "location")
        followups = [(course, followup_from_sessions(course, sessions[course.pk])) for course in courses]
        _store(followups, now=now)
        stored += len(followups)
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


def course_session_number(session: Session, course_sessions: Iterable[Session] | None = None) -> int | None:
    """Which course session of its course `session` was: 1 for the first completed, and so on.

    Counted in order of completion, so a session recorded late still takes its
    real place. None for a maintenance session or one not completed.
    `course_sessions`, every session of the course as they are now, when the caller holds them.
    """
    completed_at = session.completed_at
    if session.kind != SessionKind.COURSE or completed_at is None:
        return None
    if course_sessions is None:
        course_sessions = Session.objects.filter(course_id=session.course_id).only(*FOLLOWUP_SESSION_FIELDS)
    return sum(
        1
        for s in course_sessions
        if s.kind == SessionKind.COURSE
        and s.status == SessionStatus.COMPLETED
        and s.completed_at is not None
        and s.completed_at <= completed_at
    )


def next_booked_session(sessions: Iterable[Session], *, now: datetime) -> Session | None:
    """The next appointment among `sessions` (a course's): the earliest booked one that starts after `now`."""
    upcoming = (s for s in sessions if s.status == SessionStatus.BOOKED and s.starts_at > now)
    return min(upcoming, key=lambda s: (s.starts_at, s.pk), default=None)


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
