"""Every change to courses and sessions goes through here.

The admin, the REST API and Celery tasks call these functions, so each rule
in `treatments.rules` holds whichever door a change comes through. Writes to
one course are serialised by locking the course row; double booking across
courses is refused by PostgreSQL's exclusion constraints, which no amount of
concurrency gets past.

Every change to a session ends the same way: `_save_change()` raises its
sequence and saves it, and `treatments.events` announces it to the apps
that react (messages, webhooks), in the same transaction.

A booking reads what its rules need once (the course, locked, with whether
the practitioner works there; the patient's sessions; the conflict rules;
the opening hours) and hands the course's sessions on to the event door,
which works out the follow-up state from them instead of reading them again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from clinic.actors import Actor, actor_label, is_patient, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState, NotPermitted, RuleViolation, SlotTaken
from clinic.local_time import date_text
from patients.models import Patient
from patients.selectors import clinical_access
from treatments import rules
from treatments.evaluation import (
    Override,
    PatientSessions,
    UsedOverride,
    check_resources,
    enforce,
    evaluate_booking,
    patient_sessions,
    works_at,
)
from treatments.events import SessionChange, announce_course_cancelled, announce_session_change
from treatments.followup import followup_from_sessions, followup_store, sessions_of_course
from treatments.models import (
    LIVE_SESSION_STATUSES,
    CancelReason,
    Course,
    CourseOverride,
    CourseStatus,
    Location,
    MedicalClearance,
    Practitioner,
    Product,
    ProductLot,
    Protocol,
    Room,
    RuleOverride,
    Session,
    SessionKind,
    SessionProductUse,
    SessionStatus,
    new_calendar_token,
)
from treatments.selectors import has_treatment_consent, treatment_consent_in_force

__all__ = ["Override", "ProductUse"]  # the value types callers build, re-exported beside the services

BEYOND_THE_CALENDAR = "This start is too far in the future to schedule."

DOUBLE_BOOKING_CONSTRAINTS = {
    "session_no_practitioner_double_booking": "practitioner",
    "session_no_room_double_booking": "room",
}

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ProductUse:
    lot: ProductLot
    quantity: Decimal


# --- courses ------------------------------------------------------------------


@records_actor
@transaction.atomic
def course_create(
    *,
    patient: Patient,
    protocol: Protocol,
    location: Location,
    actor: Actor,
    planned_sessions: int | None = None,
    notes: str = "",
) -> Course:
    """Start a course of `protocol` for `patient`; the session count defaults to the protocol's."""
    if not protocol.is_active:
        raise ValidationError({"protocol": "This protocol is no longer offered."})
    if not location.is_active:
        raise ValidationError({"location": "This location is closed."})
    planned = planned_sessions if planned_sessions is not None else protocol.default_sessions
    decision = rules.check_planned_sessions(
        planned=planned, minimum=protocol.min_sessions, maximum=protocol.max_sessions
    )
    if not decision.allowed:
        raise RuleViolation(decision.reason, rule=decision.rule, field="planned_sessions")
    in_progress = Course.objects.filter(
        patient=patient, protocol=protocol, status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE)
    ).first()
    if in_progress is not None:
        raise InvalidState(_already_in_progress(in_progress), field="protocol")
    try:
        with transaction.atomic():
            course = Course.objects.create(
                patient=patient, protocol=protocol, location=location, planned_sessions=planned, notes=notes
            )
    except IntegrityError as exc:
        # Two requests at once: the constraint lets one through.
        if "course_one_in_progress_per_protocol" not in str(exc):
            raise
        existing = Course.objects.filter(
            patient=patient, protocol=protocol, status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE)
        ).first()
        raise InvalidState(_already_in_progress(existing), field="protocol") from None
    followup_store(course, ())  # a new course: no sessions yet
    return course


