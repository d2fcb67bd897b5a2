"""What aftercare tells the apps above it (integrations, for webhooks).

Like treatments.events: announced by the service that decided it, inside
its transaction; subscribers register in their `AppConfig.ready()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from aftercare.models import SideEffectReport
from clinic import events


@dataclass(frozen=True)
class FollowupDue:
    """A course's next session (or maintenance) has become due and nothing is booked.

    `fact` names what fell due (the session it follows, the maintenance date):
    the same fact may be announced by every beat run, and must be acted on once.
    """

    course_id: UUID
    fact: str


@dataclass(frozen=True)
class RedFlagRaised:
    """A side-effect report named a red-flag symptom."""

    report: SideEffectReport


def announce_followup_due(*, course_id: UUID, fact: str) -> None:
    events.announce(FollowupDue(course_id=course_id, fact=fact))


def announce_red_flag(*, report: SideEffectReport) -> None:
    events.announce(RedFlagRaised(report=report))
