"""Every change to courses and sessions goes through here.

The admin, the REST API and Celery tasks call these functions, so each rule
in `treatments.rules` holds whichever door a change comes through. Writes to
one course are serialised by locking the course row; double booking across
courses is refused by PostgreSQL's exclusion constraints, which no amount of
concurrency gets past.

Every change to a session ends the same way: `_save_change()` raises its
sequence and saves it, and `treatments.events` announces it to the apps
that react (messages, webhooks), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from clinic.actors import Actor, actor_label, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState, RuleViolation, SlotTaken
from patients.models import Patient
from treatments import rules
from treatments.evaluation import Override, check_resources, enforce, evaluate_booking
from treatments.events import SessionChange, announce_course_cancelled, announce_session_change
from treatments.followup import course_followup
from treatments.models import (
    LIVE_SESSION_STATUSES,
    CancelReason,
    Course,
    CourseStatus,
    Location,
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

__all__ = ["Override", "ProductUse"]  # the value types callers build, re-exported beside the services

BEYOND_THE_CALENDAR = "This start is too far in the future to schedule."

DOUBLE_BOOKING_CONSTRAINTS = {
    "session_no_practitioner_double_booking": "practitioner",
    "session_no_room_double_booking": "room",
}


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
    return Course.objects.create(
        patient=patient, protocol=protocol, location=location, planned_sessions=planned, notes=notes
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


def _save_or_slot_taken(session: Session, *, update_fields: list[str] | None = None) -> None:
    """Save `session`; turn an exclusion-constraint failure into SlotTaken naming the clash."""
    try:
        with transaction.atomic():  # a savepoint, so the caller's transaction survives
            session.save(update_fields=update_fields)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        resource = DOUBLE_BOOKING_CONSTRAINTS.get(constraint or "")
        if resource is None:
            raise
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
        raise SlotTaken(
            f"{what} already has a session from {clash.local_span_text()}."
            if clash
            else f"{what} is already booked at that time.",
            clashing_session_id=str(clash.pk) if clash else "",
            resource=resource,
        ) from exc


def _record_overrides(
    session: Session, used: list[tuple[rules.Decision, Override]], override_by: Practitioner | None
) -> None:
    if not used:
        return
    if override_by is None:
        # enforce() refuses overrides that name no practitioner; reaching here is a programming error.
        raise ValueError("Overrides were used without the practitioner who decided them.")
    for decision, override in used:
        RuleOverride.objects.create(
            session=session,
            rule=decision.rule,
            reason=override.reason,
            practitioner=override_by,
            rule_message=decision.reason,
        )


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


def _overriding_practitioner(actor: Actor, override_by: Practitioner | None) -> Practitioner | None:
    """Who decided the overrides: the practitioner named, else the acting user if a practitioner."""
    if override_by is not None or getattr(actor, "pk", None) is None:
        return override_by
    return Practitioner.objects.filter(user_id=actor.pk).first()


def _evaluate(
    *, course: Course, kind: str, location: Location, starts_at: datetime, duration: timedelta, exclude: Session | None
) -> tuple[datetime, list[rules.Decision]]:
    try:
        ends_at = starts_at + duration
        return ends_at, evaluate_booking(
            course=course, kind=kind, location=location, starts_at=starts_at, ends_at=ends_at, exclude=exclude
        )
    except OverflowError as exc:  # day arithmetic past year 9999: bad input, not a crash
        raise ValidationError({"starts_at": BEYOND_THE_CALENDAR}) from exc


@records_actor
@transaction.atomic
def session_book(
    *,
    course: Course,
    practitioner: Practitioner,
    room: Room,
    starts_at: datetime,
    actor: Actor,
    overrides: Sequence[Override] = (),
    override_by: Practitioner | None = None,
) -> Session:
    """Book the next session of `course`; raise RuleViolation, SlotTaken or ValidationError.

    A course in maintenance books maintenance sessions, spaced by the
    maintenance window; otherwise a course session, within the planned count.
    Overrides are decided by `override_by`, or by the acting practitioner.
    """
    course = Course.objects.select_for_update().select_related("protocol__category", "patient").get(pk=course.pk)
    if course.status in (CourseStatus.CANCELLED, CourseStatus.COMPLETED):
        raise InvalidState(f"A {course.get_status_display().lower()} course takes no more sessions.", field="course")
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "A session cannot be booked in the past."})
    check_resources(course=course, practitioner=practitioner, room=room)
    kind = SessionKind.MAINTENANCE if course.status == CourseStatus.MAINTENANCE else SessionKind.COURSE
    ends_at, decisions = _evaluate(
        course=course,
        kind=kind,
        location=room.location,
        starts_at=starts_at,
        duration=timedelta(minutes=course.protocol.session_duration_minutes),
        exclude=None,
    )
    override_by = _overriding_practitioner(actor, override_by)
    used = enforce(decisions, overrides=overrides, override_by=override_by)

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
    _record_overrides(session, used, override_by)
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
        course.save(update_fields=["status", "updated_at"])
    announce_session_change(session=session, change=SessionChange.BOOKED, actor=actor)
    return session


def _lock_session(session: Session) -> Session:
    """Lock the session's course, then the session, always in that order (no deadlocks)."""
    Course.objects.select_for_update().filter(pk=session.course_id).first()
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("course__protocol__category", "course__patient", "location", "room", "practitioner")
        .get(pk=session.pk)
    )