def _already_in_progress(course: Course | None) -> str:
    if course is None:
        return "This patient already has a course of this protocol in progress."
    return (
        f"This patient already has a course of {course.protocol.name} in progress "
        f"({course.get_status_display().lower()}, started {date_text(course.location.today(now=course.created_at))}): "
        "book its sessions, or cancel it first."
    )


@records_actor
@transaction.atomic
def course_cancel(*, course: Course, reason: str, actor: Actor) -> Course:
    """Cancel `course` and every session of it still booked."""
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.status == CourseStatus.CANCELLED:
        raise InvalidState("This course is already cancelled.", field="status")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the course is cancelled."})
    now = timezone.now()
    sessions = list(Session.objects.select_for_update().filter(course=course, status=SessionStatus.BOOKED))
    for session in sessions:
        session.status = SessionStatus.CANCELLED
        session.cancelled_at = now
        session.cancel_reason = CancelReason.COURSE_CANCELLED
        session.cancel_note = reason
        session.sequence += 1
        session.updated_at = now
    # In bulk, but through the audit trail: one history row per session.
    bulk_update_with_history(
        sessions,
        Session,
        ["status", "cancelled_at", "cancel_reason", "cancel_note", "sequence", "updated_at"],
        default_user=staff_user(actor),
        custom_historical_attrs={"history_actor": actor_label(actor)},
    )
    course.status = CourseStatus.CANCELLED
    course.cancelled_at = now
    course.cancel_reason = reason
    course.next_maintenance_earliest = course.next_maintenance_latest = None
    course.save()
    announce_course_cancelled(course=course, cancelled_sessions=tuple(sessions), actor=actor, occurred_at=now)
    return course


# --- sessions -------------------------------------------------------------------


class _DoubleBooked(SlotTaken):
    """PostgreSQL's exclusion constraint refused `session` for `resource`.

    Raised inside the service's transaction, which the failed write has
    aborted: `names_the_clash` says which session holds the slot once the
    transaction has rolled back. Uncaught, it is still a SlotTaken.
    """

    def __init__(self, session: Session, resource: str) -> None:
        what = session.practitioner if resource == "practitioner" else session.room
        super().__init__(f"{what} is already booked at that time.", clashing_session_id="", resource=resource)
        self.session = session
        self.resource = resource


def _save_or_slot_taken(session: Session, *, update_fields: list[str] | None = None) -> None:
    """Save `session`; an exclusion-constraint failure raises _DoubleBooked.

    No savepoint around the write: the transaction is given up on a clash
    anyway, and the clash is named after it rolled back (`names_the_clash`).
    """
    try:
        session.save(update_fields=update_fields)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        resource = DOUBLE_BOOKING_CONSTRAINTS.get(constraint or "")
        if resource is None:
            raise
        raise _DoubleBooked(session, resource) from exc


def _slot_taken(session: Session, resource: str) -> SlotTaken:
    """SlotTaken naming the live session that holds `session`'s slot for `resource`."""
    clash = (
        Session.objects.filter(
            status__in=LIVE_SESSION_STATUSES,
            starts_at__lt=session.ends_at,
            ends_at__gt=session.starts_at,
            **{resource: getattr(session, resource)},
        )
        .exclude(pk=session.pk)
        .first()
    )
    what = session.practitioner if resource == "practitioner" else session.room
    # In the clashing session's local time, as the person booking reads the calendar.
    return SlotTaken(
        f"{what} already has a session from {clash.local_span_text()}."
        if clash
        else f"{what} is already booked at that time.",
        clashing_session_id=str(clash.pk) if clash else "",
        resource=resource,
    )


def names_the_clash(service: Callable[P, R]) -> Callable[P, R]:
    """Run `service` (a transaction); when a slot it wanted was taken, raise SlotTaken naming the session
    that holds it.

    Wrapped around the service's transaction, not inside it: the refused write
    aborted the transaction, and the clash can be read only once it rolled
    back (to the service's own savepoint when a caller's transaction is
    open). The clashing session was committed before the constraint refused
    ours, so it is there to read.
    """

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except _DoubleBooked as refused:
            raise _slot_taken(refused.session, refused.resource) from refused.__cause__

    return run


