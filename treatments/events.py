"""What treatments tells the rest of the clinic: the one outward door.

Every service that changes a session (or cancels a course) ends by calling
`announce_session_change` (or `announce_course_cancelled`), inside its
transaction. The door first stores the course's follow-up state
(treatments.followup.followup_store), in that same transaction, so the
state the worklist reads commits or rolls back with the change, and every
subscriber reads it current. The event carries that state and the course's
sessions as the change left them, so a subscriber reads neither again (a
service that read the sessions for its rules hands them to the door, which
then reads nothing). Treatments imports nothing above it; the apps that
react subscribe in their `AppConfig.ready()`:

- aftercare: writes, cancels or re-times the patient's messages
  (aftercare.reactions);
- integrations: writes a webhook delivery per subscription
  (integrations.reactions).

`clinic.events.subscribers(SessionChanged)` lists them, in calling order
(tests/test_architecture.py checks the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone

from clinic import events
from treatments.followup import FollowUp, followup_store, sessions_of_course
from treatments.models import Course, Session


class SessionChange(StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"


@dataclass(frozen=True)
class SessionChanged:
    """`session` (as saved, with its course loaded) was booked, moved, cancelled, missed or completed.

    `followup` is the course's follow-up state as stored after the change;
    `course_sessions` every session of the course as the change left it
    (`session` among them).
    """

    change: SessionChange
    session: Session
    actor: Any
    followup: FollowUp
    course_sessions: tuple[Session, ...]
    occurred_at: datetime = field(default_factory=timezone.now)


@dataclass(frozen=True)
class CourseCancelled:
    """`course` was cancelled, and with it `cancelled_sessions` (those still booked)."""

    course: Course
    cancelled_sessions: tuple[Session, ...]
    actor: Any
    occurred_at: datetime = field(default_factory=timezone.now)


def announce_session_change(
    *, session: Session, change: SessionChange, actor: Any, sessions_now: Sequence[Session] | None = None
) -> None:
    """Store the course's follow-up state and tell the subscribers, inside the caller's transaction.

    `session.course` is the course as the change left it (locked by the
    service, with its protocol, location and patient). `sessions_now`: every
    session of the course as the change left it, when the service holds them
    already (read under the course's lock, `session` as saved among them);
    otherwise they are read here.
    """
    sessions = tuple(sessions_now) if sessions_now is not None else tuple(sessions_of_course(session.course))
    followup = followup_store(session.course, sessions)
    events.announce(
        SessionChanged(change=change, session=session, actor=actor, followup=followup, course_sessions=sessions)
    )


def announce_course_cancelled(
    *, course: Course, cancelled_sessions: tuple[Session, ...], actor: Any, occurred_at: datetime
) -> None:
    followup_store(course, sessions_of_course(course))
    events.announce(
        CourseCancelled(course=course, cancelled_sessions=cancelled_sessions, actor=actor, occurred_at=occurred_at)
    )
