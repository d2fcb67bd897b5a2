"""Scheduling rules, as pure functions.

Each rule takes plain values (no database) and returns a `Decision`: whether
the thing is allowed, which rule spoke, a sentence a receptionist can read,
and where it helps, the earliest start that would be allowed. Services gather
the inputs, call these, and refuse or record what they decide.

Day counts are calendar days in the location's time zone: "14 days after a
10:00 session" is 10:00 local fourteen days later, whether or not the clocks
changed in between. That is what a clinic means by "two weeks later".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Rule(StrEnum):
    SESSION_COUNT = "session_count"
    SPACING = "spacing"
    CONFLICT = "conflict"
    OPENING_HOURS = "opening_hours"
    MEDICAL_REVIEW = "medical_review"
    LOT_EXPIRED = "lot_expired"
    TREATMENT_CONSENT = "treatment_consent"


# Rules a practitioner may override with a recorded reason. Counting,
# opening hours and expired products are facts, not clinical judgement.
OVERRIDABLE_RULES = frozenset({Rule.SPACING, Rule.CONFLICT, Rule.MEDICAL_REVIEW})


@dataclass(frozen=True)
class Decision:
    """The outcome of one rule.

    `allowed` False means refuse (unless the rule is overridable and an
    override was given). `flags` carry allowed-but-notable facts, such as a
    session booked after the spacing window closed (`late`).
    """

    rule: Rule
    allowed: bool
    reason: str = ""
    earliest_start: datetime | None = None
    flags: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def ok(cls, rule: Rule, *, flags: Iterable[str] = (), reason: str = "") -> Decision:
        return cls(rule=rule, allowed=True, reason=reason, flags=frozenset(flags))

    @classmethod
    def refuse(cls, rule: Rule, reason: str, *, earliest_start: datetime | None = None) -> Decision:
        return cls(rule=rule, allowed=False, reason=reason, earliest_start=earliest_start)


def day_text(day: date) -> str:
    """A date as people here read it, e.g. "Tue 3 Mar 2026" (the admin's DATE_FORMAT, without Django)."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def moment_text(moment: datetime, zone: ZoneInfo) -> str:
    """An instant on the wall clock of `zone`, e.g. "Tue 3 Mar 2026 10:00"."""
    local = moment.astimezone(zone)
    return f"{day_text(local.date())} {local:%H:%M}"


def add_local_days(instant: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Return `instant` moved by `days` calendar days, keeping its wall-clock time in `zone`.

    The result is in `zone`. A wall time that does not exist on the target day
    (inside a spring-forward gap) is resolved by zoneinfo's fold rules, which
    land it after the gap.
    """
    local = instant.astimezone(zone)
    moved = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)
    # Round-trip through UTC to normalise a non-existent wall time.
    return moved.astimezone(ZoneInfo("UTC")).astimezone(zone)


# --- session count ----------------------------------------------------------


def check_planned_sessions(*, planned: int, minimum: int, maximum: int) -> Decision:
    """A course plans between the protocol's minimum and maximum sessions."""
    if minimum <= planned <= maximum:
        return Decision.ok(Rule.SESSION_COUNT)
    return Decision.refuse(
        Rule.SESSION_COUNT, f"This protocol runs {minimum} to {maximum} sessions; {planned} were planned."
    )


def check_course_capacity(*, planned: int, live_course_sessions: int) -> Decision:
    """Another course session fits only while fewer than `planned` are booked or done."""
    if live_course_sessions < planned:
        return Decision.ok(Rule.SESSION_COUNT)
    return Decision.refuse(
        Rule.SESSION_COUNT,
        f"All {planned} planned sessions of this course are already booked or done; "
        "book a maintenance session once the course is complete.",
    )


# --- spacing ----------------------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    """Another live session of the same course, seen by the spacing rule.

    `anchor` is its completion time when done, else its booked start.
    """

    anchor: datetime
    label: str = "another session"


def check_spacing(
    *,
    start: datetime,
    neighbours: Sequence[Neighbour],
    min_days: int,
    max_days: int | None,
    zone: ZoneInfo,
) -> Decision:
    """A session starts at least `min_days` calendar days after the previous
    session of its course and at least `min_days` before the next one.

    Starting more than `max_days` after the previous one is allowed and
    flagged `late`: the follow-up is overdue, but the patient still comes.
    """
    previous = max((n for n in neighbours if n.anchor <= start), key=lambda n: n.anchor, default=None)
    following = min((n for n in neighbours if n.anchor > start), key=lambda n: n.anchor, default=None)

    if previous is not None:
        earliest = add_local_days(previous.anchor, min_days, zone)
        if start < earliest:
            return Decision.refuse(
                Rule.SPACING,
                f"Sessions of this protocol must be at least {min_days} days apart; "
                f"{previous.label} was on {moment_text(previous.anchor, zone)}.",
                earliest_start=earliest,
            )
    if following is not None:
        latest = add_local_days(following.anchor, -min_days, zone)
        if start > latest:
            return Decision.refuse(
                Rule.SPACING,
                f"Sessions of this protocol must be at least {min_days} days apart; "
                f"{following.label} is on {moment_text(following.anchor, zone)}.",
                earliest_start=None,
            )
    if previous is not None and max_days is not None and start > add_local_days(previous.anchor, max_days, zone):
        return Decision.ok(
            Rule.SPACING,
            flags={"late"},
            reason=f"Later than the {max_days}-day maximum after {previous.label}: the follow-up is overdue.",
        )
    return Decision.ok(Rule.SPACING)


def followup_window(*, last_anchor: datetime, min_days: int, max_days: int, zone: ZoneInfo) -> tuple[date, date]:
    """The local dates (earliest, latest) within which the next session is due."""
    return (
        add_local_days(last_anchor, min_days, zone).date(),
        add_local_days(last_anchor, max_days, zone).date(),
    )


# --- conflicts between treatments -----------------------------------------


@dataclass(frozen=True)
class ConflictRuleSpec:
    """After a session of protocol `after_protocol_id`, category
    `blocked_category` is refused for `days` days."""

    after_protocol_id: object
    blocked_category: str
    days: int


@dataclass(frozen=True)
class OtherTreatment:
    """Another live session of the same patient, in any course."""

    anchor: datetime
    protocol_id: object
    category: str
    label: str = "another treatment"


def conflict_window_end(*, anchor: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The first instant a treatment blocked for `days` days after `anchor` is allowed again.

    The booking rule (`check_conflicts`) and the text that tells the patient
    "peels are fine again" both read it here, so the text never runs ahead of the rule.
    """
    return add_local_days(anchor, days, zone)


def check_conflicts(
    *,
    start: datetime,
    protocol_id: object,
    category: str,
    others: Sequence[OtherTreatment],
    rules: Sequence[ConflictRuleSpec],
    zone: ZoneInfo,
) -> Decision:
    """Refuse a session that falls inside a conflict window, in either direction.

    A peel 10 days after mesotherapy is refused; so is a mesotherapy session
    booked 10 days before a peel already on the books.
    """
    for rule in rules:
        for other in others:
            # The new session is the blocked treatment, after an earlier one.
            if rule.blocked_category == category and other.protocol_id == rule.after_protocol_id:
                window_end = conflict_window_end(anchor=other.anchor, days=rule.days, zone=zone)
                if other.anchor <= start < window_end:
                    return Decision.refuse(
                        Rule.CONFLICT,
                        f"No {category.replace('_', ' ')} within {rule.days} days after "
                        f"{other.label} on {day_text(other.anchor.astimezone(zone).date())}.",
                        earliest_start=window_end,
                    )
            # The new session opens a window that an existing treatment falls in.
            if rule.after_protocol_id == protocol_id and other.category == rule.blocked_category:
                window_end = conflict_window_end(anchor=start, days=rule.days, zone=zone)
                if start <= other.anchor < window_end:
                    on = day_text(other.anchor.astimezone(zone).date())
                    return Decision.refuse(
                        Rule.CONFLICT,
                        f"{other.label[:1].upper()}{other.label[1:]} on {on} "
                        f"would fall within {rule.days} days after this session.",
                    )
    return Decision.ok(Rule.CONFLICT)


# --- opening hours ----------------------------------------------------------


@dataclass(frozen=True)
class OpeningInterval:
    weekday: int  # Monday is 0
    opens_at: time
    closes_at: time


def check_opening_hours(
    *, start: datetime, end: datetime, zone: ZoneInfo, intervals: Sequence[OpeningInterval]
) -> Decision:
    """The whole session lies inside one opening interval of its local day."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() == local_end.date():
        for interval in intervals:
            if (
                interval.weekday == local_start.weekday()
                and interval.opens_at <= local_start.time()
                and local_end.time() <= interval.closes_at
            ):
                return Decision.ok(Rule.OPENING_HOURS)
    day = [i for i in intervals if i.weekday == local_start.weekday()]
    hours = ", ".join(f"{i.opens_at:%H:%M}–{i.closes_at:%H:%M}" for i in sorted(day, key=lambda i: i.opens_at))
    return Decision.refuse(
        Rule.OPENING_HOURS,
        f"{moment_text(local_start, zone)}–{local_end:%H:%M} is outside opening hours ({hours or 'closed that day'}).",
    )


# --- patient safety and products --------------------------------------------


def check_medical_review(*, medical_flags: Sequence[str], cleared_flags: Iterable[str] = ()) -> Decision:
    """A patient with medical flags is treated only once a practitioner reviewed every one of them.

    `cleared_flags` are the flags covered by the practitioners' clearances
    that apply to this session. The reason names no flag: it reaches the
    front desk and booking software, who may know that a review is needed
    but not what is in the clinical record.
    """
    unreviewed = set(medical_flags) - set(cleared_flags)
    if not unreviewed:
        return Decision.ok(Rule.MEDICAL_REVIEW, flags=["cleared"] if medical_flags else [])
    return Decision.refuse(
        Rule.MEDICAL_REVIEW,
        "The patient needs a practitioner's medical review before this treatment: a practitioner may record a "
        "clearance for it.",
    )


def check_treatment_consent(*, consented: bool, form: str, version: str) -> Decision:
    """A session is completed only for a patient who consented to the treatment's current form beforehand.

    `consented`: a treatment consent to `form`, version `version`, given
    before the session began and still in force.
    """
    if consented:
        return Decision.ok(Rule.TREATMENT_CONSENT)
    return Decision.refuse(
        Rule.TREATMENT_CONSENT,
        f"Treatment consent needed: the patient has not consented to the {form} form, version {version}, before "
        "this session. Record their consent before treating them.",
    )


def check_lot_usable(*, lot_number: str, expires_on: date, used_on: date) -> Decision:
    """A product lot may be used up to and including its expiry date."""
    if used_on <= expires_on:
        return Decision.ok(Rule.LOT_EXPIRED)
    return Decision.refuse(Rule.LOT_EXPIRED, f"Lot {lot_number} expired on {day_text(expires_on)}.")