def _record_overrides(session: Session, used: list[UsedOverride]) -> list[RuleOverride]:
    """Store each refusal set aside, as the decision of the practitioner who made it; return the rows."""
    recorded = []
    for override in used:
        recorded.append(
            RuleOverride.objects.create(
                session=session,
                rule=override.decision.rule,
                reason=override.reason,
                practitioner=override.practitioner,
                rule_message=override.decision.reason,
            )
        )
        if override.decided_ahead is not None:
            override.decided_ahead.used_by = session
            override.decided_ahead.save(update_fields=["used_by"])
    return recorded


def _rows_in_hand(instance: Model, relation: str, rows: list[Any]) -> None:
    """Give `instance` the rows of its reverse relation `relation`, known without reading them.

    As `prefetch_related` leaves them (the same three assignments), so
    `instance.<relation>.all()` returns `rows` without a query; the
    prefetch machinery itself costs more than a query here.
    """
    queryset: Any = getattr(instance, relation).get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    known: Any = instance
    if not hasattr(known, "_prefetched_objects_cache"):
        known._prefetched_objects_cache = {}
    known._prefetched_objects_cache[relation] = queryset


def _save_change(session: Session, **fields: Any) -> None:
    """Set `fields` on a session whose change is decided, raise its sequence and save it.

    The sequence rises on every change, for calendar feeds (iCalendar
    SEQUENCE) and ETags. Saving a live session may meet the double-booking
    constraints, hence SlotTaken.
    """
    for name, value in fields.items():
        setattr(session, name, value)
    session.sequence += 1
    _save_or_slot_taken(session)


def acting_practitioner(actor: Actor) -> Practitioner | None:
    """The practitioner the acting person is, if any: never an API key, never the system."""
    if actor is None or getattr(actor, "pk", None) is None:
        return None
    return Practitioner.objects.filter(user_id=actor.pk, is_active=True).first()


def _check_may_book_for(actor: Actor, practitioner: Practitioner, *, moving: Session | None = None) -> None:
    """The front desk and booking software book (move, cancel) for any practitioner; a practitioner only
    for themself.

    So "treats this patient" cannot be manufactured: a practitioner cannot
    move a colleague's session to themself.
    """
    if actor is None or actor.has_perm("treatments.book_for_any_practitioner"):
        return
    own = acting_practitioner(actor)
    if own is None or practitioner.pk != own.pk or (moving is not None and moving.practitioner_id != own.pk):
        raise NotPermitted(
            "A practitioner books and moves only their own sessions; the front desk books for colleagues.",
            field="practitioner",
        )


def _decided_ahead(course: Course) -> list[CourseOverride]:
    return list(CourseOverride.objects.filter(course=course, used_by__isnull=True).select_related("practitioner"))


def _enforce(
    decisions: list[rules.Decision], *, course: Course, overrides: Sequence[Override], actor: Actor
) -> list[UsedOverride]:
    """`evaluation.enforce`, reading who decides and what was decided ahead only when it can matter:
    when overrides are given, or a rule refused."""
    refused = any(not decision.allowed for decision in decisions)
    return enforce(
        decisions,
        overrides=overrides,
        decided_by=acting_practitioner(actor) if overrides or refused else None,
        decided_ahead=_decided_ahead(course) if refused else (),
    )


def _evaluate(
    *,
    course: Course,
    kind: str,
    location: Location,
    starts_at: datetime,
    duration: timedelta,
    exclude: Session | None,
    sessions: PatientSessions,
) -> tuple[datetime, list[rules.Decision]]:
    try:
        ends_at = starts_at + duration
        return ends_at, evaluate_booking(
            course=course,
            kind=kind,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            exclude=exclude,
            sessions=sessions,
        )
    except OverflowError as exc:  # day arithmetic past year 9999: bad input, not a crash
        raise ValidationError({"starts_at": BEYOND_THE_CALENDAR}) from exc