def _require_booked(session: Session, doing: str) -> None:
    if session.status != SessionStatus.BOOKED:
        raise InvalidState(
            f"Only a booked session can be {doing}; this one is {session.get_status_display().lower()}.",
            field="status",
        )


@records_actor
@transaction.atomic
def session_reschedule(
    *,
    session: Session,
    starts_at: datetime,
    actor: Actor,
    practitioner: Practitioner | None = None,
    room: Room | None = None,
    overrides: Sequence[Override] = (),
    override_by: Practitioner | None = None,
) -> Session:
    """Move a booked session (and optionally change practitioner or room), re-checking every rule."""
    session = _lock_session(session)
    _require_booked(session, "rescheduled")
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "A session cannot be moved into the past."})
    practitioner = practitioner or session.practitioner
    room = room or session.room
    check_resources(course=session.course, practitioner=practitioner, room=room)
    ends_at, decisions = _evaluate(
        course=session.course,
        kind=session.kind,
        location=room.location,
        starts_at=starts_at,
        duration=session.ends_at - session.starts_at,
        exclude=session,
    )
    override_by = _overriding_practitioner(actor, override_by)
    used = enforce(decisions, overrides=overrides, override_by=override_by)
    _save_change(
        session,
        starts_at=starts_at,
        ends_at=ends_at,
        practitioner=practitioner,
        room=room,
        location=room.location,
        booked_late=any("late" in d.flags for d in decisions),
    )
    _record_overrides(session, used, override_by)
    announce_session_change(session=session, change=SessionChange.RESCHEDULED, actor=actor)
    return session


@records_actor
@transaction.atomic
def session_cancel(*, session: Session, reason: str, actor: Actor, note: str = "") -> Session:
    """Cancel a booked session with a reason code; it no longer holds its slot."""
    if reason not in CancelReason.values:
        raise ValidationError({"reason": f"Unknown cancellation reason {reason!r}."})
    session = _lock_session(session)
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
    _require_booked(session, "marked as a no-show")
    now = timezone.now()
    if now < session.starts_at:
        raise ValidationError({"status": "A session that has not started yet cannot be a no-show."})
    _save_change(session, status=SessionStatus.NO_SHOW, no_show_at=now)
    announce_session_change(session=session, change=SessionChange.NO_SHOW, actor=actor)
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

    session.status = SessionStatus.COMPLETED
    session.completed_at = completed_at
    session.notes = notes
    session.treated_areas = list(treated_areas)
    session.full_clean(exclude=["course", "practitioner", "room", "location"], validate_constraints=False)
    _save_change(session)
    SessionProductUse.objects.bulk_create(
        SessionProductUse(session=session, lot=use.lot, quantity=use.quantity) for use in product_uses
    )
    _advance_course(session)
    announce_session_change(session=session, change=SessionChange.COMPLETED, actor=actor)
    return session


def _advance_course(session: Session) -> None:
    """After a completion: an active course whose planned sessions are done, or any
    maintenance session, (re)opens the maintenance window from this session."""
    course = session.course
    protocol = course.protocol
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
    if session.kind == SessionKind.MAINTENANCE or course_followup(course).sessions_done >= course.planned_sessions:
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
    """Cancel every booked session of `patient` (erasure, a patient leaving the clinic)."""
    return [
        session_cancel(session=session, reason=reason, note=note, actor=actor)
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
