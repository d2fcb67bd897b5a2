"""Booking, read and decided: gather what the rules need, run them, say which refusal stands.

Nothing here writes. `treatments.services` calls these inside its locked
transaction before booking or moving a session; a page that wants the
verdict before saving (a booking dialog) may call `evaluate_booking` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError

from clinic.errors import RuleViolation
from treatments import rules
from treatments.models import (
    LIVE_SESSION_STATUSES,
    ConflictRule,
    Course,
    Location,
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


def enforce(
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
        decision_override = by_rule.get(decision.rule)
        if decision_override is None or decision.rule not in rules.OVERRIDABLE_RULES:
            message = decision.reason
            if decision.rule in rules.OVERRIDABLE_RULES:
                message += " A practitioner may override this with a reason."
            raise RuleViolation(message, rule=decision.rule, earliest_start=decision.earliest_start)
        used.append((decision, decision_override))
    return used


def check_resources(*, course: Course, practitioner: Practitioner, room: Room) -> None:
    """Raise ValidationError unless the practitioner and room are in use, at the course's location."""
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