@records_actor
@names_the_clash
@transaction.atomic
def session_book(
    *,
    course: Course,
    practitioner: Practitioner,
    room: Room,
    starts_at: datetime,
    actor: Actor,
    overrides: Sequence[Override] = (),
) -> Session:
    """Book the next session of `course`; raise RuleViolation, SlotTaken, NotPermitted or ValidationError.

    A course in maintenance books maintenance sessions, spaced by the
    maintenance window; otherwise a course session, within the planned count.
    `overrides` are the acting practitioner's own decisions; a rule may also
    be set aside by a decision a practitioner recorded on the course ahead.

    `course` is read afresh (and locked) here, so only its id matters; an id
    with no course is a ValidationError on `course`. The session comes back
    with its course (protocol, patient, location), its rule overrides, its
    product uses (none yet) and whether the patient's treatment consent is in
    force (`treatment_consent_in_force`) in hand: a door that shows it reads
    nothing more.
    """
    # The course row and its patient's are locked (bookings of one patient's courses are judged one at a
    # time: the conflict rule spans courses); the protocol, its category and the location are only read,
    # and whether the practitioner works at the room's location is read in the same query.
    try:
        course = (
            Course.objects.select_for_update(of=("self", "patient"))
            .select_related("protocol__category", "patient", "location")
            .annotate(
                practitioner_works_there=works_at(practitioner, room.location_id),
                # For whoever shows the booked session (treatment_consent_needed), read with the course.
                treatment_consent_in_force=treatment_consent_in_force(),
            )
            .get(pk=course.pk)
        )
    except Course.DoesNotExist:
        raise ValidationError({"course": ValidationError("There is no such course.", code="does_not_exist")}) from None
    if course.status in (CourseStatus.CANCELLED, CourseStatus.COMPLETED):
        raise InvalidState(f"A {course.get_status_display().lower()} course takes no more sessions.", field="course")
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "A session cannot be booked in the past."})
    _check_may_book_for(actor, practitioner)
    annotated: Any = course
    check_resources(course=course, practitioner=practitioner, room=room, works_there=annotated.practitioner_works_there)
    kind = SessionKind.MAINTENANCE if course.status == CourseStatus.MAINTENANCE else SessionKind.COURSE
    sessions = patient_sessions(course)
    ends_at, decisions = _evaluate(
        course=course,
        kind=kind,
        location=room.location,
        starts_at=starts_at,
        duration=timedelta(minutes=course.protocol.session_duration_minutes),
        exclude=None,
        sessions=sessions,
    )
    used = _enforce(decisions, course=course, overrides=overrides, actor=actor)

    session = Session(
        course=course,
        kind=kind,
        practitioner=practitioner,
        room=room,
        location=room.location,
        starts_at=starts_at,
        ends_at=ends_at,
        booked_late=any("late" in d.flags for d in decisions),
    )
    _save_or_slot_taken(session)  # the first version: sequence 0
    shown: Any = session
    shown.treatment_consent_in_force = annotated.treatment_consent_in_force
    _rows_in_hand(session, "overrides", _record_overrides(session, used))
    _rows_in_hand(session, "product_uses", [])  # recorded on completion only
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
        course.save(update_fields=["status", "updated_at"])
    announce_session_change(
        session=session, change=SessionChange.BOOKED, actor=actor, sessions_now=[*sessions.of_course, session]
    )
    return session


def _lock_session(session: Session) -> Session:
    """Lock the session's course, then the session, always in that order (no deadlocks).

    The session comes with what its rules, its follow-up state and its messages read: the course with its
    protocol, patient and location, and the session's location, room and practitioner.
    """
    Course.objects.select_for_update().filter(pk=session.course_id).first()
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related(
            "course__protocol__category",
            "course__patient",
            "course__location",
            "location",
            "room__location",
            "practitioner",
        )
        .get(pk=session.pk)
    )


