"""What treatments tells the rest of the clinic: the one outward door.

Every service that changes a session (or cancels a course) ends by calling
`announce_session_change` (or `announce_course_cancelled`), inside its
transaction. The door first stores the course's follow-up state
(treatments.followup.followup_refresh), in that same transaction, so the
state the worklist reads commits or rolls back with the change, and every
subscriber reads it current. Treatments imports nothing above it; the apps
that react subscribe in their `AppConfig.ready()`:

- aftercare: writes, cancels or re-times the patient's messages
  (aftercare.reactions);
- integrations: writes a webhook delivery per subscription
  (integrations.reactions).

`clinic.events.subscribers(SessionChanged)` lists them, in calling order
(tests/test_architecture.py checks the list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone

from clinic import events
from treatments.followup import followup_refresh
from treatments.models import Course, Session


class SessionChange(StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"


@dataclass(frozen=True)
class SessionChanged:
    """`session` (as saved, with its course loaded) was booked, moved, cancelled, missed or completed."""

    change: SessionChange
    session: Session
    actor: Any
    occurred_at: datetime = field(default_factory=timezone.now)


@dataclass(frozen=True)
class CourseCancelled:
    """`course` was cancelled, and with it `cancelled_sessions` (those still booked)."""

    course: Course
    cancelled_sessions: tuple[Session, ...]
    actor: Any
    occurred_at: datetime = field(default_factory=timezone.now)


def announce_session_change(*, session: Session, change: SessionChange, actor: Any) -> None:
    followup_refresh([session.course_id])
    events.announce(SessionChanged(change=change, session=session, actor=actor))


def announce_course_cancelled(
    *, course: Course, cancelled_sessions: tuple[Session, ...], actor: Any, occurred_at: datetime
) -> None:
    followup_refresh([course.pk])
    events.announce(
        CourseCancelled(course=course, cancelled_sessions=cancelled_sessions, actor=actor, occurred_at=occurred_at)
    )
