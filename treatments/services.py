"""Every change to courses and sessions goes through here.

The admin, the REST API and Celery tasks call these functions, so each rule
in `treatments.rules` holds whichever door a change comes through. Writes to
one course are serialised by locking the course row; double booking across
courses is refused by PostgreSQL's exclusion constraints, which no amount of
concurrency gets past.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from aftercare import services as aftercare
from clinic.actors import staff_user
from clinic.audit import current_actor_label
from clinic.errors import InvalidState, RuleViolation, SlotTaken
from integrations.models import WebhookEvent
from integrations.webhooks import webhook_emit
from patients.models import Patient
from treatments import rules
from treatments.models import (
    LIVE_SESSION_STATUSES,
    CancelReason,
    ConflictRule,
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
)

BEYOND_THE_CALENDAR = "This start is too far in the future to schedule."

DOUBLE_BOOKING_CONSTRAINTS = {
    "session_no_practitioner_double_booking": "practitioner",
    "session_no_room_double_booking": "room",
}


@dataclass(frozen=True)
class Override:
    """A practitioner's reason to go ahead despite an overridable rule."""

    rule: str
    reason: str


@dataclass(frozen=True)
class ProductUse:
    lot: ProductLot
    quantity: Decimal


# --- courses ------------------------------------------------------------------


@transaction.atomic
def course_create(
    *,
    patient: Patient,
    protocol: Protocol,
    location: Location,
    actor: AbstractBaseUser | None,
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


@transaction.atomic
def course_cancel(*, course: Course, reason: str, actor: AbstractBaseUser | None) -> Course:
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
        custom_historical_attrs={"history_actor": current_actor_label()},
    )
    cancelled = [session.pk for session in sessions]
    aftercare.on_course_cancelled(course=course)
    for session_id in cancelled:
        webhook_emit(event_type=WebhookEvent.SESSION_CANCELLED, object_id=session_id, occurred_at=now)
    course.status = CourseStatus.CANCELLED
    course.cancelled_at = now
    course.cancel_reason = reason
    course.next_maintenance_earliest = course.next_maintenance_latest = None
    course.save()
    return course


# --- booking rules, gathered ------------------------------------------------------


def _live_sessions(course: Course, exclude: Session | None) -> list[Session]:
    sessions = Session.objects.filter(course=course, status__in=LIVE_SESSION_STATUSES)
    if exclude is not None:
        sessions = sessions.exclude(pk=exclude.pk)
    return list(sessions)


def evaluate_booking(
    *,
    course: Course,
    kind: str,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    exclude: Session | None = None,
) -> list[rules.Decision]:
    """Run every booking rule for a session of `course` at [starts_at, ends_at).

    `exclude` is the session being moved, which must not count against itself.
    """
    protocol = course.protocol
    zone = location.time_zone
    decisions = []
    course_sessions = _live_sessions(course, exclude)

    if kind == SessionKind.COURSE:
        decisions.append(
            rules.check_course_capacity(
                planned=course.planned_sessions,
                live_course_sessions=sum(1 for s in course_sessions if s.kind == SessionKind.COURSE),
            )
        )
        min_days, max_days = protocol.min_spacing_days, protocol.max_spacing_days
    else:
        min_days, max_days = protocol.maintenance_min_days, protocol.maintenance_max_days
    decisions.append(
        rules.check_spacing(
            start=starts_at,
            neighbours=[
                rules.Neighbour(anchor=s.spacing_anchor, label=f"the {s.get_status_display().lower()} session")
                for s in course_sessions
            ],
            min_days=min_days,
            max_days=max_days,
            zone=zone,
        )
    )

    other_sessions = (
        Session.objects.filter(course__patient_id=course.patient_id, status__in=LIVE_SESSION_STATUSES)
        .exclude(course=course)
        .select_related("course__protocol__category")
    )
    conflict_rules = ConflictRule.objects.filter(protocol=protocol) | ConflictRule.objects.filter(
        blocked_category_id=protocol.category_id
    )
    decisions.append(
        rules.check_conflicts(
            start=starts_at,
            protocol_id=protocol.pk,
            category=protocol.category.code,
            others=[
                rules.OtherTreatment(
                    anchor=s.spacing_anchor,
                    protocol_id=s.course.protocol_id,
                    category=s.course.protocol.category.code,
                    label=f"a {s.course.protocol.name} session",
                )
                for s in other_sessions
            ],
            rules=[
                rules.ConflictRuleSpec(
                    after_protocol_id=rule.protocol_id, blocked_category=rule.blocked_category.code, days=rule.days
                )
                for rule in conflict_rules.select_related("blocked_category")
            ],
            zone=zone,
        )
    )
    decisions.append(
        rules.check_opening_hours(
            start=starts_at,
            end=ends_at,
            zone=zone,
            intervals=[
                rules.OpeningInterval(weekday=h.weekday, opens_at=h.opens_at, closes_at=h.closes_at)
                for h in location.opening_hours.all()
            ],
        )
    )
    decisions.append(rules.check_medical_review(medical_flags=course.patient.medical_flags))
    return decisions