def _require_booked(session: Session, doing: str) -> None:
    if session.status != SessionStatus.BOOKED:
        raise InvalidState(
            f"Only a booked session can be {doing}; this one is {session.get_status_display().lower()}.",
            field="status",
        )


@records_actor
@names_the_clash
@transaction.atomic
def session_reschedule(
    *,
    session: Session,
    starts_at: datetime,
    actor: Actor,
    practitioner: Practitioner | None = None,
    room: Room | None = None,
    overrides: Sequence[Override] = (),
) -> Session:
    """Move a booked session (and optionally change practitioner or room), re-checking every rule."""
    session = _lock_session(session)
    _require_booked(session, "rescheduled")
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "A session cannot be moved into the past."})
    practitioner = practitioner or session.practitioner
    _check_may_book_for(actor, practitioner, moving=session)
    room = room or session.room
    check_resources(course=session.course, practitioner=practitioner, room=room)
    sessions = patient_sessions(session.course)
    ends_at, decisions = _evaluate(
        course=session.course,
        kind=session.kind,
        location=room.location,
        starts_at=starts_at,
        duration=session.ends_at - session.starts_at,
        exclude=session,
        sessions=sessions,
    )
    used = _enforce(decisions, course=session.course, overrides=overrides, actor=actor)
    _save_change(
        session,
        starts_at=starts_at,
        ends_at=ends_at,
        practitioner=practitioner,
        room=room,
        location=room.location,
        booked_late=any("late" in d.flags for d in decisions),
        # The patient confirmed the old time, not the new one.
        confirmed_at=session.confirmed_at if starts_at == session.starts_at else None,
    )
    _record_overrides(session, used)
    sessions_now = [*(s for s in sessions.of_course if s.pk != session.pk), session]
    announce_session_change(session=session, change=SessionChange.RESCHEDULED, actor=actor, sessions_now=sessions_now)
    return session


@records_actor
@transaction.atomic
def session_cancel(*, session: Session, reason: str, actor: Actor, note: str = "") -> Session:
    """Cancel a booked session with a reason code; it no longer holds its slot."""
    locked = _lock_session(session)
    _check_may_book_for(actor, locked.practitioner, moving=locked)
    return _cancel(locked, reason=reason, note=note, actor=actor)


def _cancel(session: Session, *, reason: str, note: str, actor: Actor) -> Session:
    """Cancel a locked session, whoever's it is: the caller checked the actor may."""
    if reason not in CancelReason.values:
        raise ValidationError({"reason": f"Unknown cancellation reason {reason!r}."})
    _require_booked(session, "cancelled")
    _save_change(
        session,
        status=SessionStatus.CANCELLED,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
        cancel_note=note,
    )
    announce_session_change(session=session, change=SessionChange.CANCELLED, actor=actor)
    return session


@records_actor
@transaction.atomic
def session_mark_no_show(*, session: Session, actor: Actor) -> Session:
    """Record that the patient did not come. Only once the session has started."""
    session = _lock_session(session)
    _check_may_book_for(actor, session.practitioner, moving=session)
    _require_booked(session, "marked as a no-show")
    now = timezone.now()
    if now < session.starts_at:
        raise ValidationError({"status": "A session that has not started yet cannot be a no-show."})
    _save_change(session, status=SessionStatus.NO_SHOW, no_show_at=now)
    announce_session_change(session=session, change=SessionChange.NO_SHOW, actor=actor)
    return session


def _require_its_day(session: Session, now: datetime, *, field: str, doing: str) -> None:
    """ValidationError on `field` unless `now` is the session's local day, where it takes place."""
    day = session.location.today(now=session.starts_at)
    if session.location.today(now=now) != day:
        raise ValidationError({field: f"{doing} on the day of the session ({date_text(day)})."})


