"""Booking, read and decided: gather what the rules need, run them, say which refusal stands.

Nothing here writes. `treatments.services` calls these inside its locked
transaction before booking or moving a session; a page that wants the
verdict before saving (a booking dialog) may call `evaluate_booking` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, Q

from clinic.errors import NotPermitted, RuleViolation
from treatments import rules
from treatments.models import (
    LIVE_SESSION_STATUSES,
    ConflictRule,
    Course,
    CourseOverride,
    Location,
    MedicalClearance,
    Practitioner,
    Room,
    Session,
    SessionKind,
)


@dataclass(frozen=True)
class Override:
    """A practitioner's reason to go ahead despite an overridable rule."""

    rule: str
    reason: str


@dataclass(frozen=True)
class PatientSessions:
    """What judging a booking reads of the patient's sessions, in one query.

    `of_course`: every session of the course being booked, whatever its
    status (the course's follow-up state is worked out from them too);
    `of_other_courses`: the live sessions of the patient's other courses,
    with their protocol and its category (the conflict rules).
    """

    of_course: list[Session]
    of_other_courses: list[Session]


def patient_sessions(course: Course) -> PatientSessions:
    """The patient's sessions a booking of `course` is judged by, read once (see PatientSessions).

    Read under the course's lock, `of_course` is the course's sessions as
    they are until the booking itself changes them.
    """
    sessions = (
        Session.objects.filter(course__patient_id=course.patient_id)
        .filter(Q(course_id=course.pk) | Q(status__in=LIVE_SESSION_STATUSES))
        .select_related("course__protocol__category")
    )
    of_course: list[Session] = []
    others: list[Session] = []
    for session in sessions:
        (of_course if session.course_id == course.pk else others).append(session)
    return PatientSessions(of_course=of_course, of_other_courses=others)


def evaluate_booking(
    *,
    course: Course,
    kind: str,
    location: Location,
    starts_at: datetime,
    ends_at: datetime,
    exclude: Session | None = None,
    sessions: PatientSessions | None = None,
) -> list[rules.Decision]:
    """Run every booking rule for a session of `course` at [starts_at, ends_at).

    `exclude` is the session being moved, which must not count against itself.

    The inputs are read in a handful of queries: the patient's sessions
    (this course's and the others', one read: `patient_sessions`, passed in
    as `sessions` when the caller has read them), the conflict rules, the
    location's opening hours, and the medical clearances only for a patient
    with medical flags. `course` comes with its protocol (and category) and
    patient.
    """
    protocol = course.protocol
    zone = location.time_zone
    decisions = []
    if sessions is None:
        sessions = patient_sessions(course)
    excluded = exclude.pk if exclude is not None else None
    course_sessions = [s for s in sessions.of_course if s.status in LIVE_SESSION_STATUSES and s.pk != excluded]
    other_sessions = [s for s in sessions.of_other_courses if s.pk != excluded]

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
    medical_flags = course.patient.medical_flags
    decisions.append(
        rules.check_medical_review(
            medical_flags=medical_flags,
            # Without flags there is nothing to clear: no need to read the clearances.
            cleared_flags=cleared_flags(course=course, on=location.today(now=starts_at)) if medical_flags else (),
        )
    )
    return decisions


def cleared_flags(*, course: Course, on: date) -> set[str]:
    """The medical flags that practitioners' clearances cover for a session of `course` on the local date `on`."""
    clearances = MedicalClearance.objects.filter(patient_id=course.patient_id, revoked_at__isnull=True).filter(
        Q(course=course) | Q(valid_until__gte=on)
    )
    return {flag for clearance in clearances for flag in clearance.flags_reviewed}


@dataclass(frozen=True)
class UsedOverride:
    """A refusal set aside: by which practitioner, why, and whether it was decided ahead on the course."""

    decision: rules.Decision
    reason: str
    practitioner: Practitioner
    decided_ahead: CourseOverride | None = None


def check_overrides(overrides: Sequence[Override], *, decided_by: Practitioner | None) -> None:
    """Raise unless `overrides` are well formed and decided by a practitioner (the acting one).

    Setting a rule aside is a clinical decision: the front desk and booking
    software may not, whoever they name.
    """
    for override in overrides:
        if override.rule not in rules.OVERRIDABLE_RULES:
            raise ValidationError({"overrides": f"The {override.rule} rule cannot be overridden."})
        if not override.reason.strip():
            raise ValidationError({"overrides": "An override needs a reason."})
    if overrides and decided_by is None:
        raise NotPermitted(
            "Only a practitioner can override a rule, as themself: ask the treating practitioner to book this "
            "session, or to record the decision on the course beforehand.",
            field="overrides",
        )


def enforce(
    decisions: Sequence[rules.Decision],
    *,
    overrides: Sequence[Override],
    decided_by: Practitioner | None,
    decided_ahead: Sequence[CourseOverride] = (),
) -> list[UsedOverride]:
    """Raise RuleViolation for the first refusal not set aside; return the overrides used.

    A refusal is set aside by an override given now by `decided_by` (the
    acting practitioner), else by one a practitioner decided ahead on the
    course (`decided_ahead`, still unused). Overrides for rules that did not
    refuse are ignored rather than stored, so the record shows only decisions
    that mattered.
    """
    check_overrides(overrides, decided_by=decided_by)
    given_now = {override.rule: override for override in overrides}
    ahead: dict[str, CourseOverride] = {}
    for advance in decided_ahead:
        ahead.setdefault(advance.rule, advance)
    used = []
    for decision in decisions:
        if decision.allowed:
            continue
        if decision.rule not in rules.OVERRIDABLE_RULES:
            raise RuleViolation(decision.reason, rule=decision.rule, earliest_start=decision.earliest_start)
        if decision.rule in given_now and decided_by is not None:
            used.append(UsedOverride(decision, given_now[decision.rule].reason, decided_by))
        elif decision.rule in ahead:
            advance = ahead[decision.rule]
            used.append(UsedOverride(decision, advance.reason, advance.practitioner, decided_ahead=advance))
        else:
            raise RuleViolation(
                decision.reason + " A practitioner may override this with a reason.",
                rule=decision.rule,
                earliest_start=decision.earliest_start,
            )
    return used


def works_at(practitioner: Practitioner, location_id: Any) -> Exists:
    """Whether `practitioner` works at the location, as an expression: read beside another row (the course
    being booked) instead of in a query of its own."""
    return Exists(Location.objects.filter(pk=location_id, practitioners=practitioner.pk))


def check_resources(*, course: Course, practitioner: Practitioner, room: Room, works_there: bool | None = None) -> None:
    """Raise ValidationError unless the practitioner and room are in use, at the course's location.

    `works_there`: whether the practitioner works at the room's location, when
    the caller read it already (`works_at`); otherwise it is read here.
    """
    errors = {}
    if not practitioner.is_active:
        errors["practitioner"] = "This practitioner is not active."
    elif not (works_there if works_there is not None else practitioner.locations.filter(pk=room.location_id).exists()):
        errors["practitioner"] = f"{practitioner} does not work at {room.location}."
    if not room.is_active:
        errors["room"] = "This room is not in use."
    if room.location_id != course.location_id:
        errors["room"] = f"The room is at {room.location}, but the course is followed at {course.location}."
    if errors:
        raise ValidationError(errors)