def _enforce(
    decisions: Sequence[rules.Decision],
    *,
    overrides: Sequence[Override],
    override_by: Practitioner | None,
) -> list[tuple[rules.Decision, Override]]:
    """Raise RuleViolation for the first refusal not overridden; return the overrides used.

    An override names an overridable rule, gives a reason and a practitioner.
    Overrides for rules that did not refuse are ignored rather than stored, so
    the record shows only decisions that mattered.
    """
    by_rule = {override.rule: override for override in overrides}
    for override in overrides:
        if override.rule not in rules.OVERRIDABLE_RULES:
            raise ValidationError({"overrides": f"The {override.rule} rule cannot be overridden."})
        if not override.reason.strip():
            raise ValidationError({"overrides": "An override needs a reason."})
    if overrides and override_by is None:
        raise ValidationError({"override_by": "An override must name the practitioner who decided it."})
    used = []
    for decision in decisions:
        if decision.allowed:
            continue
        override = by_rule.get(decision.rule)
        if override is None or decision.rule not in rules.OVERRIDABLE_RULES:
            message = decision.reason
            if decision.rule in rules.OVERRIDABLE_RULES:
                message += " A practitioner may override this with a reason."
            raise RuleViolation(message, rule=decision.rule, earliest_start=decision.earliest_start)
        used.append((decision, override))
    return used


def _check_resources(*, course: Course, practitioner: Practitioner, room: Room) -> None:
    errors = {}
    if not practitioner.is_active:
        errors["practitioner"] = "This practitioner is not active."
    elif not practitioner.locations.filter(pk=room.location_id).exists():
        errors["practitioner"] = f"{practitioner} does not work at {room.location}."
    if not room.is_active:
        errors["room"] = "This room is not in use."
    if room.location_id != course.location_id:
        errors["room"] = f"The room is at {room.location}, but the course is followed at {course.location}."
    if errors:
        raise ValidationError(errors)


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
        raise SlotTaken(
            f"{what} already has a session from {clash.starts_at:%Y-%m-%d %H:%M} to {clash.ends_at:%H:%M} UTC."
            if clash
            else f"{what} is already booked at that time.",
            clashing_session_id=str(clash.pk) if clash else "",
            resource=resource,
        ) from exc


def _record_overrides(
    session: Session, used: list[tuple[rules.Decision, Override]], override_by: Practitioner | None
) -> None:
    for decision, override in used:
        RuleOverride.objects.create(
            session=session,
            rule=decision.rule,
            reason=override.reason,
            practitioner=override_by,
            rule_message=decision.reason,
        )


# --- sessions -------------------------------------------------------------------


@transaction.atomic
def session_book(
    *,
    course: Course,
    practitioner: Practitioner,
    room: Room,
    starts_at: datetime,
    actor: AbstractBaseUser | None,
    overrides: Sequence[Override] = (),
    override_by: Practitioner | None = None,
) -> Session:
    """Book the next session of `course`; raise RuleViolation, SlotTaken or ValidationError.

    A course in maintenance books maintenance sessions, spaced by the
    maintenance window; otherwise a course session, within the planned count.
    """
    course = Course.objects.select_for_update().select_related("protocol__category", "patient").get(pk=course.pk)
    if course.status in (CourseStatus.CANCELLED, CourseStatus.COMPLETED):
        raise InvalidState(f"A {course.get_status_display().lower()} course takes no more sessions.", field="course")
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "A session cannot be booked in the past."})
    _check_resources(course=course, practitioner=practitioner, room=room)
    kind = SessionKind.MAINTENANCE if course.status == CourseStatus.MAINTENANCE else SessionKind.COURSE
    try:
        ends_at = starts_at + timedelta(minutes=course.protocol.session_duration_minutes)
        decisions = evaluate_booking(
            course=course, kind=kind, location=room.location, starts_at=starts_at, ends_at=ends_at
        )
    except OverflowError as exc:  # day arithmetic past year 9999: bad input, not a crash
        raise ValidationError({"starts_at": BEYOND_THE_CALENDAR}) from exc
    used = _enforce(decisions, overrides=overrides, override_by=override_by)

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
    _save_or_slot_taken(session)
    _record_overrides(session, used, override_by)
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
        course.save(update_fields=["status", "updated_at"])
    aftercare.on_session_booked(session=session)
    webhook_emit(event_type=WebhookEvent.SESSION_BOOKED, object_id=session.pk)
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