@records_actor
@transaction.atomic
def session_check_in(*, session: Session, actor: Actor) -> Session:
    """Record that the patient has arrived for a booked session, on the session's local day.

    Checking in twice keeps the first arrival. Nothing else changes: the
    session is still booked until it is completed or missed.
    """
    session = _lock_session(session)
    _check_may_book_for(actor, session.practitioner, moving=session)
    _require_booked(session, "checked in")
    now = timezone.now()
    _require_its_day(session, now, field="arrived_at", doing="A patient checks in")
    if session.arrived_at is None:
        _save_change(session, arrived_at=now)
    return session


@records_actor
@transaction.atomic
def session_start_treatment(*, session: Session, actor: Actor) -> Session:
    """Record that the patient has gone in for treatment, on the session's day (checked in at the same
    moment if the desk had not). Starting twice keeps the first start."""
    session = _lock_session(session)
    _check_may_book_for(actor, session.practitioner, moving=session)
    _require_booked(session, "started")
    now = timezone.now()
    _require_its_day(session, now, field="treatment_started_at", doing="A treatment starts")
    if session.treatment_started_at is None:
        _save_change(session, treatment_started_at=now, arrived_at=session.arrived_at or now)
    return session


@records_actor
@transaction.atomic
def session_confirm(*, session: Session, actor: Actor) -> Session:
    """Record that the patient confirmed they will come to a booked session that has not started yet.

    The patient themself (a PatientActor: a "C" texted back from the number on
    their record) confirms only their own sessions; staff confirm for whom they
    may book. Confirming twice keeps the first confirmation. Nothing else
    changes: the session is still booked. A cancelled, missed or completed
    session is InvalidState; one that has started is a ValidationError.
    """
    session = _lock_session(session)
    if is_patient(actor):
        if actor.patient_id != session.course.patient_id:
            raise NotPermitted("A patient confirms only their own appointments.", field="session")
    else:
        _check_may_book_for(actor, session.practitioner, moving=session)
    _require_booked(session, "confirmed")
    now = timezone.now()
    if session.starts_at <= now:
        raise ValidationError({"confirmed_at": "A session that has already started cannot be confirmed."})
    if session.confirmed_at is None:
        _save_change(session, confirmed_at=now)
    return session


@records_actor
@transaction.atomic
def session_complete(
    *,
    session: Session,
    actor: Actor,
    notes: str = "",
    treated_areas: Sequence[str] = (),
    product_uses: Sequence[ProductUse] = (),
    completed_at: datetime | None = None,
) -> Session:
    """Record a session as done, with its notes, areas and product lots.

    Refuses an expired lot. Completing the course's last planned session
    moves the course to maintenance and opens its maintenance window;
    completing a maintenance session moves the window on. The course has
    advanced before the completion is announced, so the aftercare written in
    reaction already knows what comes next.
    """
    session = _lock_session(session)
    _require_booked(session, "completed")
    completer = acting_practitioner(actor)
    if completer is None or completer.pk != session.practitioner_id:
        raise NotPermitted(
            f"A session is completed by the practitioner who gave it ({session.practitioner}), as themself; "
            "if someone else treated the patient, move the session to them first.",
            field="practitioner",
        )
    now = timezone.now()
    completed_at = completed_at or now
    if completed_at > now:
        raise ValidationError({"completed_at": "A session cannot be completed in the future."})
    if completed_at < session.starts_at:
        raise ValidationError({"completed_at": "A session cannot be completed before it starts."})
    if len(set(treated_areas)) != len(treated_areas):
        raise ValidationError({"treated_areas": "Each treated area may appear once."})
    used_on = session.location.today(now=completed_at)
    lots_seen = set()
    for use in product_uses:
        if use.quantity <= 0:
            raise ValidationError({"product_uses": "Each quantity must be more than zero."})
        if use.lot.pk in lots_seen:
            raise ValidationError({"product_uses": f"Lot {use.lot.lot_number} is listed twice."})
        lots_seen.add(use.lot.pk)
        decision = rules.check_lot_usable(lot_number=use.lot.lot_number, expires_on=use.lot.expires_on, used_on=used_on)
        if not decision.allowed:
            raise RuleViolation(decision.reason, rule=decision.rule, field="product_uses")
    protocol = session.course.protocol
    consent = rules.check_treatment_consent(
        consented=has_treatment_consent(course=session.course, at=session.starts_at)
        and has_treatment_consent(course=session.course, at=completed_at),
        form=protocol.treatment_consent_form,
        version=protocol.treatment_consent_version,
    )
    if not consent.allowed:
        raise RuleViolation(consent.reason, rule=consent.rule, field=None)

    session.status = SessionStatus.COMPLETED
    session.completed_at = completed_at
    session.notes = notes
    session.treated_areas = list(treated_areas)
    session.full_clean(exclude=["course", "practitioner", "room", "location"], validate_constraints=False)
    _save_change(session)
    SessionProductUse.objects.bulk_create(
        SessionProductUse(session=session, lot=use.lot, quantity=use.quantity) for use in product_uses
    )
    sessions_now = [*(s for s in sessions_of_course(session.course) if s.pk != session.pk), session]
    _advance_course(session, sessions_now)
    announce_session_change(session=session, change=SessionChange.COMPLETED, actor=actor, sessions_now=sessions_now)
    return session


