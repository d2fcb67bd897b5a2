"""Who did it. Services take an `actor`: a staff user, an API key's principal
(integrations.authentication.IntegrationUser), the patient themself
(PatientActor), or None for the system itself (beat, migrations). Every door
passes the person or key it acts for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias
from uuid import UUID

from django.contrib.auth.models import User

# A staff user, an IntegrationUser (an API key), a PatientActor, or None (the system).
Actor: TypeAlias = Any

SYSTEM = "system"


@dataclass(frozen=True)
class PatientActor:
    """The patient themself, through a door that proved who they are without a login.

    `door` names it for the audit trail: "aftercare page" (a signed link sent
    to them), "SMS reply" (a text from the number on their record), "email
    unsubscribe" (the one-click link of an email to them). A patient holds no
    staff permission: services that check one refuse them.
    """

    patient_id: UUID
    door: str
    is_authenticated: ClassVar[bool] = True

    def get_username(self) -> str:
        return f"patient:{self.door}"


def staff_user(actor: Any) -> User | None:
    """The actor as a user row to store in a foreign key, or None (system or integration)."""
    # User is settings.AUTH_USER_MODEL, what the foreign keys point to.
    if isinstance(actor, User) and actor.is_authenticated:
        return actor
    return None


def actor_label(actor: Any) -> str:
    """How the audit trail names `actor`: a username, `integration:<key name>`, or `system`."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return SYSTEM
    return str(actor.get_username())[:150]


def is_integration(actor: Any) -> bool:
    """Whether `actor` is booking software acting through an API key (authenticated, not a user row)."""
    return (
        actor is not None and getattr(actor, "is_authenticated", False) and not isinstance(actor, (User, PatientActor))
    )


def is_patient(actor: Any) -> bool:
    """Whether `actor` is the patient themself (a PatientActor)."""
    return isinstance(actor, PatientActor)