@transaction.atomic
def session_reschedule(
    *,
    session: Session,
    starts_at: datetime,
    actor: AbstractBaseUser | None,
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
    _check_resources(course=session.course, practitioner=practitioner, room=room)
    duration = session.ends_at - session.starts_at
    try:
        ends_at = starts_at + duration
        decisions = evaluate_booking(
            course=session.course,
            kind=session.kind,
            location=room.location,
            starts_at=starts_at,
            ends_at=ends_at,
            exclude=session,
        )
    except OverflowError as exc:  # day arithmetic past year 9999: bad input, not a crash
        raise ValidationError({"starts_at": BEYOND_THE_CALENDAR}) from exc
    used = _enforce(decisions, overrides=overrides, override_by=override_by)
    session.starts_at, session.ends_at = starts_at, ends_at
    session.practitioner, session.room, session.location = practitioner, room, room.location
    session.booked_late = any("late" in d.flags for d in decisions)
    session.sequence += 1
    _save_or_slot_taken(session)
    _record_overrides(session, used, override_by)
    aftercare.on_session_rescheduled(session=session)
    webhook_emit(event_type=WebhookEvent.SESSION_RESCHEDULED, object_id=session.pk)
    return session


@transaction.atomic
def session_cancel(*, session: Session, reason: str, actor: AbstractBaseUser | None, note: str = "") -> Session:
    """Cancel a booked session with a reason code; it no longer holds its slot."""
    if reason not in CancelReason.values:
        raise ValidationError({"reason": f"Unknown cancellation reason {reason!r}."})
    session = _lock_session(session)
    _require_booked(session, "cancelled")
    session.status = SessionStatus.CANCELLED
    session.cancelled_at = timezone.now()
    session.cancel_reason = reason
    session.cancel_note = note
    session.sequence += 1
    session.save()
    aftercare.on_session_cancelled(session=session)
    webhook_emit(event_type=WebhookEvent.SESSION_CANCELLED, object_id=session.pk)
    return session


@transaction.atomic
def session_mark_no_show(*, session: Session, actor: AbstractBaseUser | None) -> Session:
    """Record that the patient did not come. Only once the session has started."""
    session = _lock_session(session)
    _require_booked(session, "marked as a no-show")
    now = timezone.now()
    if now < session.starts_at:
        raise ValidationError({"status": "A session that has not started yet cannot be a no-show."})
    session.status = SessionStatus.NO_SHOW
    session.no_show_at = now
    session.sequence += 1
    session.save()
    aftercare.on_session_cancelled(session=session)
    webhook_emit(event_type=WebhookEvent.SESSION_NO_SHOW, object_id=session.pk)
    return session


@transaction.atomic
def session_complete(
    *,
    session: Session,
    actor: AbstractBaseUser | None,
    notes: str = "",
    treated_areas: Sequence[str] = (),
    product_uses: Sequence[ProductUse] = (),
    completed_at: datetime | None = None,
) -> Session:
    """Record a session as done, with its notes, areas and product lots.

    Refuses an expired lot. Completing the course's last planned session
    moves the course to maintenance and opens its maintenance window;
    completing a maintenance session moves the window on.
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
    zone = session.location.time_zone
    used_on = completed_at.astimezone(zone).date()
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
    session.sequence += 1
    session.full_clean(exclude=["course", "practitioner", "room", "location"], validate_constraints=False)
    session.save()
    SessionProductUse.objects.bulk_create(
        SessionProductUse(session=session, lot=use.lot, quantity=use.quantity) for use in product_uses
    )
    _advance_course(session)
    # In this transaction: the aftercare messages exist exactly when the completion does.
    aftercare.schedule_session_aftercare(session=session)
    webhook_emit(event_type=WebhookEvent.SESSION_COMPLETED, object_id=session.pk)
    return session


def _advance_course(session: Session) -> None:
    course = session.course
    protocol = course.protocol
    zone = session.location.time_zone
    completed_course_sessions = Session.objects.filter(
        course=course, kind=SessionKind.COURSE, status=SessionStatus.COMPLETED
    ).count()
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
    if session.kind == SessionKind.MAINTENANCE or completed_course_sessions >= course.planned_sessions:
        course.status = CourseStatus.MAINTENANCE
        course.next_maintenance_earliest, course.next_maintenance_latest = rules.followup_window(
            last_anchor=session.completed_at,
            min_days=protocol.maintenance_min_days,
            max_days=protocol.maintenance_max_days,
            zone=zone,
        )
    course.save()


# --- products -------------------------------------------------------------------


@transaction.atomic
def product_create(*, actor: AbstractBaseUser | None, **fields: object) -> Product:
    product = Product(**fields)
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_lot_create(*, actor: AbstractBaseUser | None, **fields: object) -> ProductLot:
    """Register a received lot. An already-expired lot may be recorded (for
    traceability of stock on hand) but is refused when a session uses it."""
    lot = ProductLot(**fields)
    lot.full_clean()
    lot.save()
    return lot