def _advance_course(session: Session, sessions_now: Sequence[Session]) -> None:
    """After a completion: an active course whose planned sessions are done, or any
    maintenance session, (re)opens the maintenance window from this session.

    `sessions_now`: every session of the course, this completion included."""
    course = session.course
    protocol = course.protocol
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
    done = followup_from_sessions(course, sessions_now).sessions_done
    if session.kind == SessionKind.MAINTENANCE or done >= course.planned_sessions:
        course.status = CourseStatus.MAINTENANCE
        course.next_maintenance_earliest, course.next_maintenance_latest = rules.followup_window(
            last_anchor=session.spacing_anchor,
            min_days=protocol.maintenance_min_days,
            max_days=protocol.maintenance_max_days,
            zone=session.location.time_zone,
        )
    course.save()


@records_actor
@transaction.atomic
def patient_bookings_cancel(*, patient: Patient, reason: str, note: str, actor: Actor) -> list[Session]:
    """Cancel every booked session of `patient`, whichever practitioner's (erasure, a patient leaving the clinic).

    The caller has checked that the actor may (the erasure permission).
    """
    return [
        _cancel(_lock_session(session), reason=reason, note=note, actor=actor)
        for session in Session.objects.filter(course__patient=patient, status=SessionStatus.BOOKED).order_by("pk")
    ]


# --- products -------------------------------------------------------------------


@records_actor
@transaction.atomic
def product_create(*, actor: Actor, **fields: object) -> Product:
    """Add a product to the catalogue; raise ValidationError naming bad fields."""
    product = Product(**fields)
    product.full_clean()
    product.save()
    return product


@records_actor
@transaction.atomic
def product_lot_create(*, actor: Actor, **fields: object) -> ProductLot:
    """Register a received lot. An already-expired lot may be recorded (for
    traceability of stock on hand) but is refused when a session uses it."""
    lot = ProductLot(**fields)
    lot.full_clean()
    lot.save()
    return lot


@records_actor
@transaction.atomic
def product_update(*, product: Product, actor: Actor, **fields: object) -> Product:
    """Change a product's details; raise ValidationError naming bad fields."""
    for name, value in fields.items():
        setattr(product, name, value)
    product.full_clean()
    product.save()
    return product


@records_actor
@transaction.atomic
def product_lot_update(*, lot: ProductLot, actor: Actor, **fields: object) -> ProductLot:
    """Correct a lot's number or dates (the audit trail keeps what it said before)."""
    if "product" in fields:
        raise ValidationError({"product": "A lot stays with its product; register a new lot instead."})
    for name, value in fields.items():
        setattr(lot, name, value)
    lot.full_clean()
    lot.save()
    return lot


# --- practitioners -------------------------------------------------------------------


def practitioner_calendar_rotate(*, practitioner: Practitioner) -> Practitioner:
    """Give the practitioner a new secret calendar feed URL; the old one stops working."""
    practitioner.calendar_token = new_calendar_token()
    practitioner.save(update_fields=["calendar_token", "updated_at"])
    return practitioner


# --- practitioners' decisions ahead of booking ---------------------------------------


def _require_treating_practitioner(actor: Actor, patient: Patient, doing: str) -> Practitioner:
    """The acting practitioner, if they may decide for this patient (they treat them, or are a clinical admin)."""
    practitioner = acting_practitioner(actor)
    if practitioner is None or not clinical_access(actor).covers(patient.pk):
        raise NotPermitted(
            f"Only a practitioner who treats the patient, or a clinical admin, may {doing}, as themself.",
            field=None,
        )
    return practitioner


@records_actor
@transaction.atomic
def medical_clearance_record(
    *,
    patient: Patient,
    reason: str,
    actor: Actor,
    course: Course | None = None,
    valid_until: date | None = None,
) -> MedicalClearance:
    """A practitioner reviewed the patient's medical flags: treatment may go ahead, for a course or until a date.

    The clearance covers the flags on file now; a flag added later needs a new review.
    """
    practitioner = _require_treating_practitioner(actor, patient, "record a medical review")
    if not reason.strip():
        raise ValidationError({"reason": "Say what was reviewed and why treatment may go ahead."})
    if (course is None) == (valid_until is None):
        raise ValidationError({"course": "Clear the patient for one course, or until a date (not both)."})
    if course is not None and course.patient_id != patient.pk:
        raise ValidationError({"course": "This course belongs to another patient."})
    if valid_until is not None and valid_until < timezone.localdate():
        raise ValidationError({"valid_until": "A clearance cannot end in the past."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not patient.medical_flags:
        raise ValidationError({"patient": "The patient has no medical flags to review."})
    return MedicalClearance.objects.create(
        patient=patient,
        flags_reviewed=list(patient.medical_flags),
        course=course,
        valid_until=valid_until,
        reason=reason.strip(),
        practitioner=practitioner,
    )


@records_actor
@transaction.atomic
def medical_clearance_revoke(*, clearance: MedicalClearance, actor: Actor) -> MedicalClearance:
    """Withdraw a clearance: later bookings need a new review (booked sessions stay booked)."""
    _require_treating_practitioner(actor, clearance.patient, "withdraw a medical review")
    clearance = MedicalClearance.objects.select_for_update().get(pk=clearance.pk)
    if clearance.revoked_at is not None:
        raise InvalidState("This clearance is already withdrawn.", field="revoked_at")
    clearance.revoked_at = timezone.now()
    clearance.save(update_fields=["revoked_at"])
    return clearance


# Decided ahead on a course; the medical review is cleared with a MedicalClearance instead.
ADVANCE_OVERRIDABLE_RULES = frozenset({rules.Rule.SPACING, rules.Rule.CONFLICT})


@records_actor
@transaction.atomic
def course_override_record(*, course: Course, rule: str, reason: str, actor: Actor) -> CourseOverride:
    """A practitioner decides ahead that the course's next booking may go ahead despite `rule`."""
    practitioner = _require_treating_practitioner(actor, course.patient, "set a rule aside")
    if rule not in ADVANCE_OVERRIDABLE_RULES:
        raise ValidationError(
            {"rule": "Only the spacing and conflict rules are set aside ahead; a medical review is a clearance."}
        )
    if not reason.strip():
        raise ValidationError({"reason": "An override needs a reason."})
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.status in (CourseStatus.CANCELLED, CourseStatus.COMPLETED):
        raise InvalidState(f"A {course.get_status_display().lower()} course takes no more sessions.", field="course")
    return CourseOverride.objects.create(course=course, rule=rule, reason=reason.strip(), practitioner=practitioner)
